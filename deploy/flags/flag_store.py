"""Feature flags in the store: the source of truth the flagd files on the hosts are written from.

Tables (migration 0008): ``flags`` holds one row per (app, environment, flag) with its current definition
(:class:`deploy.flags.flag_defs.FlagDef` as JSON) and who changed it last; ``flag_history`` keeps every change, never
updated or deleted (who, when, the definition before and after, ``chat`` or ``cli``, why, forced); ``flag_sets``
counts each (app, environment)'s version, the ``metadata.version`` of its file.

A change (:meth:`FlagStore.change`) is one transaction: the set's version moves first (an upsert on its key, which
on PostgreSQL holds the row until the commit, so two changes in one environment are serialised), then the flag's
definition is read again and the change computed from it, so two people changing one flag never lose a change.
The same transaction writes the ``flag.changed`` event (:func:`flag_event`) to the outbox for the environment's
sinks other than Slack and the forges (webhook, Teams, IRC), and, for a change whose Slack channels are to hear of it
through the outbox (one made on the command line, which has no Slack connection), a row per channel that a running
bot's sender posts (sink ``slack``): a change that is recorded is announced, one that is not, is not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deploy.flags.flag_defs import FlagDef, parse_percent, percent_text
from deploy.notify.event_documents import document
from deploy.notify.outbox import Outbox, Route

if TYPE_CHECKING:
    from deploy.store.database import Database, Transaction


@dataclass(frozen=True)
class FlagRow:
    app: str
    environment: str
    flag: str
    definition: FlagDef
    changed_by: str
    changed_at: float
    version: int


@dataclass(frozen=True)
class FlagChange:
    """One line of a flag's history."""

    app: str
    environment: str
    flag: str
    version: int
    actor: str
    at: float
    source: str  # chat | cli
    action: str  # on, off, ramp, allow, drop, revert
    before: FlagDef | None  # None: the flag did not exist
    after: FlagDef
    reason: str = ""
    forced: bool = False


@dataclass(frozen=True)
class FlagSet:
    """An environment's flags and the version of the set they make."""

    version: int
    flags: dict[str, FlagDef]


Compute = Callable[[FlagDef | None], FlagDef]
_HISTORY = "app, environment, flag, version, actor, at, source, action, before, after, reason, forced"
SLACK = "slack"  # the outbox's sink for a Slack channel, delivered by a running bot (never by the command line)
_NOT_TOLD = ("github", "gitlab")  # the forges record deployments: a flag change is none


def definition_fields(flag: FlagDef) -> dict[str, Any]:
    """A definition in an event: ``{"state": "10%", "percent": "10%", "allow": [...]}``."""
    return {"state": flag.describe(), "percent": percent_text(flag.tenths), "allow": list(flag.allow)}


def definition_of(fields: dict[str, Any]) -> FlagDef:
    """The definition an event's ``before`` or ``after`` holds (:func:`definition_fields`, back)."""
    return FlagDef(parse_percent(str(fields["percent"])) or 0, tuple(str(k) for k in fields.get("allow", ())))


def flag_event(change: FlagChange) -> dict[str, Any]:
    """The ``flag.changed`` event of ``change`` (``docs/events.schema.json``)."""
    return document(
        "flag.changed", change.at, app=change.app, environment=change.environment, user=change.actor,
        flag=change.flag, action=change.action, source=change.source, forced=change.forced,
        before=definition_fields(change.before) if change.before is not None else None,
        after=definition_fields(change.after), flag_version=change.version, reason=change.reason or None,
    )  # fmt: skip


