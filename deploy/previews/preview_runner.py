"""Previews per branch on their hosts: make or update one (:meth:`PreviewRunner.up`), remove one
(:meth:`PreviewRunner.down`), and what exists (:meth:`PreviewRunner.all_previews`, :meth:`PreviewRunner.due`).

``up`` of a new preview, in order, on every preview host at once (each phase waits for every host):

1. the name (:func:`deploy.previews.layout.preview_name`) and a free port of ``previews.ports`` are reserved in the
   store (a full range is refused here: nothing has run anywhere);
2. nginx: the server block is written to ``sites_dir`` and nginx's ``test`` runs; when nginx rejects it, the block
   is removed again (the previous one put back on an update) and nothing else has changed;
3. the code of the SHA goes into a new release of ``<deploy_to>/previews/<name>/`` (upload or git, as a deploy),
   shared links, ``pipeline.build``;
4. the old app is stopped, ``current`` switched, ``pipeline.restart`` run with ``SHIPBOT_PORT``;
5. nginx ``reload``, then an HTTP request through nginx with the preview's Host header until it answers.

A failure in 3-5 leaves nothing of a new preview (app stopped, block removed, nginx reloaded, folder deleted, row
gone); an update that fails goes back to the release it had and restarts it, and only then deletes the new
release. When going back fails on a host (no release to go back to, the switch or the restart failed), that host
stops there with both releases kept, the preview is marked ``broken`` (:class:`PreviewBroken`) and the next push
rebuilds it from scratch (the old folder is deleted first); ``teardown`` and the TTL remove a broken preview as any
other. An update keeps name and port.
``down`` stops the app, removes the block, reloads nginx and deletes the folder; the row goes once every host is
clean (a host that cannot be reached keeps it, and the next try finishes the job).

``up`` and ``down`` of one branch hold its lease in the store (:mod:`deploy.previews.preview_lease`): replicas on one
database take turns on a preview, and a change that waited too long is refused with nothing done.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from pydantic import SecretStr

from deploy.config.models import Config, Previews
from deploy.delivery.mirror import Mirror
from deploy.errors import HostError, ShipbotError
from deploy.hosts import remote
from deploy.hosts.connector import Connector, ConnectorFactory, HostConnection, StepResult
from deploy.hosts.secret_input import SecretFeeding, secret_values
from deploy.ids import ReleaseIds
from deploy.previews import layout as pv
from deploy.previews.preview_lease import PreviewLeases
from deploy.previews.preview_table import BROKEN, CREATING, PreviewRow, PreviewTable
from deploy.redact import Redactor
from deploy.run.fanout import every
from deploy.run.plan import Host

log = structlog.get_logger("shipbot.previews")

_HEALTH_TRIES, _HEALTH_INTERVAL = 10, 0.5  # without pipeline.healthcheck


class PreviewFailed(ShipbotError):
    """Making, updating or removing a preview failed on a host; ``str()`` names the host, the step and why."""

    exit_code = 1


class PreviewBroken(PreviewFailed):
    """An update failed and switching a host back failed too: nothing more was deleted, the preview is ``broken``
    and the next push rebuilds it from scratch."""


@dataclass(frozen=True)
class PreviewInfo:
    app: str
    name: str
    branch: str
    sha: str
    port: int
    url: str
    hosts: tuple[str, ...]
    state: str
    created_at: float
    updated_at: float
    expires_at: float

    def as_json(self) -> dict[str, object]:
        """The preview as JSON: ``state`` is ``creating``, ``live`` or ``broken``."""
        return {
            "app": self.app, "name": self.name, "branch": self.branch, "sha": self.sha, "port": self.port,
            "url": self.url, "hosts": list(self.hosts), "state": self.state, "created_at": self.created_at,
            "updated_at": self.updated_at, "expires_at": self.expires_at,
        }  # fmt: skip


@dataclass(frozen=True)
class PreviewOutcome:
    info: PreviewInfo
    created: bool  # a new preview (False: an update)
    unchanged: bool = False  # it already ran that SHA: nothing was done


class PreviewRunner:
    """The previews of one app, next to its :class:`~deploy.run.engine.Engine` (sharing its ``mirror``): ``connectors``
    builds each operation's connector, as for a run (``SshConnector`` in production); ``secrets`` (default: the
    ``secret_env`` values in this process's environment) reach commands on standard input as on a deploy."""

    def __init__(
        self,
        config: Config,
        table: PreviewTable,
        mirror: Mirror,
        connectors: ConnectorFactory,
        secrets: Mapping[str, SecretStr] | None = None,
        leases: PreviewLeases | None = None,
    ) -> None:
        self.config = config
        self._table = table
        self._leases = leases or PreviewLeases(table.db)
        self._door = table.db.door
        self._mirror = mirror
        self._connectors = connectors
        values = secrets if secrets is not None else secret_values(config)
        self._secret_values = {k: v.get_secret_value() for k, v in values.items()}
        self._secrets = tuple(self._secret_values)
        self._locks: dict[str, asyncio.Lock] = {}
        self._release_ids = ReleaseIds()  # an update a second after the last names a new release folder

    def _connector(self) -> Connector:
        connector = self._connectors(self.config.ssh, Redactor(self._secret_values.values()))
        if not self._secret_values:
            return connector
        return SecretFeeding(connector, remote.secrets_input(self._secret_values))

    @property
    def enabled(self) -> bool:
        return self.config.previews is not None

    def _previews(self) -> Previews:
        if self.config.previews is None:
            raise pv.PreviewRefused(f"{self.config.app} has no previews section in its config")
        return self.config.previews

    def matches(self, branch: str) -> bool:
        return self.config.previews is not None and pv.matches_branches(self.config.previews, branch)

    def info(self, row: PreviewRow) -> PreviewInfo:
        previews = self._previews()
        return PreviewInfo(
            row.app, row.name, row.branch, row.sha, row.port, pv.url(row.name, previews.domain), row.hosts,
            row.state, row.created_at, row.updated_at, row.updated_at + previews.ttl,
        )  # fmt: skip

    async def all_previews(self) -> list[PreviewInfo]:
        rows = await self._door(self._table.of_app, self.config.app) if self.enabled else []
        return [self.info(r) for r in rows]

    async def find(self, branch: str) -> PreviewInfo | None:
        row = await self._door(self._table.by_branch, self.config.app, branch) if self.enabled else None
        return self.info(row) if row else None

    async def due(self, now: float | None = None) -> list[PreviewInfo]:
        """Previews whose time to live (since their last push) has run out."""
        return await self._door(self._due, now)

    def _due(self, now: float | None) -> list[PreviewInfo]:
        if not self.enabled:
            return []
        ttl = self._previews().ttl  # without ``now``, by the database's clock
        rows = self._table.due(self.config.app, ttl=ttl) if now is None else self._table.due(self.config.app, now - ttl)
        return [self.info(r) for r in rows]

    async def check(self, branch: str) -> str:
        """The preview name ``branch`` has or would get; refuses a bad branch name or a full port range before
        anything runs."""
        return await self._door(self._check, branch)

    def _check(self, branch: str) -> str:
        previews = self._previews()
        row = self._table.by_branch(self.config.app, branch)
        if row is not None:
            return row.name
        name = pv.preview_name(branch, {r.name: r.branch for r in self._table.of_app(self.config.app)})
        first, last = previews.port_range
        if pv.choose_port(first, last, self._table.ports()) is None:
            raise pv.PreviewRefused(
                f"no free port for a preview of `{branch}`: every port of previews.ports ({previews.ports}) is taken "
                f"by a preview. Tear one down (`previews` lists them) or widen the range"
            )
        return name

    async def resolve(self, branch: str) -> str:
        return await self._mirror.resolve(branch)

    def _lock(self, branch: str) -> asyncio.Lock:
        return self._locks.setdefault(branch, asyncio.Lock())

    # -- up ---------------------------------------------------------------------------------------------------

    async def up(self, branch: str, sha: str, user: str) -> PreviewOutcome:
        """Make the preview of ``branch`` at ``sha``, or update it to ``sha``."""
        async with self._lock(branch), self._leases.hold(self.config.app, branch):
            return await self._up(branch, sha, user)

    def _reserve(self, branch: str, user: str) -> PreviewRow:
        previews = self._previews()
        hosts = [h.name for h in pv.preview_hosts(self.config)]
        first, last = previews.port_range
        for _ in range(10):
            name = self._check(branch)
            port = pv.choose_port(first, last, self._table.ports())
            if port is not None and self._table.reserve(self.config.app, name, branch, port, hosts, user):
                break
        row = self._table.by_branch(self.config.app, branch)
        if row is None:
            raise pv.PreviewRefused(f"could not reserve a name and port for a preview of `{branch}`; try again")
        return row

    async def _up(self, branch: str, sha: str, user: str) -> PreviewOutcome:
        previews = self._previews()
        door = self._door
        existing = await door(self._table.by_branch, self.config.app, branch)
        if existing is not None and existing.state == "live" and existing.sha == sha:
            return PreviewOutcome(self.info(existing), created=False, unchanged=True)
        if existing is None:
            await self.check(branch)  # a bad name or a full range is refused before anything runs
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            raise pv.PreviewRefused(f"{sha!r} is not a full commit SHA (40 hex digits)")
        await self._mirror.resolve(sha)  # fetched fresh; a commit the repository does not have is refused
        created = existing is None or existing.state in (CREATING, BROKEN)  # half made, or to rebuild from scratch
        rebuild = existing is not None and existing.state == BROKEN
        row = existing if existing is not None else await door(self._reserve, branch, user)
        plan = pv.plan_preview(
            self.config, row.name, branch, sha, await self._release_ids.next(), row.port, user, self._secrets
        )
        site = {h.name: pv.site_path(previews.nginx.sites_dir, self.config.app, row.name) for h in plan.hosts}
        bound = log.bind(app=self.config.app, preview=row.name, branch=branch, sha=sha, user=user)
        bound.info("preview_up", port=row.port, created=created)
        connector = self._connector()
        conns: dict[str, HostConnection] = {}
        try:
            try:
                conns = await self._connect(connector, plan.hosts)
                if rebuild:  # what a failed update left (both releases, a stopped app) goes first
                    bound.info("preview_rebuild")
                    await self._clean(conns, row.name, row.port, site)
                await self._all(conns, "nginx test", lambda h: pv.write_site(
                    site[h.name], plan.block, previews.nginx.test, {"SHIPBOT_DEPLOY_TO": h.deploy_to}
                ), rejected=True)  # fmt: skip
            except ShipbotError:
                if created:
                    await self._quietly(conns, lambda h: pv.remove_site(site[h.name]))
                    await door(self._table.remove, self.config.app, row.name)
                raise
            previous = await self._currents(conns, plan) if not created else {}
            try:
                await self._deploy(conns, plan)
            except ShipbotError as exc:
                if created:
                    await self._clean(conns, plan.name, plan.port, site)
                    await door(self._table.remove, self.config.app, row.name)
                    raise
                stuck = await self._back(conns, plan, previous)
                if stuck:
                    await door(self._table.broken, self.config.app, row.name, user)
                    bound.error("preview_broken", error=str(exc), back=stuck)
                    raise PreviewBroken(
                        f"{exc}\nThen going back failed: {stuck}. The preview of `{branch}` is broken (nothing more "
                        f"was deleted); the next push to `{branch}` rebuilds it from scratch, `teardown` removes it"
                    ) from exc
                raise
        finally:
            await asyncio.gather(*(c.close() for c in conns.values()), return_exceptions=True)
            await connector.close()
        await door(self._table.live, self.config.app, row.name, sha, user)
        done = await door(self._table.by_branch, self.config.app, branch)
        assert done is not None
        bound.info("preview_live", port=row.port, url=pv.url(row.name, previews.domain))
        return PreviewOutcome(self.info(done), created=created)

    async def _deploy(self, conns: dict[str, HostConnection], plan: pv.PreviewPlan) -> None:
        config, previews = self.config, self._previews()
        t = config.timeouts
        archive = await self._mirror.archive(plan.sha) if config.pipeline.transfer == "upload" else None
        await self._all(conns, "upload", lambda h: pv.prepare(plan, h, config), t.transfer, stdin=archive)
        for command in config.pipeline.build:
            await self._all(conns, "build", lambda h, c=command: pv.in_dir(  # type: ignore[misc]
                remote.release_dir(plan.folder(h), plan.release), plan.env, c), t.build)  # fmt: skip
        await self._all(conns, "stop", lambda h: pv.stop(plan.folder(h), plan.env, previews.stop), t.restart)
        await self._all(conns, "switch", lambda h: pv.switch(plan.folder(h), plan.release), t.switch)
        restart = config.pipeline.restart or "true"
        await self._all(conns, "restart", lambda h: pv.in_dir(
            remote.release_dir(plan.folder(h), plan.release), plan.env, restart), t.restart)  # fmt: skip
        await self._reload(conns)
        path, hc = pv.health_path(config), config.pipeline.healthcheck
        tries, interval = (hc.retries, hc.interval) if hc else (_HEALTH_TRIES, _HEALTH_INTERVAL)
        await self._all(conns, "health through nginx", lambda _h: pv.health(
            previews.nginx.listen, plan.host_name, path), t.command, tries=tries, interval=interval)  # fmt: skip
        await self._quietly(conns, lambda h: pv.keep_releases(plan.folder(h)))

    async def _currents(self, conns: dict[str, HostConnection], plan: pv.PreviewPlan) -> dict[str, remote.Current]:
        """What ``current`` points to on each host before an update (release and its REVISION)."""
        found: dict[str, remote.Current] = {}

        async def one(conn: HostConnection) -> None:
            result = await conn.read(remote.probe(plan.folder(conn.host)), self.config.timeouts.command)
            current = remote.parse_probe(result.output) if result.ok else None
            if current is not None and current.release is not None:
                found[conn.host.name] = current

        await every(one(c) for c in conns.values())
        return found

    async def _back(
        self, conns: dict[str, HostConnection], plan: pv.PreviewPlan, previous: dict[str, remote.Current]
    ) -> str:
        """A failed update: every host goes back to the release it had and restarts it; then the new release goes.
        A host where that fails stops there, keeping both releases; what failed is returned ("" when none did)."""
        previews, restart = self._previews(), self.config.pipeline.restart or "true"

        async def one(conn: HostConnection) -> str:
            h, t = conn.host, self.config.timeouts
            base = plan.folder(h)
            old = previous.get(h.name)
            await conn.run(pv.stop(base, plan.env, previews.stop), t.restart)
            if old is None or old.release is None:
                return f"{h.name}: no release to go back to was found"
            env = {**plan.env, "SHIPBOT_RELEASE": old.release, "SHIPBOT_SHA": old.sha or ""}
            steps = [
                ("switching back to", pv.switch(base, old.release)),
                ("restarting", pv.in_dir(remote.release_dir(base, old.release), env, restart)),
            ]
            for what, command in steps:
                result = await conn.run(command, t.restart)
                if not result.ok:
                    words = result.output.strip()[-300:]
                    return f"{h.name}: {what} release {old.release} failed: {result.describe()}" + (
                        f" ({words})" if words else ""
                    )
            await conn.run(pv.remove_release(base, plan.release), t.restart)
            return ""

        stuck = await every(one(c) for c in conns.values())
        await self._reload(conns, quiet=True)
        return "; ".join(s for s in stuck if s)

    # -- down -------------------------------------------------------------------------------------------------

    async def down(self, branch: str, user: str) -> PreviewInfo | None:
        """Remove the preview of ``branch`` from every host; None when there is none."""
        async with self._lock(branch), self._leases.hold(self.config.app, branch):
            row = await self._door(self._table.by_branch, self.config.app, branch)
            if row is None:
                return None
            previews = self._previews()
            log.info("preview_down", app=self.config.app, preview=row.name, branch=branch, user=user)
            hosts = pv.preview_hosts(self.config)
            site = {h.name: pv.site_path(previews.nginx.sites_dir, self.config.app, row.name) for h in hosts}
            connector = self._connector()
            conns: dict[str, HostConnection] = {}
            try:
                conns = await self._connect(connector, hosts)
                await self._clean(conns, row.name, row.port, site, strict=True)
            finally:
                await asyncio.gather(*(c.close() for c in conns.values()), return_exceptions=True)
                await connector.close()
            await self._door(self._table.remove, self.config.app, row.name)
            return self.info(row)

    async def _clean(
        self, conns: dict[str, HostConnection], name: str, port: int, site: dict[str, str], strict: bool = False
    ) -> None:
        """Stop the app, remove the block, reload nginx, delete the folder (``strict``: any failure raises)."""
        previews = self._previews()
        env = {"SHIPBOT_APP": self.config.app, "SHIPBOT_PREVIEW": name, "SHIPBOT_PORT": str(port)}
        run = self._all if strict else self._quietly_named
        await run(conns, "stop", lambda h: pv.stop(pv.preview_dir(h.deploy_to, name), env, previews.stop))
        await run(conns, "remove block", lambda h: pv.remove_site(site[h.name]))
        await self._reload(conns, quiet=not strict)
        await run(conns, "delete folder", lambda h: pv.remove_folder(pv.preview_dir(h.deploy_to, name)))

    # -- plumbing ---------------------------------------------------------------------------------------------

    async def _connect(self, connector: Connector, hosts: Sequence[Host]) -> dict[str, HostConnection]:
        timeout = self.config.timeouts.connect
        results = await asyncio.gather(*(connector.connect(h, timeout) for h in hosts), return_exceptions=True)
        conns = {h.name: r for h, r in zip(hosts, results, strict=True) if not isinstance(r, BaseException)}
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await asyncio.gather(*(c.close() for c in conns.values()), return_exceptions=True)
            error = failed[0]
            if isinstance(error, HostError):
                raise PreviewFailed(str(error)) from error
            raise error
        return conns

    async def _reload(self, conns: dict[str, HostConnection], quiet: bool = False) -> None:
        reload = self._previews().nginx.reload
        run = self._quietly_named if quiet else self._all
        await run(conns, "nginx reload", lambda h: pv.in_dir("/", {"SHIPBOT_DEPLOY_TO": h.deploy_to}, reload))

    async def _all(
        self,
        conns: dict[str, HostConnection],
        step: str,
        command: Callable[[Host], str],
        timeout: float | None = None,
        *,
        stdin: bytes | None = None,
        tries: int = 1,
        interval: float = _HEALTH_INTERVAL,
        rejected: bool = False,
    ) -> None:
        """Run ``command`` on every host; the first failure (by host order) raises, naming host, step and output."""
        limit = timeout or self.config.timeouts.command

        async def one(conn: HostConnection) -> tuple[Host, StepResult]:
            result = await conn.run(command(conn.host), limit, stdin)
            for _ in range(tries - 1):
                if result.ok:
                    break
                await asyncio.sleep(interval)
                result = await conn.run(command(conn.host), limit, stdin)
            return conn.host, result

        results = await every(one(c) for c in conns.values())
        for host, result in results:
            if result.ok:
                continue
            words = result.output.strip()
            if rejected and result.exit_status == pv.REJECTED:
                said = words.split(pv.REJECTED_MARK, 1)[-1].strip()
                raise pv.PreviewRefused(
                    f"nginx on {host.name} rejected the preview's server block, so it was removed and nothing else "
                    f"changed: {said[-600:] or result.describe()}. Check previews.nginx (extra, listen, test)"
                )
            detail = f"\n{words[-800:]}" if words else ""
            raise PreviewFailed(f"{host.name}: {step} failed: {result.describe()}{detail}")

    async def _quietly_named(self, conns: dict[str, HostConnection], step: str, command: Callable[[Host], str]) -> None:
        del step
        await self._quietly(conns, command)

    async def _quietly(self, conns: dict[str, HostConnection], command: Callable[[Host], str]) -> None:
        """Clean-up that must not mask the failure being reported."""

        async def one(conn: HostConnection) -> None:
            try:
                await conn.run(command(conn.host), self.config.timeouts.command)
            except Exception:  # a host that dropped mid clean-up is reported by the failure already raised
                log.warning("preview_cleanup_failed", host=conn.host.name, exc_info=True)

        await every(one(c) for c in conns.values())
