"""The config file (``shipbot.yml``): its models, its sections, and the values operators write.

- ``durations``       "30s" / "5m" / "1h30m" parsed and shown back (pure)
- ``models``          the config file as pydantic models; errors name file, key path, expectation
- ``preview_section`` the ``previews`` section
- ``sections``        pipeline, timeouts, ssh, hosts, blue/green, environments
- ``tasks``           the ``shared`` and ``tasks`` sections
"""
