"""cli.cap_doctor and cli.cap_import: Capistrano 3.17's ``doctor:variables`` / ``doctor:servers`` output (recorded
from the real ``cap`` under tests/fixtures/capistrano) read back, Ruby's ``inspect`` literals, the custom tasks and
hooks of a project, the config built from them (valid for ``shipbot check``), and the one-line refusals."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cli import cap_import
from cli.cap_doctor import Custom, Raw, Server, Symbol, parse_servers, parse_variables, ruby_value, scan
from cli.operator_commands import release_line
from deploy.config.models import parse_config
from deploy.records import ReleaseRow

FIXTURES = Path(__file__).parents[1] / "fixtures" / "capistrano"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"shop"', "shop"),
        (r'"a \"quoted\" \\ back\nline \#{x}"', 'a "quoted" \\ back\nline #{x}'),
        (":airbrussh", Symbol("airbrussh")),
        (':"odd name"', Symbol("odd name")),
        ("3", 3),
        ("-1.5", -1.5),
        ("nil", None),
        ("false", False),
        ('["log", "tmp/cache"]', ["log", "tmp/cache"]),
        ("[]", []),
        ("{}", {}),
        ('{:keys=>["/k"], :forward_agent=>true, "x"=>nil}', {"keys": ["/k"], "forward_agent": True, "x": None}),
        ('{keys: ["/k"], port: 22}', {"keys": ["/k"], "port": 22}),  # Ruby 3.4's inspect
        ("#<Proc:0x000f /p/config/deploy.rb:4 (lambda)>", Raw("#<Proc:0x000f /p/config/deploy.rb:4 (lambda)>")),
        ('"unterminated', Raw('"unterminated')),
        ('["a" "b"]', Raw('["a" "b"]')),
    ],
)
def test_ruby_inspect_literals_are_read_and_the_rest_kept_as_text(text: str, expected: Any) -> None:
    assert expected == ruby_value(text)


def inspect(value: Any) -> str:
    """Ruby's ``inspect`` of a plain value."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("#{", "\\#{") + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, list):
        return "[" + ", ".join(inspect(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f":{k}=>{inspect(v)}" for k, v in value.items()) + "}"
    return str(value)


_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(_plain)
def test_every_plain_value_reads_back(value: Any) -> None:
    assert value == ruby_value(inspect(value))


@given(st.text())
def test_any_text_reads_without_error(text: str) -> None:
    parse_variables(text)
    parse_servers(text)
    ruby_value(text)


def test_doctor_variables_as_cap_prints_them() -> None:
    found = parse_variables((FIXTURES / "doctor-variables.txt").read_text())
    assert {
        "application": "shop",
        "branch": "main",
        "keep_releases": 3,
        "linked_dirs": ["log", "tmp/cache"],
        "linked_files": ["config/app.env"],
        "local_user": None,
        "format": Symbol("airbrussh"),
        "stage": Symbol("production"),
    }.items() <= found.items()
    assert ["/tmp/capx/fleet/client_key"] == found["ssh_options"]["keys"]


def test_doctor_servers_as_cap_prints_them() -> None:
    assert [
        Server("app1.example.com", None, None, ("app", "db"), {"primary": True}),
        Server("10.0.0.2", "deploy", 2222, ("web",), {"no_release": True}),
        Server("10.0.0.3", "deploy", None, ("worker",)),
    ] == parse_servers((FIXTURES / "doctor-servers-staging.txt").read_text())


PROJECT = {
    "Capfile": 'require "capistrano/setup"\nrequire "capistrano/deploy"\nrequire "capistrano/rails/migrations"\n',
    "config/deploy.rb": """\
set :application, "shop"  # after "x", "y" in a comment is no hook
namespace :deploy do
  desc "Restart"
  task :restart_app do
    on roles(:app) do
      execute :touch, "tmp/restart.txt"
    end
  end
  namespace :cache do
    task :warm do
      on roles(:web) { execute :curl, "localhost" }
    end
  end
end
task :seed do
end
before "deploy:starting", "deploy:cache:warm"
after :finishing, :seed
""",
}


def test_custom_tasks_hooks_and_plugins_are_found_with_their_namespaces() -> None:
    assert [
        Custom("plugin", "capistrano/rails/migrations", "Capfile:3"),
        Custom("task", "deploy:restart_app", "config/deploy.rb:4"),
        Custom("task", "deploy:cache:warm", "config/deploy.rb:10"),
        Custom("task", "seed", "config/deploy.rb:15"),
        Custom("hook", "before deploy:starting -> deploy:cache:warm", "config/deploy.rb:17"),
        Custom("hook", "after finishing -> seed", "config/deploy.rb:18"),
    ] == scan(PROJECT)


def test_each_is_named_with_the_shipbot_feature_that_replaces_it() -> None:
    assert [
        "pipeline.migrate (run: ..., roles: [db]) runs it once per deploy on a host with those roles",
        "pipeline.restart runs it on every host as a release goes live",
        "tasks.warm (run: ...), run with: shipbot task NAME ENV",
        "pipeline.build runs it in each new release before it goes live",
    ] == [
        Custom("plugin", "capistrano/rails/migrations", "").replacement(),
        Custom("task", "deploy:restart_app", "").replacement(),
        Custom("task", "deploy:cache:warm", "").replacement(),
        Custom("hook", "before deploy:updated -> assets:precompile", "").replacement(),
    ]


def test_the_config_built_from_two_stages_is_one_shipbot_check_accepts() -> None:
    production = parse_variables((FIXTURES / "doctor-variables.txt").read_text())
    staging = parse_variables((FIXTURES / "doctor-variables-staging.txt").read_text())
    servers = {
        "production": parse_servers((FIXTURES / "doctor-servers.txt").read_text()),
        "staging": parse_servers((FIXTURES / "doctor-servers-staging.txt").read_text()),
    }
    config, notes = cap_import.build(["production", "staging"], {"production": production, "staging": staging},
                                     servers, PROJECT)  # fmt: skip
    text = cap_import.render(config, notes, Path("/p"), ["production", "staging"])
    parsed = parse_config(yaml.safe_load(text), "shipbot.yml")
    staging_hosts = parsed.environments["staging"].hosts
    assert (
        ["production", "staging"],
        ["app1.example.com", "10.0.0.2", "10.0.0.3"],
        [["app", "db"], ["web"], ["worker"]],
        [None, "deploy", "deploy"],
        ["/srv/shop-staging"] * 3,
        "capistrano",
    ) == (
        list(parsed.environments),
        [h.address for h in staging_hosts],
        [h.roles for h in staging_hosts],
        [h.user for h in staging_hosts],
        [h.deploy_to for h in staging_hosts],
        parsed.layout,
    )
    assert "# - task deploy:restart_app (config/deploy.rb:4): pipeline.restart runs it on every host" in text


def test_a_folder_without_deploy_rb_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(cap_import.ImportRefused) as refused:
        cap_import.import_capistrano(tmp_path)
    assert f"{tmp_path} has no config/deploy.rb: pass the folder of a Capistrano project" == str(refused.value)


def project(folder: Path, capfile: str) -> Path:
    (folder / "config" / "deploy").mkdir(parents=True)
    (folder / "Capfile").write_text(capfile)
    (folder / "config" / "deploy.rb").write_text('set :application, "shop"\n')
    (folder / "config" / "deploy" / "production.rb").write_text('server "web1", roles: %w{app}\n')
    return folder


def test_without_cap_it_says_to_install_it_or_write_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(cap_import.ImportRefused) as refused:
        cap_import.import_capistrano(project(tmp_path, 'require "capistrano/setup"\n'))
    assert str(refused.value).startswith("cap is not installed: install Capistrano (Debian: apt-get install capistrano")


@pytest.mark.skipif(shutil.which("cap") is None, reason="cap is not installed (Debian: apt-get install capistrano)")
def test_a_plugin_gem_that_is_not_installed_is_named(tmp_path: Path) -> None:
    capfile = 'require "capistrano/setup"\nrequire "capistrano/deploy"\nrequire "capistrano/shipbot_nonesuch"\n'
    with pytest.raises(cap_import.ImportRefused) as refused:
        cap_import.import_capistrano(project(tmp_path, capfile))
    assert (
        f"cap production doctor:variables doctor:servers failed in {tmp_path}: it needs capistrano/shipbot_nonesuch, which is not "
        "installed: gem install capistrano-shipbot_nonesuch (or bundle install), then again"
    ) == str(refused.value)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(ReleaseRow("20260101120000", "a" * 40, "capistrano", "carol", rollback_target=True),
                     "20260101120000 aaaaaaaaaaaa  deployed by carol (capistrano), rollback goes here", id="target"),
        pytest.param(ReleaseRow("20260102120000", "b" * 40, "shipbot", "U1"),
                     "20260102120000 bbbbbbbbbbbb  deployed by U1 (shipbot), current", id="current"),
        pytest.param(ReleaseRow("20260103120000", None),
                     "20260103120000 -  in no history, no REVISION: never a rollback target", id="no-revision"),
    ],
)  # fmt: skip
def test_status_lists_each_release_with_its_history(row: ReleaseRow, expected: str) -> None:
    assert expected == release_line(row, "20260102120000")
