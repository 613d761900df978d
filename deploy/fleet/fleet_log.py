"""The hosts each run covered, as discovery resolved them at its start (address, port, roles, how each was found).

``run_fleet`` lives in the store's database (migration ``0002``): ``history`` shows which hosts a
run covered, and repairing a dead run of an environment whose hosts are discovered uses the hosts that run had.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from deploy.store.statements import Executor


@dataclass(frozen=True)
class FleetHost:
    host: str  # the name reports use (address, or address:port)
    address: str
    port: int
    roles: tuple[str, ...]
    source: str
    alias: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"host": self.host, "address": self.address, "port": self.port, "roles": list(self.roles),
                "source": self.source}  # fmt: skip


class FleetLog:
    def __init__(self, db: Executor) -> None:
        self._db = db

    def record(self, run_id: str, hosts: Sequence[FleetHost]) -> None:
        self._db.executemany(
            "INSERT INTO run_fleet (run_id, host, address, port, roles, source, alias, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, host) DO UPDATE SET address = excluded.address, "
            "port = excluded.port, roles = excluded.roles, source = excluded.source, alias = excluded.alias, "
            "position = excluded.position",
            [
                (run_id, h.host, h.address, h.port, json.dumps(list(h.roles)), h.source, h.alias, i)
                for i, h in enumerate(hosts)
            ],
        )

    def of(self, run_id: str) -> list[FleetHost]:
        rows = self._db.execute(
            "SELECT host, address, port, roles, source, alias FROM run_fleet WHERE run_id = ? ORDER BY position",
            (run_id,),
        ).fetchall()
        return [FleetHost(r[0], r[1], int(r[2]), tuple(json.loads(r[3])), r[4], r[5]) for r in rows]

    def latest(self, app: str, environment: str) -> list[FleetHost]:
        """The hosts of the newest run of the environment that recorded any (none: empty)."""
        row = self._db.execute(
            "SELECT r.run_id FROM runs r WHERE r.app = ? AND r.environment = ? AND EXISTS "
            "(SELECT 1 FROM run_fleet f WHERE f.run_id = r.run_id) ORDER BY r.started_at DESC LIMIT 1",
            (app, environment),
        ).fetchone()
        return self.of(row[0]) if row else []
