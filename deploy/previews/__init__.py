"""Previews per branch: their names and nginx blocks, who may change one, the table, the runner.

- ``layout``         a branch's preview name, its port, its nginx block, its host (pure)
- ``preview_lease``  who may change a preview: one lease per (app, branch)
- ``preview_runner`` makes, updates and removes previews on their hosts
- ``preview_table``  the previews that exist, kept in the store
"""
