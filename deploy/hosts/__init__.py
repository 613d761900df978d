"""Hosts and what runs on them: the SSH adapter, every remote command, the journal and release listing.

- ``bluegreen``    blue/green's host layout and the commands it runs (pure)
- ``bookkeeping``  the last exec per host: journal line, cleanup and retention
- ``chain``        several steps in one SSH session, each with its own status and timeout (pure)
- ``chained``      runs a chain of steps over one session and reports each step
- ``connector``    the Connector / HostConnection / StepResult ports the runner drives
- ``framing``      markers around sections of a host's output no input can contain (pure)
- ``guarded``      host commands deciding from where ``current`` points; the first exec
- ``journal``      the per-host journal lines and the rollback target (pure)
- ``listing``      a host's release listing, however long its past (pure)
- ``probe``        the one probe of a host, by every run and by ``status`` (pure)
- ``remote``       builders for every command shipbot runs on a host (pure)
- ``retention``    which releases to delete (pure)
- ``secret_input`` a run's secrets fed to the commands that read them on stdin
- ``ssh``          the asyncssh adapter: one connection per host per run, bounded handshakes
- ``ssh_identity`` the SSH key file a config names, checked without asyncssh
"""
