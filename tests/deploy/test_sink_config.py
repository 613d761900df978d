"""The notify: list's sinks and the deployments: block: a plain string stays a Slack channel, each bad key gets
one message naming its path, and shipbot check names every variable a sink needs that is not set."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.config.models import parse_config, secret_problems
from deploy.errors import ConfigError
from deploy.notify.outbox import Route, routes_of
from deploy.notify.sink_config import slack_channels


def _config(notify: list[Any], **extra: Any) -> dict[str, Any]:
    env = {"hosts": [{"address": "10.0.0.1"}], "notify": notify, **extra.pop("env", {})}
    return {"app": "shop", "repo": "/srv/git/shop.git", "deploy_to": "/srv/shop",
            "environments": {"staging": env}, **extra}  # fmt: skip


NOTIFY = [
    "C0123456",
    {"webhook": "https://hooks.example.com/shipbot", "secret_env": "SHIPBOT_HOOK_SECRET"},
    {"teams": {"url_env": "TEAMS_DEPLOYS_URL"}},
    {"irc": {"server": "irc.example.com", "port": 6697, "tls": True, "channel": "#deploys", "nick": "shipbot",
             "password_env": "IRC_PASS"}},
    "C0OTHER",
]  # fmt: skip


def test_the_issue_example_parses_and_routes_every_sink_beside_the_slack_channels() -> None:
    config = parse_config(
        _config(NOTIFY, env={"production": True, "url": "https://shop.example.com"},
                deployments={"github": {"repo": "acme/shop", "token_env": "GITHUB_TOKEN"}})
    )  # fmt: skip
    env = config.environments["staging"]
    assert ("C0123456", "C0OTHER") == slack_channels(env.notify)
    assert [
        Route("webhook", {"url": "https://hooks.example.com/shipbot", "secret_env": "SHIPBOT_HOOK_SECRET"}),
        Route("teams", {"url_env": "TEAMS_DEPLOYS_URL"}),
        Route("irc", {"server": "irc.example.com", "port": 6697, "tls": True, "channel": "#deploys",
                      "nick": "shipbot", "password_env": "IRC_PASS"}),
        Route("github", {"repo": "acme/shop", "token_env": "GITHUB_TOKEN", "api_url": "https://api.github.com",
                         "production": True, "environment_url": "https://shop.example.com"}),
    ] == routes_of(config)["staging"]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"webhook": "ftp://hooks.example.com", "secret_env": "S"},
         "environments.staging.notify[1].webhook: 'ftp://hooks.example.com' is not an http:// or https:// URL"),
        ({"webhook": "https://hooks.example.com"}, "environments.staging.notify[1].secret_env: Field required"),
        ({"teams": {"url_env": "1URL"}}, "environments.staging.notify[1].teams.url_env: '1URL' is not an environment "
         "variable name"),
        ({"teams": {"url_env": "T", "colour": "red"}}, "environments.staging.notify[1].teams.colour: unknown key"),
        ({"irc": {"server": "irc.example.com", "channel": "deploys"}},
         "environments.staging.notify[1].irc.channel: 'deploys' is not an IRC channel"),
        ({"irc": {"server": "irc.example.com", "channel": "#d", "port": 0}},
         "environments.staging.notify[1].irc.port: Input should be greater than or equal to 1"),
        ({"slack": "C1"}, "environments.staging.notify[1]: each entry is a Slack channel id, or one of"),
        ({"webhook": "https://a.example.com", "teams": {"url_env": "T"}, "secret_env": "S"},
         "environments.staging.notify[1]: each entry is a Slack channel id, or one of"),
    ],
)  # fmt: skip
def test_each_bad_sink_gets_one_message_naming_its_key_path(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(_config(["C0123456", entry]))
    assert 1 == len(refused.value.problems)
    assert refused.value.problems[0].startswith(problem)


def test_a_forge_block_names_its_bad_keys() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(_config(["C1"], deployments={"github": {"repo": "shop", "token_env": "T"},
                                                  "gitlab": {"project": "g/s", "token_env": "T"}}))  # fmt: skip
    assert ["deployments.github.repo: 'shop' is not owner/name (e.g. acme/shop) (got 'shop')"] == refused.value.problems
    with pytest.raises(ConfigError) as both:
        parse_config(_config(["C1"], deployments={"github": {"repo": "acme/shop"}, "gitlab": {"project": "g/s"}}))
    assert ["deployments: deployments takes one forge: github or gitlab, not both"] == both.value.problems


def test_converge_auto_needs_a_slack_channel_not_just_a_sink() -> None:
    entry = {"webhook": "https://hooks.example.com", "secret_env": "S"}
    with pytest.raises(ConfigError) as refused:
        parse_config(_config([entry], env={"converge": "auto"}))
    assert ["environments.staging: converge: auto reports its runs in chat: list a Slack channel id under notify"] == (
        refused.value.problems
    )


def test_check_names_every_variable_that_is_not_set() -> None:
    config = parse_config(_config(NOTIFY, deployments={"gitlab": {"project": "acme/shop", "token_env": "GL"}}))
    assert [
        "environments.staging.notify[2].teams.url_env: the variable TEAMS_DEPLOYS_URL is not set",
        "environments.staging.notify[3].irc.password_env: the variable IRC_PASS is not set",
        "deployments.gitlab.token_env: the variable GL is not set",
    ] == secret_problems(config, {"SHIPBOT_HOOK_SECRET": "whsec_x"})
