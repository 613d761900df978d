"""What a run will do, per host, before a single connection opens (pure).

``plan_deploy`` turns a config, an environment, a pinned SHA and a release id into a :class:`DeployPlan`: for each
host the prepare steps (command line and timeout; the first, named after the transfer, is setup, upload|fetch and
link in one exec whose output starts with the host's probe and release listing, and on a blue/green host its
colours, see :mod:`deploy.hosts.guarded`), the
switch, restart and healthcheck, and the one host that runs
the migration; and how the new version reaches traffic: the environment's strategy, its batches (host names, cut
by :mod:`deploy.run.batches`), the failure budget, the pause, and per host the blue/green settings. The runner executes
a plan; a dry run shows one (:mod:`deploy.run.dry_run`); tests compare plans by equality.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from deploy.config.models import Config, HealthCheck
from deploy.errors import ConfigError, UsageError
from deploy.hosts import bluegreen, framing, guarded, remote
from deploy.redact import Redactor
from deploy.run import batches as batch_rules


@dataclass(frozen=True)
class Host:
    """One host of an environment, with the config's defaults applied."""

    address: str
    port: int
    user: str
    deploy_to: str
    roles: tuple[str, ...] = ()
    source: str = "static"  # how the host was found: static, dns_srv:NAME, command:CMD (several: joined by ", ")
    alias: str | None = None  # the DNS name it was found under (an SRV target), for host key lookups
    given_name: str | None = None  # ``hosts[].name`` in the config

    @property
    def name(self) -> str:
        """The host's key in events and the store: the address, plus the port when it is not 22."""
        return self.address if self.port == 22 else f"{self.address}:{self.port}"

    @property
    def label(self) -> str:
        """How people see the host: its ``name:`` in the config, else the SRV target it was found under (without
        the trailing dot), else :attr:`name`."""
        return self.given_name or (self.alias.rstrip(".") if self.alias else "") or self.name


@dataclass(frozen=True)
class Step:
    name: str
    command: str
    timeout: float
    stdin_archive: bool = False  # feed the controller's git archive on standard input
    bookkeeping: bool = (
        False  # prints the release listing and probe first (:func:`deploy.hosts.guarded.prepare`): read whole
    )
    stdin: bytes | None = field(default=None, repr=False, compare=False)  # its own input (another release's archive)


@dataclass(frozen=True)
class HostPlan:
    host: Host
    prepare: tuple[Step, ...]
    restart: Step | None
    healthcheck: HealthCheck | None
    env: Mapping[str, str] = field(default_factory=dict)
    colours: bluegreen.HostColours | None = None  # strategy blue_green only


@dataclass(frozen=True)
class DeployPlan:
    app: str
    environment: str
    sha: str
    release: str
    user: str
    transfer: str
    hosts: tuple[HostPlan, ...]
    migrate_host: str | None = None
    migrate: Step | None = None
    keep_releases: int = 5
    keep_failed_releases: bool = False
    restart_command: str | None = None  # the operator's restart, also run in the previous release on revert
    strategy: str = "all"  # all | rolling | blue_green
    batches: tuple[tuple[str, ...], ...] = ()  # host names per batch (rolling and blue_green)
    max_failures: int = 0  # hosts allowed to fail over the whole run
    pause: bool | float = False  # between batches: no, wait for a person, or wait this many seconds
    notes: tuple[str, ...] = ()  # what the start and end reports must say (a migration left out by a host filter)
    layout: str = "auto"  # shipbot | capistrano | auto (:mod:`deploy.capistrano.revisions_log`)
    branch: str = ""  # the ref deployed, as Capistrano's revisions.log names it
    secret_values: tuple[str, ...] = field(default=(), repr=False)  # redacted from describe()

    def restart_in(self, hp: HostPlan, release: str, sha: str | None) -> str | None:
        """The restart command run in another release (a revert or a rollback), with that release's variables."""
        if not self.restart_command:
            return None
        env = {**hp.env, "SHIPBOT_RELEASE": release, "SHIPBOT_SHA": sha or ""}
        return remote.in_release(hp.host.deploy_to, release, env, self.restart_command)

    def describe(self) -> str:
        """A readable listing of every step on every host (a dry run shapes steps with :mod:`deploy.run.dry_run`)."""
        lines = [f"deploy {self.app} {self.sha[:12]} as release {self.release} to {self.environment}"]
        if self.strategy != "all":
            pause = "wait for a person" if self.pause is True else f"{self.pause:g}s" if self.pause else "none"
            lines.append(
                f"  strategy {self.strategy}, {len(self.batches)} batch(es): "
                + " | ".join(", ".join(b) for b in self.batches)
                + f"; max_failures {self.max_failures}; pause between batches: {pause}"
            )
        lines += [f"  {note}" for note in self.notes]
        for hp in self.hosts:
            lines.append(f"  {hp.host.name} ({hp.host.user}, {hp.host.deploy_to}):")
            for step in hp.prepare:
                lines.append(f"    prepare {step.name}: {guarded.body_of(step.command)}")
            if self.migrate and self.migrate_host == hp.host.name:
                lines.append(f"    migrate: {self.migrate.command}")
            if hp.colours:
                c = hp.colours
                lines.append(
                    f"    blue/green: blue on port {c.ports['blue']}, green on {c.ports['green']}; "
                    f"nginx upstream {c.upstream} in {bluegreen.upstream_path(c.deploy_to, c.upstream_file)}; "
                    f"verify {c.verify_url} ({c.verify_expect}); old colour stopped after {c.keep_old:g}s"
                )
            else:
                lines.append(f"    switch: {remote.switch(hp.host.deploy_to, self.release)}")
            if hp.restart:
                lines.append(f"    restart: {hp.restart.command}")
            if hp.healthcheck:
                lines.append(f"    healthcheck: {hp.healthcheck.run}")
        return Redactor(self.secret_values)("\n".join(lines))


