"""A run: its plan, the engine facade, the runner and its step sets, strategies, batches, and repair.

- ``batches``       batch ramps and pauses of rolling and blue/green deploys (pure)
- ``colour_repair`` repair's blue/green part: colour, upstream and labels back
- ``colours``       blue/green's step set: stage the idle colour, move traffic, swap back
- ``control_watch`` the lease holder's side of control requests, and hand-over
- ``dry_run``       what a deploy would do, from its plan and what the hosts run now (pure)
- ``engine``        the facade the CLI and the chat side call: deploy, rollback, status, task, ...
- ``fanout``        one coroutine per host, every one waited for
- ``hostrun``       what a run knows about one host while it runs
- ``plan``          per host, the steps of a run and their timeouts, before any connection (pure)
- ``repair``        finishing a run whose controller died, from what it wrote down
- ``runner``        the one runner: prepare, migrate, batches as the strategy says, undo on failure
- ``sharing``       what an engine does for runs shared with other processes on one store
- ``steps``         runs and reports every step of a run on its hosts
- ``strategies``    which hosts switch when, and the failure budget (pure)
- ``switching``     how a batch goes live: the step-set interface and the Capistrano switch
"""
