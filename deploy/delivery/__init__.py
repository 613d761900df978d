"""What is delivered: the local mirror of the app's repository, refs, commits and the promotion order.

- ``compare``   the web page comparing two commits, when the repository's host has one
- ``foresight`` a deploy before it runs: what it ships, promotion, its dry run
- ``mirror``    the controller's git mirror: a ref resolved once, the archive made once
- ``promotion`` the promotion order between environments (pure)
- ``refs``      git ref-format validation (pure)
"""
