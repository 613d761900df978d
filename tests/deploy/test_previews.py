"""Previews per branch, the pure parts: names, ports, the nginx server block, the config section (tables)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from deploy.config.models import parse_config
from deploy.config.preview_section import listen_address, parse_ports
from deploy.errors import ConfigError
from deploy.previews.layout import (
    PreviewRefused,
    branch_problem,
    choose_port,
    health_path,
    matches_branches,
    preview_name,
    remove_folder,
    server_block,
    site_path,
)


def short(branch: str) -> str:
    return hashlib.sha256(branch.encode()).hexdigest()[:8]


LONG = "demo/" + "a" * 70


@pytest.mark.parametrize(
    ("branch", "name"),
    [
        ("demo/xyz", "demo-xyz"),
        ("Demo/XYZ", "demo-xyz"),
        ("demo/new_login.v2", "demo-new-login-v2"),
        ("demo//x", None),  # refused below: '//'
        ("demo/--x--", "demo-x"),
        ("feature/JIRA-123_fix", "feature-jira-123-fix"),
        ("main", "main"),
        ("a" * 63, "a" * 63),
        ("a" * 64, f"{'a' * 54}-{short('a' * 64)}"),
        (LONG, f"demo-{'a' * 49}-{short(LONG)}"),
        ("demo/" + "x-" * 40, f"demo-{'x-' * 24}x-{short('demo/' + 'x-' * 40)}".replace("x--", "x-")),
    ],
)
def test_preview_names(branch: str, name: str | None) -> None:
    if name is None:
        with pytest.raises(PreviewRefused):
            preview_name(branch)
        return
    got = preview_name(branch)
    assert name == got
    assert len(got) <= 63
    assert got == got.strip("-")


def test_a_name_another_branch_has_gets_the_hash_and_the_owner_keeps_its_own() -> None:
    taken = {"demo-xyz": "Demo/XYZ"}

    assert f"demo-xyz-{short('demo/xyz')}" == preview_name("demo/xyz", taken)
    assert "demo-xyz" == preview_name("Demo/XYZ", taken)


@pytest.mark.parametrize(
    ("branch", "says"),
    [
        ("demo/../x", "may not contain '..'"),
        ("demo/" + "x" * 300, "longer than 200"),
        ("demo/café", "ASCII"),
        ("___", "no letter or digit"),
        ("", "empty"),
        ("demo/x;rm -rf /", "may not contain"),
        ("-x", "may not start with '-'"),
        ("demo/.hidden", "may start with '.'"),
    ],
)
def test_branches_that_would_make_an_unsafe_name_are_refused(branch: str, says: str) -> None:
    problem = branch_problem(branch)

    assert problem is not None and says in problem and "cannot get a preview" in problem
    with pytest.raises(PreviewRefused, match="cannot get a preview"):
        preview_name(branch)


@pytest.mark.parametrize(
    ("used", "port"),
    [(set(), 9000), ({9000}, 9001), ({9000, 9002}, 9001), ({9000, 9001, 9002}, None), ({8999, 9003}, 9000)],
)
def test_the_lowest_free_port_of_the_range(used: set[int], port: int | None) -> None:
    assert port == choose_port(9000, 9002, used)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9000-9099", (9000, 9099)), (" 9000 - 9000 ", (9000, 9000)), ("9099-9000", None), ("80-90", None), ("x", None)],
)
def test_port_ranges(text: str, expected: tuple[int, int] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_ports(text)
    else:
        assert expected == parse_ports(text)


@pytest.mark.parametrize(
    ("listen", "where"),
    [("80", ("127.0.0.1", 80)), ("*:8080", ("127.0.0.1", 8080)), ("10.0.0.5:80", ("10.0.0.5", 80))],
)
def test_where_the_health_check_reaches_nginx(listen: str, where: tuple[str, int]) -> None:
    assert where == listen_address(listen)


def test_the_server_block_proxies_the_preview_host_name_to_its_port() -> None:
    block = server_block("shop", "demo-xyz", "preview.example.com", "80", 9001, ["client_max_body_size 50m;"])

    assert "    listen 80;\n" in block
    assert "    server_name demo-xyz.preview.example.com;\n" in block
    assert "        proxy_pass http://127.0.0.1:9001;\n" in block
    assert "    client_max_body_size 50m;\n}\n" in block
    assert block.count("{") == block.count("}")
    with pytest.raises(ValueError):
        server_block("shop", "x;evil", "preview.example.com", "80", 9001)


def test_host_paths_only_ever_take_a_preview_name() -> None:
    assert "/etc/nginx/p/shop.demo-xyz.conf" == site_path("/etc/nginx/p", "shop", "demo-xyz")
    assert "rm -rf /srv/shop/previews/demo-xyz" == remove_folder("/srv/shop/previews/demo-xyz")
    for bad in ("/srv/shop/previews/..", "/srv/shop", "/srv/shop/previews/a b"):
        with pytest.raises(ValueError):
            remove_folder(bad)
    with pytest.raises(ValueError):
        site_path("/etc/nginx/p", "shop", "../x")


def config(**previews: Any) -> dict[str, Any]:
    return {
        "app": "shop",
        "repo": "/srv/git/shop.git",
        "deploy_to": "/srv/shop",
        "environments": {"staging": {"hosts": [{"address": "10.0.0.1"}]}},
        "pipeline": {"restart": "./start.sh"},
        "previews": {
            "branches": "demo/*",
            "hosts": [{"address": "10.0.0.9"}],
            "domain": "preview.example.com",
            "nginx": {"sites_dir": "/etc/nginx/shipbot-previews"},
            **previews,
        },
    }


def test_a_previews_section_with_its_defaults() -> None:
    previews = parse_config(config()).previews

    assert previews is not None
    assert ["demo/*"] == previews.branches
    assert (9000, 9099) == previews.port_range
    assert 48 * 3600 == previews.ttl
    assert ("nginx -t", "nginx -s reload", "80") == (previews.nginx.test, previews.nginx.reload, previews.nginx.listen)


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ({"domain": "Preview.Example.com"}, "previews.domain"),
        ({"domain": "localhost"}, "previews.domain"),
        ({"ports": "9100-9000"}, "previews.ports"),
        ({"ttl": "0s"}, "previews.ttl"),
        ({"nginx": {"sites_dir": "relative/dir"}}, "previews.nginx.sites_dir"),
        ({"nginx": {"sites_dir": "/etc/nginx/p", "extra": ["a;\nb;"]}}, "previews.nginx.extra[0]"),
        ({"hosts": []}, "previews.hosts"),
        ({"branches": []}, "previews.branches"),
        ({"channel": "#deploys"}, "previews.channel"),
        ({"health_path": "health"}, "previews.health_path"),
        ({"colour": "blue"}, "previews.colour"),
    ],
)
def test_config_problems_name_the_key(keys: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(config(**keys))
    assert says in str(err.value)


def test_previews_need_a_restart_command() -> None:
    data = config()
    del data["pipeline"]["restart"]

    with pytest.raises(ConfigError, match="pipeline.restart must start a preview"):
        parse_config(data)


@pytest.mark.parametrize(
    ("keys", "path"),
    [
        ({}, "/"),
        ({"health_path": "/up"}, "/up"),
        (
            {"pipeline": {"restart": "x", "healthcheck": {"run": "curl -fsS http://127.0.0.1:8000/health?x=1"}}},
            "/health?x=1",
        ),
        ({"pipeline": {"restart": "x", "healthcheck": {"run": "./health.sh"}}}, "/"),
    ],
)
def test_the_health_path_asked_through_nginx(keys: dict[str, Any], path: str) -> None:
    data = config(**{k: v for k, v in keys.items() if k != "pipeline"})
    data["pipeline"] = keys.get("pipeline", data["pipeline"])

    assert path == health_path(parse_config(data))


@pytest.mark.parametrize(
    ("globs", "branch", "matches"),
    [
        ("demo/*", "demo/xyz", True),
        ("demo/*", "demo/a/b", True),
        ("demo/*", "main", False),
        (["demo/*", "preview-*"], "preview-1", True),
        ("demo/*", "Demo/x", False),
    ],
)
def test_which_pushes_make_a_preview(globs: Any, branch: str, matches: bool) -> None:
    previews = parse_config(config(branches=globs)).previews
    assert previews is not None
    assert matches == matches_branches(previews, branch)
