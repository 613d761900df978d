"""The HTTP adapter for pushes: ``POST /webhooks/github``, ``/webhooks/gitlab`` and ``/webhooks/gitea``; and for
GitHub's deployments: their ``deployment`` events (``deployment_payload``, ``deployment_events``); their statuses
go back through the durable outbox (:mod:`sinks.github`).

``signatures`` (each provider's check, constant time), ``payloads`` (a provider's JSON into a typed
:class:`commands.push_rules.Push`, pure) and ``server`` (the aiohttp handlers and their HTTP answers). What a push
means is decided in :mod:`commands.usecases.push_intake`; this package never imports the Slack adapter.
"""
