"""The flagd document shipbot writes: valid against flagd's published schema for every definition, and served by
the real OpenFeature SDK and flagd provider as the definition says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.flags.flag_defs import FlagDef, document, name_problem, parse_percent, render, weights
from tests.flags.support import evaluate, validator

VALIDATOR = validator()
KEYS = st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,20}", fullmatch=True), max_size=5)


@given(tenths=st.integers(0, 1000), keys=KEYS, version=st.integers(1, 10**6))
def test_every_definition_is_a_valid_flagd_document(tenths: int, keys: list[str], version: int) -> None:
    doc = json.loads(render("shop", "staging", version, {"new-checkout": FlagDef(tenths).with_keys(tuple(keys))}))
    assert [e.message for e in VALIDATOR.iter_errors(doc)] == []
    assert doc["metadata"] == {"flagSetId": "shop/staging", "version": str(version)}
    entry = doc["flags"]["new-checkout"]
    assert (entry["state"], entry["variants"]) == ("ENABLED", {"on": True, "off": False})


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (FlagDef(0), {"defaultVariant": "off"}),
        (FlagDef(1000, ("U1",)), {"defaultVariant": "on"}),
        (
            FlagDef(100),
            {"defaultVariant": "off", "targeting": {"fractional": [
                {"cat": [{"var": "$flagd.flagKey"}, {"var": "targetingKey"}]}, ["on", 10], ["off", 90]]}},
        ),
        (
            FlagDef(0, ("U123", "U456")),
            {"defaultVariant": "off", "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["U123", "U456"]]},
                                                           "on", "off"]}},
        ),
    ],
)  # fmt: skip
def test_off_is_an_enabled_flag_serving_off_and_ramps_are_fractional(
    flag: FlagDef, expected: dict[str, object]
) -> None:
    entry = document("shop", "staging", 3, {"f": flag})["flags"]["f"]
    assert {k: v for k, v in entry.items() if k not in ("state", "variants")} == expected


@pytest.mark.parametrize(
    ("text", "tenths"),
    [("10", 100), ("10%", 100), ("0.5%", 5), ("0.1", 1), ("100", 1000), ("0", 0), ("100.1", None), ("0.05", None),
     ("-1", None), ("ten", None), ("1e2", None), ("", None)],
)  # fmt: skip
def test_percentages_are_0_to_100_with_at_most_one_decimal(text: str, tenths: int | None) -> None:
    assert parse_percent(text) == tenths


def test_weights_are_relative_integers() -> None:
    assert [weights(100), weights(5), weights(1000), weights(1)] == [(10, 90), (5, 995), (100, 0), (1, 999)]


@pytest.mark.parametrize(
    ("name", "ok"),
    [("new-checkout", True), ("a", True), ("v2.login_x", True), ("-x", False), ("New", False), ("on", False),
     ("in", False), ("a" * 65, False), ("<@U1>", False)],
)  # fmt: skip
def test_flag_names(name: str, ok: bool) -> None:
    assert (name_problem(name) is None) == ok


def test_a_ramp_serves_about_its_share_and_keeps_its_keys_as_it_grows(tmp_path: Path) -> None:
    """2,000 keys through the real flagd provider: 10% turns 150-250 on, and every one of them stays on at 20%."""
    keys = [f"user-{i}" for i in range(2000)]
    path = tmp_path / "flags.json"
    path.write_bytes(render("shop", "staging", 1, {"new-checkout": FlagDef(100)}))
    at10 = evaluate(path, "new-checkout", keys)
    path.write_bytes(render("shop", "staging", 2, {"new-checkout": FlagDef(200)}))
    at20 = evaluate(path, "new-checkout", keys)
    assert 150 <= sum(at10) <= 250
    assert 300 <= sum(at20) <= 500
    assert [k for k, a, b in zip(keys, at10, at20, strict=True) if a and not b] == []


def test_an_allow_list_is_on_for_its_keys_only(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_bytes(render("shop", "staging", 1, {"new-checkout": FlagDef(0, ("U123", "U456"))}))
    assert evaluate(path, "new-checkout", ["U123", "U456", "U789"]) == [True, True, False]
