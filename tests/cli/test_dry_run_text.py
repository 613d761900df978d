"""A dry run printed on a terminal shows commit authors and subjects as data: an escape sequence or a newline in a
name is shown escaped, never sent to the terminal."""

from __future__ import annotations

from cli.dry_runs import text
from deploy.records import Commit, Shipment
from deploy.run.dry_run import DryRun

SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


def test_authors_and_subjects_reach_the_terminal_as_data() -> None:
    evil = Commit(SHA, "\x1b]0;pwned\x07Mallory", "fix\r\x1b[2Kall good\nREFUSED: nothing")
    dry = DryRun("shop", "staging", "main", SHA, Shipment("a" * 40, SHA, (evil,)), None, ())
    shown = text(dry)
    assert "\x1b" not in shown and "\r" not in shown and "\x07" not in shown
    assert "    6113728 fix\\r\\x1b[2Kall good\\nREFUSED: nothing (\\x1b]0;pwned\\x07Mallory)" in shown.splitlines()
