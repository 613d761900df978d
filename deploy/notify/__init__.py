"""Telling the world: the outbox every sink is fed from, the sinks' config, forge deployments.

- ``event_documents`` the documents sinks receive for each event (pure)
- ``forge_config``    the ``deployments:`` section: GitHub or GitLab deployments
- ``forge_runs``      which run a forge's deployment started, and the statuses told
- ``freeze_marks``    the freeze windows' beginnings and ends told to the sinks, each once (a table)
- ``outbox``          the durable outbox: events for every sink, claimed and retried by the store
- ``sink_config``     the ``notify:`` entries: Slack, webhooks, Teams, IRC
"""
