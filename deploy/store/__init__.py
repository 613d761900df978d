"""The store: the database behind every table, its schema, its async door, and the ports other layers use.

- ``clock``            the database's time for decisions made in Python
- ``control_requests`` Cancel, Continue and Abort for a run another process holds
- ``database``         the SQLAlchemy Core facade every table's SQL goes through
- ``door``             the async door: statements awaited on the store's own threads
- ``fakes``            in-memory fakes of the ports, for the use cases' unit tests
- ``fencing``          a run's writes, each conditional on holding its lease at its generation
- ``inbox``            what Slack and the forges sent, written before it is acknowledged
- ``intents``          the run ledger: hosts, write-ahead switch intents, process groups, waits
- ``leases``           a run's lease: owner, heartbeat, expiry by the store's clock, generation
- ``ports``            the async ports the use cases, the bot and the webhooks see the store through
- ``presence``         which bot processes serve from this store now
- ``push_table``       ``PushTable``: deliveries taken, one auto-deploy per commit, parked pushes
- ``statements``       what every table's SQL is written against (Executor, Rows, errors), and a SQLite file read
                       through ``sqlite3`` without SQLAlchemy (``shipbot history``)
- ``tables``           ``Store``: runs, host results, run slots, locks, audit, and the tables it holds
- ``waiting``          requests that wait (approvals, the queue), moved by compare-and-set
- ``migrations``       the schema as Alembic revisions (``versions/``)
"""
