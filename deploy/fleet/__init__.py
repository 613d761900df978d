"""Which hosts an environment has: static and discovered, what each runs, and converging the ones behind.

- ``converge``  ``converge``: the live release onto exactly the hosts behind it
- ``discovery`` the I/O behind ``discover:`` (DNS SRV and A lookups)
- ``drift``     which hosts are behind the live release, and the rollback target (pure)
- ``fleet_log`` the hosts each run covered, as discovery resolved them (a table)
- ``inventory`` discovered hosts turned into the environment's host list (pure)
- ``members``   an environment's hosts as runs see them: static plus discovered
- ``status``    what an environment runs, read from its hosts
"""
