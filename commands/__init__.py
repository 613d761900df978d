"""shipbot's chat side without Slack: text in, a typed command or a helpful error out; a person and a command
in, allow or deny with a reason out; and the use cases that turn an allowed command into calls on the engine.

Layout (pure modules first; nothing here imports Slack or aiohttp):

- ``tokens``         Slack message text -> plain words (bot mention, ``/deploy``, markup refused, escapes)
- ``suggest``        "did you mean" distances and safe echoing of user text
- ``command``        the commands as frozen dataclasses carrying only validated text
- ``vocabulary``     what the grammar knows from the configs: apps, environments, aliases, tasks, roles, hosts
- ``help_text``      every command's syntax and summary, for help and hints
- ``grammar/``       ``parse(text, context, slash=False) -> Command``; raises only ``errors.CommandError`` (one
                     module per family of words: dispatch, deploys, tasks, control, reads; places and checks
                     they share); hubot-deploy's phrases are aliases of the same commands
- ``access_config``  the ``access:`` config section as pydantic models (admins, groups, environments, freeze)
- ``freeze``         freeze windows on a timezone's wall clock, and when they end
- ``identity``       an actor is a Slack user ID plus resolved groups; never a display name
- ``policy``         ``decide(...) -> Decision``: allowed, reason, overrides, approval, queue, force
- ``clock``          epoch-seconds clock and how times are written
- ``runs``           a run request as the chat side tracks it; run ids
- ``request_rows``   a waiting request as its store row's payload, and back
- ``approvals``      deploys waiting for a second person (rows in the store)
- ``run_queue``      deploys waiting for a busy environment (rows in the store)
- ``supervisor``     owns every run task: start, cancel, drain, shutdown
- ``ports``          the engine, store, group and reporter interfaces, and the notices sent to the reporter
- ``replies``        the typed replies the bot renders
- ``reply_texts``    every sentence the use cases say: refusals, dropped requests, the rollback lock's reason
- ``usecases/``      ``ChatService``, a facade over one small service per concern (requests, admission,
                     approvals, queue, locks, cancels, reads, run execution, audit): drive the engine
- ``parse_report``   the ``shipbot parse --json`` dict
"""
