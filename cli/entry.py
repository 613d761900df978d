"""The ``shipbot`` console script: quiet the dependencies' warnings, then hand over to :mod:`cli.main`.

The filters must be in place before any dependency that warns is imported (:mod:`cli.main` imports each command's
modules when that command runs; asyncssh among them for most); this module imports nothing else first.
"""

from __future__ import annotations

from cli.quiet import quiet_dependency_warnings


def main() -> int:
    quiet_dependency_warnings()
    from cli.main import main as shipbot  # noqa: PLC0415 (after the filters, on purpose)

    return shipbot()
