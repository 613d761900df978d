"""Capistrano's past on hosts: its revisions.log, its history as entries, the table keeping it.

- ``cap_entries``   Capistrano's lines as ``history`` entries, the timeline (pure)
- ``cap_history``   the store's table of the Capistrano lines read from hosts
- ``revisions_log`` Capistrano's revisions.log: line formats, its read (pure)
"""
