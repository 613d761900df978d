"""The previews that exist, kept in the store so that a restart keeps them and their time to live still runs out.

One row per preview in the table ``previews``::

    app, name     TEXT     the app and the preview's name (primary key)
    branch        TEXT     the branch it shows (one preview per branch and app)
    sha           TEXT     the commit it runs ('' while the first one is being made)
    port          INTEGER  the port its app listens on, kept across updates (one preview per port)
    hosts         TEXT     the hosts it is on, comma separated
    state         TEXT     ``creating`` (the first release is on its way), ``live``, or ``broken`` (an update
                           failed and switching back failed too: the next push rebuilds it from scratch)
    pusher        TEXT     who pushed or asked last
    created_at    REAL     when it was first asked for (the database's clock, as every time here)
    updated_at    REAL     its last push: the time to live counts from here

Taking a port is one ``INSERT``: the unique index on ``port`` makes two previews asked for at once get different
ports (the loser of a race sees :meth:`PreviewTable.reserve` answer False and picks again). The SQL is plain (no
SQLite-only syntax), and runs on SQLite and PostgreSQL alike. Who may change a preview is decided by its lease
(:func:`deploy.store.leases.preview_key`, in the ``leases`` table), held by :mod:`deploy.previews.preview_lease`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from deploy.store.statements import Executor, IntegrityError

if TYPE_CHECKING:
    from deploy.store.database import Database

CREATING, LIVE, BROKEN = "creating", "live", "broken"


class PreviewNotices(Protocol):
    """Where a preview's life is told (:class:`deploy.notify.outbox.Outbox`), in the caller's transaction."""

    def add_for_preview(self, tx: Executor, type_: str, app: str, name: str, **fields: Any) -> int: ...


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

    def __init__(self, db: Database, outbox: PreviewNotices | None = None) -> None:
        self.outbox = outbox  # told of each preview made, updated or removed (deploy.notify.outbox)
        self._db = db

    @property
    def db(self) -> Database:
        return self._db

    @classmethod
    def open(cls, url: str = "sqlite://") -> PreviewTable:
        """Its own database at ``url`` (the default: a private one in memory), migrated."""
        from deploy.store.database import Database  # noqa: PLC0415 (SQLAlchemy: only when a store opens)

        return cls(Database.open(url))

    def reserve(self, app: str, name: str, branch: str, port: int, hosts: list[str], pusher: str) -> bool:
        """A new preview in state ``creating`` holding ``port``; False when the name, branch or port is taken."""
        now = self._db.now
        try:
            self._db.execute(
                f"INSERT INTO previews ({_COLUMNS}) VALUES (?, ?, ?, '', ?, ?, ?, ?, {now}, {now})",
                (app, name, branch, port, ",".join(hosts), CREATING, pusher),
            )
        except IntegrityError:
            return False
        return True

    def live(self, app: str, name: str, sha: str, pusher: str) -> None:
        """The preview now runs ``sha``: a push just happened, so its time to live starts again. The sinks are
        told (``preview.created`` the first time, ``preview.updated`` after) in the same transaction."""
        with self._db.transaction() as tx:
            row = tx.execute("SELECT sha, branch FROM previews WHERE app = ? AND name = ?", (app, name)).fetchone()
            tx.execute(
                f"UPDATE previews SET sha = ?, state = ?, pusher = ?, updated_at = {tx.now} WHERE app = ? AND name = ?",
                (sha, LIVE, pusher, app, name),
            )
            if row is not None and self.outbox is not None:
                kind = "preview.updated" if row[0] else "preview.created"
                self.outbox.add_for_preview(tx, kind, app, name, sha=sha, ref=str(row[1]), user=pusher)

    def broken(self, app: str, name: str, pusher: str) -> None:
        """An update failed and its hosts could not be put back: the next push rebuilds it from scratch."""
        self._db.execute(
            f"UPDATE previews SET state = ?, pusher = ?, updated_at = {self._db.now} WHERE app = ? AND name = ?",
            (BROKEN, pusher, app, name),
        )

    def remove(self, app: str, name: str) -> bool:
        with self._db.transaction() as tx:
            row = tx.execute("SELECT sha, branch FROM previews WHERE app = ? AND name = ?", (app, name)).fetchone()
            gone = tx.execute("DELETE FROM previews WHERE app = ? AND name = ?", (app, name)).rowcount == 1
            if gone and row is not None and self.outbox is not None:
                self.outbox.add_for_preview(tx, "preview.removed", app, name, sha=str(row[0]) or None, ref=str(row[1]))
        return gone

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

    def due(self, app: str, older_than: float | None = None, *, ttl: float = 0.0) -> list[PreviewRow]:
        """Previews of ``app`` whose last push was before ``older_than``, or, without it, more than ``ttl``
        seconds ago by the database's clock (their time to live ran out)."""
        when, args = ("?", (older_than,)) if older_than is not None else (f"{self._db.now} - ?", (ttl,))
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM previews WHERE app = ? AND updated_at <= {when} ORDER BY updated_at",
            (app, *args),
        ).fetchall()
        return [_row(r) for r in rows]