def keys(hosts: Iterable[Host]) -> tuple[str, ...]:
    """The hosts as events and the store name them (:attr:`Host.name`)."""
    return tuple(h.name for h in hosts)


def labels(hosts: Iterable[Host]) -> tuple[str, ...]:
    """The hosts as people see them (:attr:`Host.label`)."""
    return tuple(h.label for h in hosts)


def environment_hosts(config: Config, environment: str) -> list[Host]:
    env = config.environments.get(environment)
    if env is None:
        known = ", ".join(sorted(config.environments))
        raise UsageError(f"unknown environment {environment!r} for {config.app}; configured: {known}")
    return [
        Host(
            address=h.address,
            port=h.port or config.ssh.port,
            user=h.user or config.ssh.user,
            deploy_to=h.deploy_to or config.deploy_to,
            roles=tuple(h.roles),
            source=env.found_as(h.address, h.port)[0],
            alias=env.found_as(h.address, h.port)[1],
            given_name=h.name,
        )
        for h in env.hosts
    ]


def select_hosts(config: Config, environment: str, hosts_filter: str | None) -> list[Host]:
    """All hosts of the environment, or those whose role, address, ``address:port`` or name equals
    ``hosts_filter``."""
    hosts = environment_hosts(config, environment)
    if not hosts_filter:
        return hosts
    chosen = [h for h in hosts if hosts_filter in h.roles or hosts_filter in (h.address, h.name, h.label)]
    if not chosen:
        roles = sorted({r for h in hosts for r in h.roles})
        names = ", ".join(h.label for h in hosts)
        raise UsageError(
            f"no host in {environment} has the role, name or address {hosts_filter!r}; "
            f"roles: {', '.join(roles) or 'none'}; hosts: {names}"
        )
    return chosen


def run_env(config: Config, environment: str, release: str, sha: str, user: str) -> dict[str, str]:
    return {
        **config.env,
        "SHIPBOT_APP": config.app,
        "SHIPBOT_RELEASE": release,
        "SHIPBOT_SHA": sha,
        "SHIPBOT_ENV": environment,
        "SHIPBOT_USER": user,
    }


def plan_deploy(
    config: Config,
    environment: str,
    sha: str,
    release: str,
    user: str,
    hosts_filter: str | None = None,
    secrets: Mapping[str, str] | None = None,
    frame: framing.Frame | None = None,
) -> DeployPlan:
    """The plan; ``frame`` (a fresh one by default) marks the sections of the first exec's bookkeeping."""
    frame = frame or framing.new()
    hosts = select_hosts(config, environment, hosts_filter)
    # secrets are placeholders here: their values reach the hosts on standard input (deploy.hosts.secret_input), never
    # in a command line, so no plan, dry run or remote ``ps`` ever holds one
    env = {**run_env(config, environment, release, sha, user), **dict.fromkeys(secrets or {}, remote.SECRET)}
    p, t = config.pipeline, config.timeouts
    env_config = config.environments[environment]
    dirs, files = config.shared.dirs, config.shared.files
    host_plans = []
    for host in hosts:
        d = host.deploy_to
        colours = host_colours(config, environment, host) if env_config.strategy == "blue_green" else None
        if not release:  # a rollback: hosts, variables, restart timeout and healthcheck; no release to prepare
            restart_only = Step("restart", "", t.restart) if p.restart else None
            host_plans.append(HostPlan(host, (), restart_only, p.healthcheck, env, colours))
            continue
        # one exec: probe and listing (bookkeeping; the colours too on a blue/green host), setup, upload|fetch, link
        body = [
            remote.setup(d, release, dirs, files),
            remote.unpack(d, release) if p.transfer == "upload" else remote.git_fetch(d, release, config.repo, sha),
            remote.finish_release(d, release, sha, dirs, files),
        ]
        name = "upload" if p.transfer == "upload" else "fetch"
        colour_probe = bluegreen.probe(colours.deploy_to, colours.address, colours.ports) if colours else ""
        first = guarded.prepare(d, body, frame, colour_probe)
        steps = [Step(name, first, t.transfer + t.command, p.transfer == "upload", bookkeeping=True)]
        for i, cmd in enumerate(p.build):
            steps.append(
                Step(
                    "build" if len(p.build) == 1 else f"build {i + 1}",
                    remote.in_release(d, release, env, cmd),
                    t.build,
                )
            )
        restart = Step("restart", remote.in_release(d, release, env, p.restart), t.restart) if p.restart else None
        host_plans.append(HostPlan(host, tuple(steps), restart, p.healthcheck, env, colours))

    migrate_host = migrate = None
    notes: list[str] = []
    if p.migrate and release:
        problems = migrate_problems(config, [environment])
        if problems:
            raise ConfigError(f"the config of {config.app}", problems)
        roles = set(p.migrate.roles)
        candidate = next((h for h in hosts if roles & set(h.roles)), None)
        if candidate is not None:
            migrate_host = candidate.name
            migrate = Step("migrate", remote.in_release(candidate.deploy_to, release, env, p.migrate.run), t.migrate)
        else:
            notes.append(
                f"migration skipped: the host filter {hosts_filter!r} leaves out every host with the role "
                f"{' or '.join(p.migrate.roles)}; deploy to those hosts too to migrate"
            )
    return DeployPlan(
        app=config.app,
        environment=environment,
        sha=sha,
        release=release,
        user=user,
        transfer=p.transfer,
        hosts=tuple(host_plans),
        migrate_host=migrate_host,
        migrate=migrate,
        keep_releases=config.keep_releases,
        keep_failed_releases=config.keep_failed_releases,
        restart_command=p.restart,
        secret_values=tuple(v for v in (secrets or {}).values() if v),
        strategy=env_config.strategy,
        batches=plan_batches(config, environment, [h.name for h in hosts]),
        max_failures=env_config.max_failures,
        pause=env_config.pause,
        notes=tuple(notes),
        layout=config.layout,
    )


