"""deploy.run.plan: what a deploy will do on each host, decided before any connection opens."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from deploy.config.models import Config, HealthCheck, parse_config
from deploy.errors import ConfigError, UsageError
from deploy.hosts import framing, guarded, remote
from deploy.ids import ReleaseIds, new_release_id
from deploy.run.plan import (
    DeployPlan,
    Host,
    HostPlan,
    Step,
    environment_hosts,
    migrate_problems,
    plan_deploy,
    select_hosts,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
FRAME = framing.Frame("0123456789abcdef" * 2)
RELEASE = "20261123090000"


def make_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "app": "shop",
        "repo": "git@example.com:acme/shop.git",
        "deploy_to": "/srv/shop",
        "environments": {
            "production": {
                "hosts": [
                    {"address": "web1", "roles": ["web", "migrate"]},
                    {"address": "web2", "roles": ["web"], "port": 2222, "user": "ops", "deploy_to": "/opt/shop"},
                    {"address": "worker1", "roles": ["worker"]},
                ]
            },
            "staging": {"hosts": [{"address": "stage1"}]},
        },
        "shared": {"files": ["config/db.yml"], "dirs": ["log"]},
        "pipeline": {
            "build": "make",
            "restart": "systemctl restart shop",
            "migrate": {"run": "./migrate"},
            "healthcheck": {"run": "./health"},
        },
        "env": {"RAILS_ENV": "production"},
    }
    data.update(overrides)
    return parse_config(data)


WEB1 = Host("web1", 22, "deploy", "/srv/shop", ("web", "migrate"))
WEB2 = Host("web2", 2222, "ops", "/opt/shop", ("web",))
WORKER1 = Host("worker1", 22, "deploy", "/srv/shop", ("worker",))


@pytest.mark.parametrize(
    ("host", "name"),
    [
        pytest.param(Host("web1", 22, "deploy", "/srv"), "web1", id="default-port-hidden"),
        pytest.param(Host("web1", 2222, "deploy", "/srv"), "web1:2222", id="other-port-shown"),
        pytest.param(Host("10.0.0.1", 22, "deploy", "/srv"), "10.0.0.1", id="ip-address"),
    ],
)
def test_hosts_are_named_by_address_plus_port_when_not_22(host: Host, name: str) -> None:
    assert name == host.name


def test_each_host_gets_the_config_defaults_unless_it_overrides_them() -> None:
    assert [WEB1, WEB2, WORKER1] == environment_hosts(make_config(), "production")


def test_the_ssh_section_sets_the_default_port_and_user() -> None:
    config = make_config(ssh={"user": "shipper", "port": 2200})
    expected = [
        Host("web1", 2200, "shipper", "/srv/shop", ("web", "migrate")),
        Host("web2", 2222, "ops", "/opt/shop", ("web",)),
        Host("worker1", 2200, "shipper", "/srv/shop", ("worker",)),
    ]
    assert expected == environment_hosts(config, "production")


def test_an_unknown_environment_lists_the_configured_ones() -> None:
    with pytest.raises(UsageError) as caught:
        environment_hosts(make_config(), "prod")
    assert "unknown environment 'prod' for shop; configured: production, staging" == str(caught.value)


@pytest.mark.parametrize(
    ("hosts_filter", "expected"),
    [
        pytest.param(None, [WEB1, WEB2, WORKER1], id="no-filter"),
        pytest.param("", [WEB1, WEB2, WORKER1], id="empty-filter"),
        pytest.param("web", [WEB1, WEB2], id="by-role"),
        pytest.param("migrate", [WEB1], id="by-second-role"),
        pytest.param("worker1", [WORKER1], id="by-address"),
        pytest.param("web2", [WEB2], id="by-address-with-port"),
        pytest.param("web2:2222", [WEB2], id="by-name-with-port"),
    ],
)
def test_a_host_filter_selects_by_role_address_or_name(hosts_filter: str | None, expected: list[Host]) -> None:
    assert expected == select_hosts(make_config(), "production", hosts_filter)


@pytest.mark.parametrize(
    ("environment", "hosts_filter", "message"),
    [
        pytest.param(
            "production",
            "db",
            "no host in production has the role, name or address 'db'; roles: migrate, web, worker; "
            "hosts: web1, web2:2222, worker1",
            id="lists-roles-and-hosts",
        ),
        pytest.param(
            "staging",
            "web",
            "no host in staging has the role, name or address 'web'; roles: none; hosts: stage1",
            id="environment-without-roles",
        ),
        pytest.param(
            "production",
            "web1:22",
            "no host in production has the role, name or address 'web1:22'; roles: migrate, web, worker; "
            "hosts: web1, web2:2222, worker1",
            id="default-port-is-not-part-of-the-name",
        ),
    ],
)
def test_a_filter_that_matches_nothing_says_what_could_match(environment: str, hosts_filter: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        select_hosts(make_config(), environment, hosts_filter)
    assert message == str(caught.value)


@pytest.mark.parametrize(
    ("now", "release"),
    [
        pytest.param(datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC), "20261123090000", id="utc"),
        pytest.param(datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "20260102030405", id="zero-padded"),
    ],
)
def test_release_ids_are_utc_timestamps(now: datetime, release: str) -> None:
    assert release == new_release_id(now)


def test_a_release_id_is_utc_even_for_a_time_in_another_zone() -> None:
    paris = timezone(timedelta(hours=2))
    assert "20261123090000" == new_release_id(datetime(2026, 11, 23, 11, 0, 0, tzinfo=paris))


def test_a_release_id_without_a_time_is_now_in_utc() -> None:
    before = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    release = new_release_id()
    after = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    assert (True, True) == (before <= release <= after, bool(re.fullmatch(r"\d{14}", release)))


def _stamp(seconds_from_now: float) -> str:
    return new_release_id(datetime.fromtimestamp(time.time() + seconds_from_now, UTC))


def _next_second(stamp: str) -> str:
    return new_release_id(datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC) + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("floor", "expected"),
    [
        pytest.param(lambda: "", lambda floor, got: got == _stamp(0), id="no earlier release: now"),
        pytest.param(lambda: "previous", lambda floor, got: got == _stamp(0), id="not a release id: ignored"),
        pytest.param(lambda: _stamp(-3600), lambda floor, got: got == _stamp(0), id="an older release: now"),
        pytest.param(lambda: _stamp(0), lambda floor, got: floor < got <= _stamp(0), id="this second: the next"),
        pytest.param(
            lambda: _stamp(3600), lambda floor, got: got == _next_second(floor), id="a clock far ahead: no wait"
        ),
    ],
)
async def test_a_release_id_comes_after_the_newest_release_any_process_named(
    floor: Callable[[], str], expected: Callable[[str, str], bool]
) -> None:
    newest = floor()
    started = time.monotonic()
    got = await ReleaseIds().next(newest)
    assert (True, True) == (expected(newest, got), time.monotonic() - started < ReleaseIds.MAX_WAIT)


async def test_two_release_ids_from_one_engine_differ_even_within_one_second() -> None:
    ids = ReleaseIds()
    first, second = await ids.next(), await ids.next()
    assert first < second


RUN_ENV = {
    "RAILS_ENV": "production",
    "SHIPBOT_APP": "shop",
    "SHIPBOT_RELEASE": RELEASE,
    "SHIPBOT_SHA": SHA,
    "SHIPBOT_ENV": "production",
    "SHIPBOT_USER": "U0ALICE",
}
EXPORTS = (
    f"export RAILS_ENV=production SHIPBOT_APP=shop SHIPBOT_RELEASE={RELEASE} SHIPBOT_SHA={SHA} "
    "SHIPBOT_ENV=production SHIPBOT_USER=U0ALICE; "
)


def test_the_first_hosts_steps_are_exact_command_lines_with_their_timeouts() -> None:
    plan = plan_deploy(make_config(), "production", SHA, RELEASE, "U0ALICE", frame=FRAME)
    rel = f"/srv/shop/releases/{RELEASE}"
    expected = HostPlan(
        host=WEB1,
        prepare=(
            Step(
                "upload",
                guarded.prepare(
                    "/srv/shop",
                    [
                        "mkdir -p /srv/shop/releases /srv/shop/shared /srv/shop/.shipbot /srv/shop/shared/log && "
                        "{ test -e /srv/shop/shared/config/db.yml || "
                        "{ printf '%s\\n' 'shared file /srv/shop/shared/config/db.yml is missing: create it on the host' >&2; exit 3; }; }"
                        f" && {{ test ! -e {rel} || {{ printf '%s\\n' 'release {rel} already exists' >&2; exit 3; }}; }}",
                        f"mkdir -p {rel} && tar -x -f - -C {rel}",
                        f"printf '%s\\n' {SHA} > {rel}/REVISION && "
                        f"mkdir -p {rel} && rm -rf {rel}/log && ln -s /srv/shop/shared/log {rel}/log && "
                        f"mkdir -p {rel}/config && rm -rf {rel}/config/db.yml && "
                        f"ln -s /srv/shop/shared/config/db.yml {rel}/config/db.yml && "
                        f'test "$(cat {rel}/REVISION)" = {SHA}',
                    ],
                    FRAME,
                ),
                660.0,
                stdin_archive=True,
                bookkeeping=True,
            ),
            Step("build", f"cd {rel} && {EXPORTS}make", 1800.0),
        ),
        restart=Step("restart", f"cd {rel} && {EXPORTS}systemctl restart shop", 120.0),
        healthcheck=HealthCheck(run="./health"),
        env=RUN_ENV,
    )
    assert expected == plan.hosts[0]


def test_a_plan_covers_every_selected_host_and_runs_the_migration_once() -> None:
    config = make_config()
    plan = plan_deploy(config, "production", SHA, RELEASE, "U0ALICE", frame=FRAME)
    dirs, files = ["log"], ["config/db.yml"]

    def host_plan(host: Host) -> HostPlan:
        d = host.deploy_to
        return HostPlan(
            host,
            (
                Step(
                    "upload",
                    guarded.prepare(
                        d,
                        [
                            remote.setup(d, RELEASE, dirs, files),
                            remote.unpack(d, RELEASE),
                            remote.finish_release(d, RELEASE, SHA, dirs, files),
                        ],
                        FRAME,
                    ),
                    660.0,
                    stdin_archive=True,
                    bookkeeping=True,
                ),
                Step("build", remote.in_release(d, RELEASE, RUN_ENV, "make"), 1800.0),
            ),
            Step("restart", remote.in_release(d, RELEASE, RUN_ENV, "systemctl restart shop"), 120.0),
            HealthCheck(run="./health"),
            RUN_ENV,
        )

    expected = DeployPlan(
        app="shop",
        environment="production",
        sha=SHA,
        release=RELEASE,
        user="U0ALICE",
        transfer="upload",
        hosts=(host_plan(WEB1), host_plan(WEB2), host_plan(WORKER1)),
        migrate_host="web1",
        migrate=Step("migrate", f"cd /srv/shop/releases/{RELEASE} && {EXPORTS}./migrate", 1800.0),
        keep_releases=5,
        keep_failed_releases=False,
        restart_command="systemctl restart shop",
        batches=(("web1", "web2:2222", "worker1"),),
    )
    assert expected == plan


def test_git_transfer_fetches_the_pinned_sha_on_the_host_instead_of_uploading() -> None:
    config = make_config(pipeline={"transfer": "git"}, timeouts={"transfer": "2m"})
    plan = plan_deploy(config, "staging", SHA, RELEASE, "U0ALICE")
    first = plan.hosts[0].prepare[0]
    fetch = remote.git_fetch("/srv/shop", RELEASE, "git@example.com:acme/shop.git", SHA)
    assert ("fetch", 180.0, False, True) == (first.name, first.timeout, first.stdin_archive, fetch in first.command)


def test_several_build_commands_are_numbered_steps_in_order() -> None:
    config = make_config(pipeline={"build": ["npm ci", "npm run build"]}, env={})
    plan = plan_deploy(config, "staging", SHA, RELEASE, "U0BOB")
    env = {
        "SHIPBOT_APP": "shop",
        "SHIPBOT_RELEASE": RELEASE,
        "SHIPBOT_SHA": SHA,
        "SHIPBOT_ENV": "staging",
        "SHIPBOT_USER": "U0BOB",
    }
    expected = [
        ("upload", 660.0),
        ("build 1", 1800.0),
        ("build 2", 1800.0),
    ]
    assert expected == [(s.name, s.timeout) for s in plan.hosts[0].prepare]
    assert remote.in_release("/srv/shop", RELEASE, env, "npm run build") == plan.hosts[0].prepare[2].command


@pytest.mark.parametrize(
    ("environment", "hosts_filter", "pipeline", "migrate_host"),
    [
        pytest.param("production", None, {"migrate": {"run": "m"}}, "web1", id="first-host-with-the-role"),
        pytest.param(
            "production", None, {"migrate": {"run": "m", "roles": ["web"]}}, "web1", id="first-of-several-candidates"
        ),
        pytest.param(
            "production", None, {"migrate": {"run": "m", "roles": ["db", "worker"]}}, "worker1", id="any-listed-role"
        ),
        pytest.param(
            "production", "web2", {"migrate": {"run": "m", "roles": ["web"]}}, "web2:2222", id="named-with-port"
        ),
        pytest.param("production", "worker", {"migrate": {"run": "m"}}, None, id="filtered-out"),
        pytest.param("production", None, {}, None, id="no-migration-configured"),
    ],
)
def test_the_migration_runs_on_the_first_selected_host_with_a_migrate_role(
    environment: str, hosts_filter: str | None, pipeline: dict[str, Any], migrate_host: str | None
) -> None:
    plan = plan_deploy(make_config(pipeline=pipeline), environment, SHA, RELEASE, "U0ALICE", hosts_filter)
    assert (migrate_host, migrate_host is not None) == (plan.migrate_host, plan.migrate is not None)


def test_a_migration_no_host_of_the_environment_can_run_is_a_config_error_naming_the_roles() -> None:
    config = make_config(pipeline={"migrate": {"run": "m", "roles": ["db", "schema"]}})
    with pytest.raises(ConfigError) as caught:
        plan_deploy(config, "production", SHA, RELEASE, "U0ALICE")
    assert [
        "pipeline.migrate.roles: no host of production has the role db or schema, so its migration would never run "
        "(roles in production: migrate, web, worker)",
        "pipeline.migrate.roles: no host of staging has the role db or schema, so its migration would never run "
        "(roles in staging: none)",
    ] == [*caught.value.problems, *migrate_problems(config, ["staging"])]


def test_a_host_filter_that_leaves_out_the_migrate_hosts_is_noted_in_the_plan() -> None:
    plan = plan_deploy(make_config(), "production", SHA, RELEASE, "U0ALICE", "worker")
    note = (
        "migration skipped: the host filter 'worker' leaves out every host with the role migrate; "
        "deploy to those hosts too to migrate"
    )
    assert ((note,), f"  {note}") == (plan.notes, plan.describe().splitlines()[1])


def test_secrets_are_read_from_standard_input_after_the_run_variables_and_never_written_in_a_command() -> None:
    config = make_config(env={"SHIPBOT_USER": "overridden", "RAILS_ENV": "production"})
    plan = plan_deploy(config, "production", SHA, RELEASE, "U0ALICE", secrets={"DATABASE_PASSWORD": "pa ss'word"})
    expected = {
        "SHIPBOT_USER": "U0ALICE",
        "RAILS_ENV": "production",
        "SHIPBOT_APP": "shop",
        "SHIPBOT_RELEASE": RELEASE,
        "SHIPBOT_SHA": SHA,
        "SHIPBOT_ENV": "production",
        "DATABASE_PASSWORD": remote.SECRET,
    }
    build = plan.hosts[0].prepare[-1].command
    assert (expected, True) == (dict(plan.hosts[0].env), build.endswith(f"; {remote.READ_SECRETS}make"))
    assert "pa ss" not in repr(plan)


def test_without_a_restart_command_there_is_no_restart_step() -> None:
    plan = plan_deploy(make_config(pipeline={}), "staging", SHA, RELEASE, "U0ALICE")
    assert (None, None, None) == (plan.hosts[0].restart, plan.restart_command, plan.restart_in(plan.hosts[0], "r", "s"))


@pytest.mark.parametrize(
    ("sha", "shown"),
    [
        pytest.param(
            "fedcba9876543210fedcba9876543210fedcba98", "SHIPBOT_SHA=fedcba9876543210fedcba9876543210fedcba98", id="sha"
        ),
        pytest.param(None, "SHIPBOT_SHA=''", id="unknown-sha"),
    ],
)
def test_restart_in_another_release_runs_there_with_that_releases_variables(sha: str | None, shown: str) -> None:
    plan = plan_deploy(make_config(), "production", SHA, RELEASE, "U0ALICE")
    expected = (
        "cd /opt/shop/releases/20261122170000 && export RAILS_ENV=production SHIPBOT_APP=shop "
        f"SHIPBOT_RELEASE=20261122170000 {shown} SHIPBOT_ENV=production SHIPBOT_USER=U0ALICE; systemctl restart shop"
    )
    assert expected == plan.restart_in(plan.hosts[1], "20261122170000", sha)


def test_dry_run_lists_every_step_on_every_host() -> None:
    config = make_config(shared={}, env={})
    plan = plan_deploy(config, "production", SHA, RELEASE, "U0ALICE", hosts_filter="web")
    exports = (
        f"export SHIPBOT_APP=shop SHIPBOT_RELEASE={RELEASE} SHIPBOT_SHA={SHA} "
        "SHIPBOT_ENV=production SHIPBOT_USER=U0ALICE; "
    )
    s, o = f"/srv/shop/releases/{RELEASE}", f"/opt/shop/releases/{RELEASE}"
    expected = "\n".join(
        [
            f"deploy shop 0123456789ab as release {RELEASE} to production",
            "  web1 (deploy, /srv/shop):",
            "    prepare upload: mkdir -p /srv/shop/releases /srv/shop/shared /srv/shop/.shipbot && "
            f"{{ test ! -e {s} || {{ printf '%s\\n' 'release {s} already exists' >&2; exit 3; }}; }} && "
            f"mkdir -p {s} && tar -x -f - -C {s} && "
            f"printf '%s\\n' {SHA} > {s}/REVISION && test \"$(cat {s}/REVISION)\" = {SHA}",
            f"    prepare build: cd {s} && {exports}make",
            f"    migrate: cd {s} && {exports}./migrate",
            f"    switch: test -d {s} && ln -sfn releases/{RELEASE} /srv/shop/.current.{RELEASE}.tmp && "
            f"mv -Tf /srv/shop/.current.{RELEASE}.tmp /srv/shop/current",
            f"    restart: cd {s} && {exports}systemctl restart shop",
            "    healthcheck: ./health",
            "  web2:2222 (ops, /opt/shop):",
            "    prepare upload: mkdir -p /opt/shop/releases /opt/shop/shared /opt/shop/.shipbot && "
            f"{{ test ! -e {o} || {{ printf '%s\\n' 'release {o} already exists' >&2; exit 3; }}; }} && "
            f"mkdir -p {o} && tar -x -f - -C {o} && "
            f"printf '%s\\n' {SHA} > {o}/REVISION && test \"$(cat {o}/REVISION)\" = {SHA}",
            f"    prepare build: cd {o} && {exports}make",
            f"    switch: test -d {o} && ln -sfn releases/{RELEASE} /opt/shop/.current.{RELEASE}.tmp && "
            f"mv -Tf /opt/shop/.current.{RELEASE}.tmp /opt/shop/current",
            f"    restart: cd {o} && {exports}systemctl restart shop",
            "    healthcheck: ./health",
        ]
    )
    assert expected == plan.describe()


def test_dry_run_of_a_bare_pipeline_shows_only_the_transfer_and_switch() -> None:
    config = make_config(pipeline={}, shared={})
    plan = plan_deploy(config, "staging", SHA, RELEASE, "U0ALICE")
    s = f"/srv/shop/releases/{RELEASE}"
    expected = [
        f"deploy shop 0123456789ab as release {RELEASE} to staging",
        "  stage1 (deploy, /srv/shop):",
        "    prepare upload: mkdir -p /srv/shop/releases /srv/shop/shared /srv/shop/.shipbot && "
        f"{{ test ! -e {s} || {{ printf '%s\\n' 'release {s} already exists' >&2; exit 3; }}; }} && "
        f"mkdir -p {s} && tar -x -f - -C {s} && "
        f"printf '%s\\n' {SHA} > {s}/REVISION && test \"$(cat {s}/REVISION)\" = {SHA}",
        f"    switch: test -d {s} && ln -sfn releases/{RELEASE} /srv/shop/.current.{RELEASE}.tmp && "
        f"mv -Tf /srv/shop/.current.{RELEASE}.tmp /srv/shop/current",
    ]
    assert expected == plan.describe().splitlines()


def test_dry_run_never_shows_a_secret_value() -> None:
    plan = plan_deploy(
        make_config(), "production", SHA, RELEASE, "U0ALICE", secrets={"DATABASE_PASSWORD": "hunter2-xyz"}
    )
    assert [] == [line for line in plan.describe().splitlines() if "hunter2-xyz" in line]
