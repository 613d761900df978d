"""The HTTP adapter for pushes: ``POST /webhooks/github``, ``/webhooks/gitlab`` and ``/webhooks/gitea``.

``signatures`` (each provider's check, constant time), ``payloads`` (a provider's JSON into a typed
:class:`commands.pushes.Push`, pure) and ``server`` (the aiohttp handlers and their HTTP answers). What a push
means is decided in :mod:`commands.usecases.pushes`; this package never imports the Slack adapter.
"""
