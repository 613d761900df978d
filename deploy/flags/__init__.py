"""Feature flags: their definitions in flagd's format, their tables, the file written on every host.

- ``app_flags``  an app's flags: change, list, write after runs; the flag-writing engine
- ``flag_defs``  flag definitions and the flagd document they make (pure)
- ``flag_hosts`` writes an environment's flag file on its hosts and reads back its checksum
- ``flag_store`` the flags' tables: definitions, history, versions, what hosts hold
"""
