"""The promotion order: which environment takes which commit (pure), and how a wrong order is reported at load."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.config.models import parse_config
from deploy.delivery.promotion import PromotionBlock, order_problem, promotion_block
from deploy.errors import ConfigError

SHA = "abc1234" + "0" * 33


@pytest.mark.parametrize(
    ("source", "succeeded_on", "expected"),
    [
        (None, [], None),  # no rule: anything goes
        (None, ["preview"], None),
        ("staging", ["staging"], None),
        ("staging", ["preview", "staging", "staging"], None),
        ("staging", [], PromotionBlock("production", "staging", SHA, ())),
        ("staging", ["preview"], PromotionBlock("production", "staging", SHA, ("preview",))),
        ("staging", ["qa", "preview", "qa"], PromotionBlock("production", "staging", SHA, ("preview", "qa"))),
        ("staging", ["production"], PromotionBlock("production", "staging", SHA, ("production",))),
    ],
)
def test_a_commit_goes_only_where_its_source_saw_it_succeed(
    source: str | None, succeeded_on: list[str], expected: PromotionBlock | None
) -> None:
    assert promotion_block("production", source, SHA, succeeded_on) == expected


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"staging": None, "production": "staging"}, None),
        ({"dev": None, "staging": "dev", "production": "staging"}, None),
        ({"staging": None, "production": None}, None),
        ({"staging": None, "production": "stagin"}, ("production", "'stagin' is not an environment of this app")),
        ({"production": "production"}, ("production", "'production' cannot promote from itself")),
        ({"a": "b", "b": "a"}, ("a", "the promotion order goes round in a circle (a -> b -> a)")),
        (
            {"x": None, "a": "c", "b": "a", "c": "b"},
            ("a", "the promotion order goes round in a circle (a -> c -> b -> a)"),
        ),
    ],
)
def test_the_order_names_an_environment_and_never_comes_back(
    sources: dict[str, str | None], expected: tuple[str, str] | None
) -> None:
    found = order_problem(sources)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found[0] == expected[0] and found[1].startswith(expected[1])


def _config(production: dict[str, Any], staging: dict[str, Any] | None = None) -> dict[str, Any]:
    host = {"address": "10.0.0.1"}
    return {
        "app": "shop",
        "repo": "/srv/git/shop.git",
        "deploy_to": "/srv/shop",
        "environments": {
            "staging": {"hosts": [host], **(staging or {})},
            "production": {"hosts": [{"address": "10.0.0.2"}], **production},
        },
    }


@pytest.mark.parametrize(
    ("production", "staging", "problem"),
    [
        (
            {"promote_from": "stagin"},
            None,
            "environments.production.promote_from: 'stagin' is not an environment of this app "
            "(environments: production, staging)",
        ),
        (
            {"promote_from": "staging"},
            {"promote_from": "production"},
            "environments.staging.promote_from: the promotion order goes round in a circle "
            "(staging -> production -> staging); one of them must take any commit",
        ),
    ],
)
def test_a_wrong_order_is_one_clear_line_at_load(
    production: dict[str, Any], staging: dict[str, Any] | None, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_config(production, staging), "shop.yml")
    assert err.value.problems == [problem]


def test_a_good_order_loads() -> None:
    config = parse_config(_config({"promote_from": "staging"}), "shop.yml")
    assert config.environments["production"].promote_from == "staging"
    assert config.environments["staging"].promote_from is None