class FlagStore:
    def __init__(self, db: Database, outbox: Outbox | None = None) -> None:
        """``outbox``: where each change's event is written, in the change's transaction (none: not told)."""
        self._db = db
        self._outbox = outbox

    def flag_set(self, app: str, environment: str) -> FlagSet:
        row = self._db.execute(
            "SELECT version FROM flag_sets WHERE app = ? AND environment = ?", (app, environment)
        ).fetchone()
        flags = {r.flag: r.definition for r in self.rows(app, environment)}
        return FlagSet(int(row[0]) if row else 0, flags)

    def rows(self, app: str, environment: str | None = None, flag: str | None = None) -> list[FlagRow]:
        where, params = ["app = ?"], [app]
        if environment is not None:
            where.append("environment = ?")
            params.append(environment)
        if flag is not None:
            where.append("flag = ?")
            params.append(flag)
        found = self._db.execute(
            "SELECT app, environment, flag, definition, changed_by, changed_at, version FROM flags "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY flag, environment",  # (fixed conditions; values bound)
            tuple(params),
        ).fetchall()
        return [FlagRow(r[0], r[1], r[2], FlagDef.from_json(r[3]), r[4], float(r[5]), int(r[6])) for r in found]

    def names(self, app: str) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT flag FROM flags WHERE app = ? ORDER BY flag", (app,)).fetchall()
        return [str(r[0]) for r in rows]

    def history(self, app: str, flag: str, environment: str | None = None, limit: int = 20) -> list[FlagChange]:
        where = "app = ? AND flag = ?" + (" AND environment = ?" if environment is not None else "")
        params = (app, flag) + ((environment,) if environment is not None else ())
        found = self._db.execute(
            f"SELECT {_HISTORY} FROM flag_history WHERE {where} ORDER BY at DESC, version DESC LIMIT {int(limit)}",  # noqa: S608
            params,
        ).fetchall()
        return [_change(r) for r in found]

    def highest(self, app: str, environment: str, flag: str) -> FlagDef | None:
        """The most the flag was ever exposed in ``environment``: its highest ramp and every key it was on for."""
        found = self._db.execute(
            "SELECT after FROM flag_history WHERE app = ? AND environment = ? AND flag = ?", (app, environment, flag)
        ).fetchall()
        if not found:
            return None
        defs = [FlagDef.from_json(r[0]) for r in found]
        keys = sorted({k for d in defs for k in d.allow})
        return FlagDef(max(d.tenths for d in defs), tuple(keys))

    def change(
        self,
        app: str,
        environment: str,
        flag: str,
        compute: Compute,
        *,
        actor: str,
        source: str,
        action: str,
        reason: str = "",
        forced: bool = False,
        slack: tuple[str, ...] = (),
    ) -> tuple[FlagChange, FlagSet]:
        """Apply ``compute`` (the flag's current definition, ``None`` when new, to the new one) and record it; the
        change and the environment's whole set after it. ``compute`` may raise to refuse: nothing is written.
        ``slack``: the Slack channels a running bot is to tell of it (through the outbox)."""
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO flag_sets (app, environment, version) VALUES (?, ?, 1) "
                "ON CONFLICT (app, environment) DO UPDATE SET version = flag_sets.version + 1",
                (app, environment),
            )
            version = int(
                _one(tx, "SELECT version FROM flag_sets WHERE app = ? AND environment = ?", (app, environment))
            )
            row = tx.execute(
                "SELECT definition FROM flags WHERE app = ? AND environment = ? AND flag = ?",
                (app, environment, flag),
            ).fetchone()
            before = FlagDef.from_json(row[0]) if row else None
            after = compute(before)
            now = float(_one(tx, f"SELECT {self._db.now}", ()))
            tx.execute(
                "INSERT INTO flags (app, environment, flag, definition, changed_by, changed_at, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, environment, flag) DO UPDATE SET "
                "definition = excluded.definition, changed_by = excluded.changed_by, "
                "changed_at = excluded.changed_at, version = excluded.version",
                (app, environment, flag, after.as_json(), actor, now, version),
            )
            tx.execute(
                f"INSERT INTO flag_history ({_HISTORY}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    app, environment, flag, version, actor, now, source, action,
                    before.as_json() if before else None, after.as_json(), reason, int(forced),
                ),
            )  # fmt: skip
            flags = _set(tx, app, environment)
            change = FlagChange(
                app, environment, flag, version, actor, now, source, action, before, after, reason, forced
            )
            if self._outbox is not None:
                event = flag_event(change)
                routes = [r for r in self._outbox.routed(app, environment) if r.sink not in _NOT_TOLD]
                routes += [Route(SLACK, {"channel": channel}) for channel in slack]
                self._outbox.add(tx, event, routes)
        return change, FlagSet(version, flags)

    def acknowledged(self, app: str, environment: str) -> dict[str, str]:
        """host -> the sha256 of the file shipbot last wrote there."""
        rows = self._db.execute(
            "SELECT host, sha256 FROM flag_files WHERE app = ? AND environment = ?", (app, environment)
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def acknowledge(self, app: str, environment: str, version: int, written: dict[str, str]) -> None:
        """The hosts that acknowledged the file of ``version`` with its sha256."""
        for host, sha in written.items():
            self._db.execute(
                f"INSERT INTO flag_files (app, environment, host, sha256, version, at) VALUES (?, ?, ?, ?, ?, "  # noqa: S608
                f"{self._db.now}) ON CONFLICT (app, environment, host) DO UPDATE SET sha256 = excluded.sha256, "
                "version = excluded.version, at = excluded.at WHERE flag_files.version <= excluded.version",
                (app, environment, host, sha, version),
            )

    def before_last(self, app: str, environment: str, flag: str) -> FlagDef | None:
        """The definition before the flag's last change (what ``revert`` goes back to); ``None`` without one."""
        found = self._db.execute(
            "SELECT before FROM flag_history WHERE app = ? AND environment = ? AND flag = ? "
            "ORDER BY version DESC LIMIT 1",
            (app, environment, flag),
        ).fetchone()
        if found is None:
            return None
        return FlagDef.from_json(found[0])


def _one(tx: Transaction, sql: str, params: tuple[str, ...]) -> Any:
    row = tx.execute(sql, params).fetchone()
    assert row is not None, sql  # the statement before it wrote the row
    return row[0]


def _set(tx: Transaction, app: str, environment: str) -> dict[str, FlagDef]:
    rows = tx.execute("SELECT flag, definition FROM flags WHERE app = ? AND environment = ?", (app, environment))
    return {str(r[0]): FlagDef.from_json(r[1]) for r in rows.fetchall()}


def _change(r: tuple[object, ...]) -> FlagChange:
    return FlagChange(
        str(r[0]), str(r[1]), str(r[2]), int(str(r[3])), str(r[4]), float(str(r[5])), str(r[6]), str(r[7]),
        FlagDef.from_json(str(r[8])) if r[8] is not None else None, FlagDef.from_json(str(r[9])), str(r[10] or ""),
        bool(r[11]),
    )  # fmt: skip
