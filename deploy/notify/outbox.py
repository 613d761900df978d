"""The outbox: what the sinks other than Slack are to be told, kept in the store until it is delivered or given up.

Writing: every notification is a row written in the transaction of the event it reports (a run's start in
:meth:`deploy.store.tables.Store.start_run`, its end in :meth:`deploy.store.fencing.RunWrites.finish`), one row per sink
routed to the event's (app, environment) (:meth:`Outbox.route`, filled by each app's engine from its config). A run that
is recorded is announced; one that is not, is not.

Sending (:mod:`sinks.sender`): rows are delivered in order within a *queue* (one sink, one app, one environment):
only the oldest pending row of a queue is ever claimed, and a claim is a lease by the database's clock
(``claimed_until``), taken by one conditional ``UPDATE`` so that of several replicas (or a bot and ``shipbot
deploy``) exactly one sends a row at a time. A process that dies mid-send leaves the claim to expire; the row is
then sent again (at least once): the row's ``id`` stays the same on every attempt (the ``webhook-id``, the forge
deployment's ``payload.shipbot_id``), so receivers can drop a repeat.

Each failed attempt moves ``next_attempt_at`` by exponential backoff with jitter (or the receiver's
``Retry-After``); a row still failing :data:`GIVE_UP_AFTER` seconds after it was written, or refused for good (a
4xx other than 408/429), is ``gave_up`` and listed by ``shipbot notifications --failed`` with its last error.

The forges' deployments shipbot created are remembered per run (``forge_deployments``): a later status of the run
goes to the same deployment, and a ``deployment`` event coming back for one of them can be told apart
(:meth:`Outbox.created_here`). A run a GitHub ``deployment`` event started (:mod:`deploy.notify.forge_runs`) gets no
deployment of its own: its start and end are written as that deployment's statuses (rows of type
``deployment.status`` on the GitHub route, with ``deployment_id``, ``deployment_state`` and ``description``), as are
the statuses the use case reports (queued, refused, rejected: :meth:`Outbox.tell_deployment`).
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from deploy.config.models import Config
from deploy.notify.event_documents import DEPLOYMENT_STATUS, document
from deploy.notify.forge_runs import RUN_STATES, DeploymentTarget, ForgeRuns
from deploy.store.statements import Executor

if TYPE_CHECKING:
    from deploy.store.database import Database

GIVE_UP_AFTER = 24 * 3600.0  # seconds after it was written a notification is retried at most
FIRST_DELAY = 2.0  # seconds before the first retry; doubled after each failure
MAX_DELAY = 3600.0  # the longest wait between two attempts
CLAIM_FOR = 60.0  # seconds a claim lasts: one attempt's bounded time, with room

PENDING, DELIVERED, GAVE_UP = "pending", "delivered", "gave_up"

_COLUMNS = (
    "seq, id, event_id, queue, sink, target, app, environment, type, run_id, document, state, attempts, "
    "created_at, next_attempt_at, last_error"
)


@dataclass(frozen=True)
class Route:
    """One sink an (app, environment)'s events go to: its kind and its settings (no secret in them)."""

    sink: str  # webhook | teams | irc | github | gitlab | slack (a channel, posted by a running bot)
    target: Mapping[str, Any]

    def queue(self, app: str, environment: str) -> str:
        digest = hashlib.sha256(json.dumps(self.target, sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.sink}:{digest}:{app}/{environment}"


@dataclass(frozen=True)
class Notification:
    seq: int
    id: str
    event_id: str
    queue: str
    sink: str
    target: dict[str, Any]
    app: str
    environment: str
    type: str
    run_id: str | None
    document: dict[str, Any]
    state: str
    attempts: int
    created_at: float
    next_attempt_at: float
    last_error: str

    def shown(self) -> dict[str, Any]:
        """What ``shipbot notifications --json`` lists."""
        return {
            "id": self.id, "sink": self.sink, "type": self.type, "run_id": self.run_id, "state": self.state,
            "attempts": self.attempts, "last_error": self.last_error or None,
            "next_attempt_at": self.next_attempt_at if self.state == PENDING else None,
        }  # fmt: skip


PREVIEWS = "*previews*"  # the routes of an app's previews, beside its environments'


def routes_of(config: Config) -> dict[str, list[Route]]:
    """Each environment's sinks: its ``notify:`` entries other than Slack channels, then the app's forge; under
    :data:`PREVIEWS`, the forge alone, for the app's previews (each a transient environment there)."""
    forge = config.deployments.forge() if config.deployments is not None else None
    routes: dict[str, list[Route]] = {}
    if forge is not None and config.previews is not None:
        routes[PREVIEWS] = [Route(forge[0], {**forge[1].model_dump(), "production": False, "transient": True,
                                             "domain": config.previews.domain})]  # fmt: skip
    for name, env in config.environments.items():
        routes[name] = [Route(s.kind, s.target()) for s in env.notify if not isinstance(s, str)]
        if forge is not None:
            settings = {**forge[1].model_dump(), "production": env.production, "environment_url": env.url}
            routes[name].append(Route(forge[0], settings))
    return routes


def backoff(attempts: int, first: float = FIRST_DELAY, longest: float = MAX_DELAY) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling, capped, with full jitter in its
    upper half (so replicas and receivers coming back do not meet in step)."""
    ceiling = min(longest, first * 2 ** max(0, attempts - 1))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311 (jitter, not a secret)


class Outbox:
    """The ``outbox`` and ``forge_deployments`` tables; ``routes`` says which sinks each (app, environment) has."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._routes: dict[tuple[str, str], tuple[Route, ...]] = {}

    # -- writing ---------------------------------------------------------------------------------------------

    def route(self, app: str, environment: str, routes: Sequence[Route]) -> None:
        self._routes[app, environment] = tuple(routes)

    def route_config(self, config: Config) -> None:
        for environment, routes in routes_of(config).items():
            self.route(config.app, environment, routes)

    def routed(self, app: str, environment: str) -> tuple[Route, ...]:
        return self._routes.get((app, environment), ())

    def add(self, tx: Executor, doc: Mapping[str, Any], routes: Sequence[Route] | None = None) -> int:
        """One row per sink routed to the document's (app, environment) (or ``routes``), in the caller's
        transaction."""
        routes = self.routed(str(doc["app"]), str(doc["environment"])) if routes is None else routes
        for route in routes:
            tx.execute(
                "INSERT INTO outbox (id, event_id, queue, sink, target, app, environment, type, run_id, document, "
                f"state, attempts, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, "
                f"{tx.now}, {tx.now})",
                (
                    f"msg_{uuid.uuid4().hex}", doc["id"], route.queue(str(doc["app"]), str(doc["environment"])),
                    route.sink, json.dumps(dict(route.target), sort_keys=True), doc["app"], doc["environment"],
                    doc["type"], doc.get("run_id"), json.dumps(doc, sort_keys=True), PENDING,
                ),
            )  # fmt: skip
        return len(routes)

    def add_for_run(self, tx: Executor, run_id: str, type_: str, **extra: Any) -> int:
        """The event ``type_`` of the run ``run_id`` (read in the caller's transaction), for every routed sink."""
        row = tx.execute(
            f'SELECT kind, app, environment, "user", ref, sha, message, {tx.now}, '
            "(SELECT permalink FROM run_places p WHERE p.run_id = runs.run_id) FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            return 0
        kind, app, environment, user, ref, sha, message, now, permalink = row
        routes = self.routed(str(app), str(environment))
        answered = ForgeRuns(tx).target_of(run_id) if any(r.sink == "github" for r in routes) else None
        if answered is not None:  # a GitHub deployment event's run: no deployment of its own, that one's statuses
            routes = tuple(r for r in routes if r.sink != "github")
        if not routes and answered is None:
            return 0
        doc = document(
            type_, float(now), app=str(app), environment=str(environment), run_id=run_id, kind=str(kind),
            user=str(user), ref=str(ref), sha=str(sha) or None, message=str(message) or None,
            url=str(permalink) if permalink else None, **extra,
        )  # fmt: skip
        added = self.add(tx, doc, routes) if routes else 0
        if answered is not None and type_ in RUN_STATES:
            started = f"{kind} {run_id} started"
            said = started if type_ == "run.started" else str(message) or type_.removeprefix("run.")
            added += self._deployment_status(tx, answered, RUN_STATES[type_], said, run_id, doc)
        return added

    def add_event(self, tx: Executor, type_: str, app: str, environment: str, **fields: Any) -> int:
        """An event of ``app``'s ``environment`` that is not a run's (``lock.taken``, ``lock.released``)."""
        if not self.routed(app, environment):
            return 0
        row = tx.execute(f"SELECT {tx.now}").fetchone()
        assert row is not None
        return self.add(tx, document(type_, float(row[0]), app=app, environment=environment, **fields))

    def add_for_preview(self, tx: Executor, type_: str, app: str, name: str, **fields: Any) -> int:
        """A preview's event (``preview.created``, ``updated``, ``removed``): its environment is the preview's name."""
        routes = self.routed(app, PREVIEWS)
        if not routes:
            return 0
        row = tx.execute(f"SELECT {tx.now}").fetchone()
        assert row is not None
        return self.add(tx, document(type_, float(row[0]), app=app, environment=name, **fields), routes)

    def tell_deployment(
        self, target: DeploymentTarget, state: str, description: str, run_id: str | None = None
    ) -> bool:
        """A status of a deployment a GitHub ``deployment`` event started (``run_id``: the run answering it, whose
        reported state moves forward to ``state`` in the same transaction; None: refused before a run was asked
        for). False when it is not written: the run is past that state, or no GitHub route is known for the app."""
        with self._db.transaction() as tx:
            row = tx.execute(f"SELECT {tx.now}").fetchone()
            assert row is not None
            doc = document(DEPLOYMENT_STATUS, float(row[0]), app=target.app, environment=target.environment,
                           run_id=run_id)  # fmt: skip
            return self._deployment_status(tx, target, state, description, run_id, doc) > 0

    def _deployment_status(
        self, tx: Executor, target: DeploymentTarget, state: str, description: str, run_id: str | None,
        doc: Mapping[str, Any],
    ) -> int:  # fmt: skip
        """One row for the GitHub route of the deployment's (app, environment) (an environment the app does not
        have: its GitHub settings from another environment's route), in the queue of the run's earlier statuses,
        as the run's reported state moves forward to ``state`` (:meth:`ForgeRuns.advance`: never twice, never
        back, never on from a final state)."""
        route = self._github_route(target.app, target.environment)
        if route is None or (run_id is not None and not ForgeRuns(tx).advance(run_id, state)):
            return 0
        status = {**doc, "deployment_id": target.deployment_id, "deployment_state": state,
                  "description": _one_line(description)}  # fmt: skip
        return self.add(tx, status, [route])

    def _github_route(self, app: str, environment: str) -> Route | None:
        mine = [r for r in self.routed(app, environment) if r.sink == "github"]
        if mine:
            return mine[0]
        for (owner, _), routes in self._routes.items():
            for r in routes if owner == app else ():
                if r.sink == "github" and not r.target.get("transient"):
                    return Route("github", {**r.target, "production": False, "environment_url": None})
        return None

    # -- sending ---------------------------------------------------------------------------------------------

    def claim(
        self, owner: str, limit: int = 20, claim_for: float = CLAIM_FOR, skip: tuple[str, ...] = ()
    ) -> list[Notification]:
        """The oldest pending row of each queue that is due and not claimed by a live claim, claimed for ``owner``
        (one conditional update per row: of two replicas, one gets it); rows of the sinks in ``skip`` are left for
        a process that can send them (Slack's, for a bot)."""
        now = self._db.now
        others = f"AND sink NOT IN ({', '.join('?' for _ in skip)}) " if skip else ""
        heads = self._db.execute(
            f"SELECT {_COLUMNS} FROM outbox o WHERE state = 'pending' AND next_attempt_at <= {now} {others}"
            f"AND (claimed_until IS NULL OR claimed_until < {now}) AND NOT EXISTS (SELECT 1 FROM outbox p "
            "WHERE p.queue = o.queue AND p.state = 'pending' AND p.seq < o.seq) ORDER BY seq LIMIT ?",
            (*skip, limit),
        ).fetchall()
        claimed = []
        for row in heads:
            taken = self._db.execute(
                f"UPDATE outbox SET claimed_by = ?, claimed_until = {now} + ? WHERE seq = ? AND state = 'pending' "
                f"AND (claimed_until IS NULL OR claimed_until < {now})",
                (owner, claim_for, row[0]),
            )
            if taken.rowcount == 1:
                claimed.append(self._linked(_notification(row)))
        return claimed

    def _linked(self, n: Notification) -> Notification:
        """A run's event written before its message was posted (``run.started``) is sent with the message's
        permalink (``url``) once the bot has recorded it; the row's ``id`` stays the same."""
        if n.run_id is None or "url" in n.document or not n.type.startswith("run."):
            return n
        row = self._db.execute("SELECT permalink FROM run_places WHERE run_id = ?", (n.run_id,)).fetchone()
        return replace(n, document={**n.document, "url": str(row[0])}) if row and row[0] else n

    def delivered(self, seq: int, owner: str) -> bool:
        done = self._db.execute(
            f"UPDATE outbox SET state = 'delivered', attempts = attempts + 1, done_at = {self._db.now}, "
            "claimed_by = NULL, claimed_until = NULL, last_error = '' WHERE seq = ? AND claimed_by = ? "
            "AND state = 'pending'",
            (seq, owner),
        )
        return done.rowcount == 1

    def failed(self, seq: int, owner: str, error: str, delay: float | None) -> str:
        """One more failed attempt: retried in ``delay`` seconds while the row is younger than
        :data:`GIVE_UP_AFTER`, else (or with ``delay`` None: refused for good) given up. Returns the new state."""
        now = self._db.now
        if delay is None:
            state_sql, params = "'gave_up'", (error[:500], 0.0, seq, owner)
        else:
            state_sql = f"CASE WHEN {now} + ? - created_at > ? THEN 'gave_up' ELSE 'pending' END"
            params = (delay, GIVE_UP_AFTER, error[:500], delay, seq, owner)  # type: ignore[assignment]
        self._db.execute(
            f"UPDATE outbox SET state = {state_sql}, attempts = attempts + 1, last_error = ?, "
            f"next_attempt_at = {now} + ?, claimed_by = NULL, claimed_until = NULL "
            "WHERE seq = ? AND claimed_by = ? AND state = 'pending'",
            params,
        )
        row = self._db.execute("SELECT state FROM outbox WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else GAVE_UP

    def release(self, seq: int, owner: str) -> None:
        """Give a claimed row back untried (the process is stopping)."""
        self._db.execute(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE seq = ? AND claimed_by = ?", (seq, owner)
        )

    # -- reading ---------------------------------------------------------------------------------------------

    def listing(self, *, failed: bool = False, limit: int = 200) -> list[Notification]:
        """What is pending or gave up (``failed``: only what gave up), oldest first."""
        states = "('gave_up')" if failed else "('pending', 'gave_up')"
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE state IN {states} ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [_notification(r) for r in rows]

    def of_run(self, run_id: str) -> list[Notification]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        return [_notification(r) for r in rows]

    def pending_by_sink(self) -> dict[str, int]:
        rows = self._db.execute("SELECT sink, COUNT(*) FROM outbox WHERE state = 'pending' GROUP BY sink").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    # -- the forges' deployments -----------------------------------------------------------------------------

    def remember_deployment(self, forge: str, repo: str, deployment_id: str, run_id: str) -> None:
        self._db.execute(
            "INSERT INTO forge_deployments (forge, repo, deployment_id, run_id, created_at) "
            f"VALUES (?, ?, ?, ?, {self._db.now}) ON CONFLICT DO NOTHING",
            (forge, repo, deployment_id, run_id),
        )

    def deployment_of(self, forge: str, repo: str, run_id: str) -> str | None:
        row = self._db.execute(
            "SELECT deployment_id FROM forge_deployments WHERE forge = ? AND repo = ? AND run_id = ? "
            "ORDER BY created_at LIMIT 1",
            (forge, repo, run_id),
        ).fetchone()
        return str(row[0]) if row else None

    def created_here(self, forge: str, repo: str, deployment_id: str) -> bool:
        """True for a deployment shipbot created itself (its event coming back must not deploy again)."""
        row = self._db.execute(
            "SELECT 1 FROM forge_deployments WHERE forge = ? AND lower(repo) = lower(?) AND deployment_id = ?",
            (forge, repo, deployment_id),
        ).fetchone()
        return row is not None


def _one_line(text: str, limit: int = 140) -> str:
    """A status description GitHub takes: the first line, printable characters, at most ``limit`` of them."""
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    clean = "".join(ch for ch in line if ch.isprintable()).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _notification(row: Sequence[Any]) -> Notification:
    (seq, id_, event_id, queue, sink, target, app, env, type_, run_id, doc, state, attempts, created, due, error) = row
    return Notification(
        int(seq), str(id_), str(event_id), str(queue), str(sink), json.loads(target), str(app), str(env), str(type_),
        None if run_id is None else str(run_id), json.loads(doc), str(state), int(attempts), float(created),
        float(due), str(error),
    )  # fmt: skip
