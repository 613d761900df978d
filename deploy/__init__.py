"""shipbot's deploy engine: one pinned commit onto a whole fleet over SSH, or nothing changes.

Layout (pure modules first, I/O at the edges):

- ``config``          the YAML config file as pydantic models; errors name file, key path and expectation
- ``config_sections`` the config's sections (pipeline, timeouts, ssh, hosts, blue/green, environments, tasks)
- ``refs``            git ref-format validation (pure)
- ``durations``       "30s" / "5m" / "1h" parsing (pure)
- ``ids``             run ids, release ids and the one time format
- ``batches``         batch ramps and pauses of rolling and blue/green deploys (pure)
- ``plan``            per host, the steps of a deploy as shell command strings and timeouts (pure)
- ``remote``          builders for every remote command, and parsers of the probe and release listing (pure)
- ``bluegreen``       blue/green's host layout, its command builders and its colour probe parser (pure)
- ``probe``           the one probe of a host, run by every run and by ``status`` (pure)
- ``journal``         the per-host journal line format and the rollback target choice (pure)
- ``retention``       which releases to delete (pure)
- ``strategies``      which hosts switch when, and when a run stops on its failure budget (pure)
- ``summary``         the message a run ends with (pure)
- ``events``          typed progress events the chat side renders
- ``records``         what the store keeps and ``status`` returns
- ``errors``          the engine's error tree
- ``ports``           the Connector / HostConnection / StepResult interfaces the runner drives hosts through
- ``ssh``             the asyncssh adapter behind those ports: one connection per host per run, bounded handshakes
- ``mirror``          the controller's local git mirror: resolve a ref to a SHA once, make the archive once
- ``store``           the store: runs, host results, run slots, locks, audit (SQLite file or PostgreSQL)
- ``database``        SQLAlchemy Core facade the store modules write their SQL through; ``migrations/`` the schema
- ``waiting``         requests that wait in the store (approvals, the queue), moved by compare-and-set
- ``leases``          a run's lease: owner, heartbeat, expiry by the store's clock; the owner's guard
- ``intents``         the run ledger: hosts, write-ahead switch intents, remote process groups, waits
- ``guarded``         host commands deciding from where ``current`` points; the first exec's preamble
- ``bookkeeping``     the last exec per host: journal line, cleanup and retention in one
- ``repair``          finishing a run whose controller died: kill leftovers, switch back, restart, record
- ``hostrun``         what a run knows about one host while it runs
- ``steps``           runs and reports every step of a run on its hosts (connect, step, revert, journal, retention)
- ``switching``       how a batch goes live: the step-set interface and the Capistrano switch
- ``colours``         blue/green's step set: stage the idle colour, move traffic, swap back, retire
- ``runner``          the one runner: prepare, migrate, batches as the strategy says, undo on failure
- ``engine``          the facade the CLI and the chat side call: deploy, rollback, status, task, history, recover,
                      resume
"""
