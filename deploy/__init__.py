"""shipbot's deploy engine: one pinned commit onto a whole fleet over SSH, or nothing changes.

Its rooms, then the modules every room uses:

- ``capistrano/`` Capistrano's past on hosts
- ``config/``     the config file (``shipbot.yml``)
- ``delivery/``   what is delivered
- ``flags/``      feature flags
- ``fleet/``      which hosts an environment has
- ``hosts/``      hosts and what runs on them
- ``notify/``     telling the world
- ``previews/``   previews per branch
- ``run/``        a run
- ``store/``      the store
- ``errors``      the engine's error tree
- ``events``      typed progress events the chat side and the CLI render
- ``ids``         run ids, release ids and the one time format
- ``processes``   whether a local process still runs
- ``records``     plain records the engine returns and the store keeps: runs, locks, host status
- ``redact``      secret values out of output before it is stored, logged or shown (pure)
- ``summary``     the one-line messages a run ends with (pure)
"""
