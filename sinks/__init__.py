"""The outbound adapters: what the outbox (:mod:`deploy.notify.outbox`) holds, delivered to the sinks people look at
besides Slack, over aiohttp or an IRC connection.

::

    sinks.sender     claims due rows through the store's door, sends each, records the outcome (the loop)
    sinks.attempts   what one attempt came to (Delivered, Retry, Refused) and how HTTP answers map to it
    sinks.webhook    Standard Webhooks: JSON body, webhook-id / webhook-timestamp / webhook-signature
    sinks.teams      Microsoft Teams Workflows webhook: an Adaptive Card per event
    sinks.irc        one short IRC session per line: PASS, NICK (a suffix when taken), USER, JOIN, PRIVMSG, QUIT
    sinks.github     GitHub deployments and deployment statuses (REST API, aiohttp), also of deployments it did not make
    sinks.gitlab     GitLab deployments (REST API, aiohttp)

Secrets are read from the controller's environment at the moment of sending (the variables the config names),
never written to the outbox, a log line or an error text.
"""