def migrate_problems(config: Config, environments: Iterable[str] | None = None) -> list[str]:
    """One line per environment (all, or those named) where no host has a role of ``pipeline.migrate.roles``: its
    migration would never run. ``shipbot check`` reports them; a deploy there is refused before anything changes."""
    m = config.pipeline.migrate
    if m is None:
        return []
    problems = []
    for name in config.environments if environments is None else environments:
        hosts = config.environments[name].hosts
        if not any(set(m.roles) & set(h.roles) for h in hosts):
            present = ", ".join(sorted({r for h in hosts for r in h.roles})) or "none"
            problems.append(
                f"pipeline.migrate.roles: no host of {name} has the role {' or '.join(m.roles)}, so its migration "
                f"would never run (roles in {name}: {present})"
            )
    return problems


DEFAULT_BATCHES: dict[str, list[batch_rules.BatchEntry]] = {
    "all": ["100%"],
    "rolling": [1, "100%"],  # a canary, then the rest
    "blue_green": ["100%"],  # every host's idle colour staged, then traffic moves everywhere
}


def plan_batches(config: Config, environment: str, names: list[str]) -> tuple[tuple[str, ...], ...]:
    """The environment's hosts cut into batches; a ramp that does not add up for this many hosts is a
    :class:`ConfigError` naming the entry (``environments.production.batches[1]``)."""
    env = config.environments[environment]
    entries = env.batches if env.batches is not None else DEFAULT_BATCHES[env.strategy]
    cut, problems = batch_rules.split(names, entries)
    if problems:
        raise ConfigError(
            f"the config of {config.app}",
            [f"environments.{environment}.batches[{p.index}]: {p.message}" for p in problems],
        )
    return tuple(tuple(b) for b in cut)


def host_colours(config: Config, environment: str, host: Host) -> bluegreen.HostColours:
    env = config.environments[environment]
    bg = env.blue_green
    assert bg is not None  # the config requires the block with strategy blue_green
    own = next(
        (h.blue_green for h in env.hosts if h.address == host.address and (h.port or config.ssh.port) == host.port),
        None,
    )
    ports = (own.ports if own and own.ports else None) or bg.ports
    return bluegreen.HostColours(
        deploy_to=host.deploy_to,
        ports={"blue": ports.blue, "green": ports.green},
        address=bg.address,
        upstream=bg.nginx.upstream or config.app,
        upstream_file=bluegreen.upstream_path(host.deploy_to, bg.nginx.upstream_file),
        nginx_test=bg.nginx.test,
        nginx_reload=bg.nginx.reload,
        stop=bg.stop,
        verify_url=(own.verify_url if own and own.verify_url else None) or bg.verify.url,
        verify_expect=bg.verify.expect,
        verify_header=bg.verify.header,
        verify_retries=bg.verify.retries,
        verify_interval=bg.verify.interval,
        verify_timeout=bg.verify.timeout,
        keep_old=bg.keep_old,
        pid_file=bluegreen.upstream_path(host.deploy_to, bg.nginx.pid_file) if bg.nginx.pid_file else "",
        drain_timeout=bg.nginx.drain_timeout,
    )
