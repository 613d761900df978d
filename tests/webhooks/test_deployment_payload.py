"""GitHub's ``deployment`` event parsed from GitHub's documented example (tests/fixtures/github), its refusals, and
property tests: whatever JSON (or bytes) arrives, the parser raises only PayloadError (400 or 422 naming a field) and
a DeploymentEvent it returns holds only checked values (a full commit id, a positive id, capped text)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.forge_deployments import DeploymentEvent, description
from webhooks.deployment_payload import MAX_TEXT, NotADeployment, parse_deployment
from webhooks.payloads import PayloadError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "github" / "deployment.payload.json"
HEADERS = {"x-github-event": "deployment", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def documented() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def parsed(data: dict[str, Any], headers: dict[str, str] | None = None) -> DeploymentEvent | NotADeployment:
    return parse_deployment(headers or HEADERS, json.dumps(data).encode())


def test_githubs_documented_deployment_event_is_read_as_it_is() -> None:
    expected = DeploymentEvent(
        provider="github", delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958", deployment_id="145988746",
        repository="Codertocat/Hello-World", sha=SHA, ref="master", task="deploy", environment="production",
        creator="Codertocat", shipbot_run="",
    )  # fmt: skip
    assert expected == parsed(documented())


def test_the_form_encoded_body_github_can_send_is_read_too() -> None:
    body = urlencode({"payload": json.dumps(documented())}).encode()
    event = parse_deployment({**HEADERS, "content-type": "application/x-www-form-urlencoded"}, body)
    assert isinstance(event, DeploymentEvent) and SHA == event.sha


@pytest.mark.parametrize(
    ("payload", "run"),
    [({"shipbot_run_id": "r-0", "shipbot_app": "shop"}, "r-0"), ({"shipbot_run_id": 7}, ""),
     ({"shipbot": {"run_id": "r-1"}}, "r-1"), (json.dumps({"shipbot_run_id": "r-2"}), "r-2"),
     ({"shipbot": "r-3"}, ""), ("not json", ""), ([1], "")],
)  # fmt: skip
def test_a_deployment_shipbot_created_is_known_by_its_payload(payload: Any, run: str) -> None:
    data = documented()
    data["deployment"]["payload"] = payload
    event = parsed(data)
    assert isinstance(event, DeploymentEvent) and run == event.shipbot_run


def test_an_action_other_than_created_is_not_a_new_deployment() -> None:
    data = documented()
    data["action"] = "deleted"
    assert NotADeployment("deleted") == parsed(data)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (lambda d: d["deployment"].update(sha="master"), 422, "deployment.sha"),
        (lambda d: d["deployment"].update(sha="f95f852"), 422, "deployment.sha"),
        (lambda d: d["deployment"].update(id=-1), 422, "deployment.id"),
        (lambda d: d["deployment"].update(id=True), 400, "deployment.id"),
        (lambda d: d["deployment"].update(id="145988746"), 400, "deployment.id"),
        (lambda d: d["deployment"].pop("environment"), 400, "deployment.environment"),
        (lambda d: d["deployment"].update(environment=""), 422, "deployment.environment"),
        (lambda d: d["deployment"].update(environment="p" * (MAX_TEXT + 1)), 422, "deployment.environment"),
        (lambda d: d.pop("repository"), 400, "repository"),
        (lambda d: d.update(deployment=[]), 400, ""),
    ],
)
def test_a_malformed_deployment_is_refused_naming_the_field(change: Any, status: int, field: str) -> None:
    data = copy.deepcopy(documented())
    change(data)
    with pytest.raises(PayloadError) as err:
        parsed(data)
    assert (status, field) == (err.value.status, err.value.field)


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b"\xff\xfe", b'{"deployment": 1}', b"[" * 100_000])
def test_a_body_that_is_not_a_deployment_payload_is_a_400(body: bytes) -> None:
    with pytest.raises(PayloadError) as err:
        parse_deployment(HEADERS, body)
    assert 400 == err.value.status


def test_huge_text_fields_are_kept_capped_and_as_data() -> None:
    data = documented()
    data["deployment"].update(ref="r" * 1_000_000, task="t\x00" * 1_000_000)
    data["deployment"]["creator"]["login"] = "\u202e" * 500_000
    event = parsed(data)
    assert isinstance(event, DeploymentEvent)
    assert (MAX_TEXT, MAX_TEXT, MAX_TEXT) == (len(event.ref), len(event.task), len(event.creator))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", ""), ("one\ntwo", "one"), ("\n\n  x  \n", "x"), ("a\x00b\x1b[31mc", "ab[31mc"), ("é" * 200, "é" * 139 + "…")],
)  # fmt: skip
def test_a_status_description_is_one_printable_line_github_takes(text: str, expected: str) -> None:
    assert expected == description(text)
    assert len(description(text)) <= 140


HOSTILE = ["\x00", "\n", "\r\n", "é", "🚀", "<!channel>", "`rm -rf /`", "$(id)", "../../etc", SHA, SHA.upper(),
           "0" * 40, "a" * 64, "deploy", "production", "\ud7ff", "\u202e"]  # fmt: skip
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                      max_leaves=8)  # fmt: skip
deployments = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.integers(min_value=-3, max_value=2**63), values),
        "sha": st.one_of(st.just(SHA), st.just(SHA.upper()), values),
        "ref": values, "task": values, "environment": values, "payload": values,
        "creator": st.one_of(values, st.fixed_dictionaries({"login": values})),
    },
)  # fmt: skip
events = st.fixed_dictionaries(
    {"deployment": st.one_of(deployments, values)},
    optional={"action": values, "repository": st.one_of(values, st.fixed_dictionaries({"full_name": values}))},
)


def _checked(event: DeploymentEvent) -> None:
    assert COMMIT_ID.fullmatch(event.sha)
    assert event.deployment_id.isdigit() and int(event.deployment_id) > 0
    for value in (event.ref, event.task, event.creator, event.environment, event.repository, event.shipbot_run):
        assert isinstance(value, str) and len(value) <= MAX_TEXT
    assert event.environment and event.repository


@settings(max_examples=400)
@given(events)
def test_any_json_gives_a_checked_event_or_a_payload_error(data: dict[str, Any]) -> None:
    try:
        event = parsed(data)
    except PayloadError as err:
        assert err.status in (400, 422)
        return
    if isinstance(event, DeploymentEvent):
        _checked(event)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_payload_error_or_an_event(body: bytes) -> None:
    try:
        parse_deployment(HEADERS, body)
    except PayloadError as err:
        assert 400 == err.status
