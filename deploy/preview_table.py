"""The previews that exist, kept in the store so that a restart keeps them and their time to live still runs out.

One row per preview in the table ``previews``::

    app, name     TEXT     the app and the preview's name (primary key)
    branch        TEXT     the branch it shows (one preview per branch and app)
    sha           TEXT     the commit it runs ('' while the first one is being made)
    port          INTEGER  the port its app listens on, kept across updates (one preview per port)
    hosts         TEXT     the hosts it is on, comma separated
    state         TEXT     ``creating`` (the first release is on its way) or ``live``
    pusher        TEXT     who pushed or asked last
    created_at    REAL     when it was first asked for
    updated_at    REAL     its last push: the time to live counts from here

Taking a port is one ``INSERT``: the unique index on ``port`` makes two previews asked for at once get different
ports (the loser of a race sees :meth:`PreviewTable.reserve` answer False and picks again). The SQL is plain (no
SQLite-only syntax), and runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from deploy.database import Database, Executor, IntegrityError

CREATING, LIVE = "creating", "live"
_COLUMNS = "app, name, branch, sha, port, hosts, state, pusher, created_at, updated_at"


@dataclass(frozen=True)
class PreviewRow:
    app: str
    name: str
    branch: str
    sha: str
    port: int
    hosts: tuple[str, ...]
    state: str
    pusher: str
    created_at: float
    updated_at: float


def _row(values: tuple[object, ...]) -> PreviewRow:
    app, name, branch, sha, port, hosts, state, pusher, created, updated = values
    return PreviewRow(
        str(app), str(name), str(branch), str(sha), int(str(port)), tuple(h for h in str(hosts).split(",") if h),
        str(state), str(pusher), float(str(created)), float(str(updated)),
    )  # fmt: skip


class PreviewTable:
    """The rows of ``previews`` in the store's database (migration ``0002``)."""

    def __init__(self, db: Executor) -> None:
        self._db = db

    @classmethod
    def open(cls, url: str = "sqlite://") -> PreviewTable:
        """Its own database at ``url`` (the default: a private one in memory), migrated."""
        return cls(Database.open(url))

    def reserve(self, app: str, name: str, branch: str, port: int, hosts: list[str], pusher: str) -> bool:
        """A new preview in state ``creating`` holding ``port``; False when the name, branch or port is taken."""
        now = time.time()
        try:
            self._db.execute(
                f"INSERT INTO previews ({_COLUMNS}) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?)",
                (app, name, branch, port, ",".join(hosts), CREATING, pusher, now, now),
            )
        except IntegrityError:
            return False
        return True

    def live(self, app: str, name: str, sha: str, pusher: str) -> None:
        """The preview now runs ``sha``: a push just happened, so its time to live starts again."""
        self._db.execute(
            "UPDATE previews SET sha = ?, state = ?, pusher = ?, updated_at = ? WHERE app = ? AND name = ?",
            (sha, LIVE, pusher, time.time(), app, name),
        )

    def remove(self, app: str, name: str) -> bool:
        return self._db.execute("DELETE FROM previews WHERE app = ? AND name = ?", (app, name)).rowcount == 1

    def by_branch(self, app: str, branch: str) -> PreviewRow | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM previews WHERE app = ? AND branch = ?", (app, branch)
        ).fetchone()
        return _row(row) if row else None

    def of_app(self, app: str | None = None) -> list[PreviewRow]:
        """Every preview (of ``app``), oldest first."""
        where, params = ("WHERE app = ?", (app,)) if app is not None else ("", ())
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM previews {where} ORDER BY created_at, app, name", params
        ).fetchall()
        return [_row(r) for r in rows]

    def ports(self) -> set[int]:
        """Every port a preview holds, of any app."""
        return {int(p) for (p,) in self._db.execute("SELECT port FROM previews").fetchall()}

    def due(self, app: str, older_than: float) -> list[PreviewRow]:
        """Previews of ``app`` whose last push was before ``older_than`` (their time to live ran out)."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM previews WHERE app = ? AND updated_at <= ? ORDER BY updated_at", (app, older_than)
        ).fetchall()
        return [_row(r) for r in rows]
