"""shipbot's deploy engine: one pinned commit onto a whole fleet over SSH, or nothing changes.

Layout (pure modules first, I/O at the edges):

- ``config``      the YAML config file as pydantic models; errors name file, key path and expectation
- ``refs``        git ref-format validation (pure)
- ``durations``   "30s" / "5m" / "1h" parsing (pure)
- ``plan``        per host, the steps of a deploy as shell command strings and timeouts (pure)
- ``remote``      builders for every remote command (pure, quoted with shlex)
- ``journal``     the per-host journal line format and the rollback target choice (pure)
- ``retention``   which releases to delete (pure)
- ``events``      typed progress events the chat side renders
- ``errors``      the engine's error tree
- ``ssh``         the asyncssh adapter: one connection per host per run, bounded handshakes
- ``mirror``      the controller's local git mirror: resolve a ref to a SHA once, make the archive once
- ``store``       the embedded SQLite store: runs, host results, locks, dedupe keys
- ``runner``      executes a plan over SSH: prepare everywhere, switch everywhere, revert on failure
- ``engine``      the facade the CLI and the chat side call: deploy, rollback, status, task, history
"""
