"""The config keys of deploy on push: each mistake named with its key path."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.config.models import parse_config
from deploy.errors import ConfigError


def data(env: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    staging = {"hosts": [{"address": "10.0.0.1"}], **(env or {})}
    return {"app": "shop", "repo": "git@github.com:acme/shop.git", "deploy_to": "/srv/shop",
            "environments": {"staging": staging}, **top}  # fmt: skip


def test_the_keys_read_back() -> None:
    config = parse_config(
        data(
            {"auto_deploy": {"branch": "main", "poll": "2m"}, "notify": ["C0DEPLOYS"]},
            source="acme/shop",
            release_tags="v*",
        )
    )
    env = config.environments["staging"]
    assert env.auto_deploy is not None and ("main", None, 120.0) == (
        env.auto_deploy.branch, env.auto_deploy.tags, env.auto_deploy.poll
    )  # fmt: skip
    assert (["C0DEPLOYS"], "acme/shop", "v*") == (env.notify, config.source, config.release_tags)
    plain = parse_config(data())
    assert (None, [], None, None) == (
        plain.environments["staging"].auto_deploy, plain.environments["staging"].notify, plain.source,
        plain.release_tags,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (data({"auto_deploy": {}}), "environments.staging.auto_deploy: auto_deploy takes exactly one of branch"),
        (data({"auto_deploy": {"branch": "main", "tags": "v*"}}), "takes exactly one of branch"),
        (data({"auto_deploy": {"tags": "v*", "poll": "1m"}}), "poll needs branch"),
        (data({"auto_deploy": {"branch": "main", "poll": "0.5s"}}), "poll needs branch and is at least 1s"),
        (data({"auto_deploy": {"branch": "-x"}}), "environments.staging.auto_deploy.branch: a ref may not start with"),
        (data({"auto_deploy": {"tags": "v$(reboot)*"}}), "environments.staging.auto_deploy.tags: 'v$(reboot)*' is not"),
        (data({"auto_deploy": {"branch": "main", "on": "push"}}), "environments.staging.auto_deploy.on: unknown key"),
        (data({"notify": "C0DEPLOYS"}), "environments.staging.notify"),
        (data(source="https://github.com/acme/shop"), "source: 'https://github.com/acme/shop' is not owner/name"),
        (data(release_tags="v*;rm"), "release_tags: 'v*;rm' is not a ref pattern"),
    ],
)
def test_mistakes_name_the_key(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config)
    assert any(problem in line for line in caught.value.problems), caught.value.problems
