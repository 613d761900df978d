"""What a read-only command must leave as it found: every host's tree and every table of the store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from tests.support.sshd_fleet import SshdFleet


def host_trees(fleet: SshdFleet) -> list[tuple[list[tuple[str, int]], str | None]]:
    """Per host: every path under its deploy_to (with file sizes) and where ``current`` points."""
    out = []
    for host in fleet.hosts:
        root = host.local_deploy_to
        files = sorted(
            (str(p.relative_to(root)), p.stat().st_size if p.is_file() and not p.is_symlink() else -1)
            for p in root.rglob("*")
        )
        current = root / "current"
        out.append((files, os.readlink(current) if current.is_symlink() else None))
    return out


def store_tables(data_dir: Path, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store (runs, active run slots, audit, leases, waiting requests, ...) but
    those in ``skip`` (such as the store's ``inbox``, which remembers every request the bot took)."""
    path = data_dir / "shipbot.sqlite3"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {
            name: sorted(db.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
            if name not in skip
        }
    finally:
        db.close()
