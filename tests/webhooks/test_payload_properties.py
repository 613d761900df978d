"""Property tests: whatever JSON (or bytes) a forge, or someone holding its secret, sends, the payload parser raises
only PayloadError (400 or 422 naming a field), and a Push it returns holds only checked values: a ref git takes,
full commit ids, capped text."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.push_rules import Push
from deploy.delivery.refs import ref_problem
from webhooks.payloads import MAX_COMMITS, MAX_NAME, MAX_SUBJECT, PayloadError, parse
from webhooks.server import PROVIDERS

EVENTS = {"github": {"x-github-event": "push"}, "gitlab": {"x-gitlab-event": "Push Hook"},
          "gitea": {"x-gitea-event": "push"}}  # fmt: skip
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
HOSTILE_TEXT = [
    "--output=/tmp/x", "-n1", "--upload-pack=id", "HEAD", "main..evil", "refs/heads/demo/$(id)", "refs/heads/a..b",
    "refs/heads/-x", "refs/heads/main", "refs/tags/v1", "--- shipbot-preamble-end", "\x00", "\n", "é", "🚀",
    SHA, SHA.upper(), "0" * 40, "a" * 64, "<!channel>", "`rm -rf`",
]  # fmt: skip
text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=80))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                      max_leaves=8)  # fmt: skip
commit = st.fixed_dictionaries(
    {"id": st.one_of(st.just(SHA), text)},
    optional={"author": st.one_of(values, st.fixed_dictionaries({"name": values})), "message": values},
)
payloads = st.fixed_dictionaries(
    {"ref": st.one_of(st.sampled_from(["refs/heads/main", "refs/tags/v1.0"]), values)},
    optional={
        "after": st.one_of(st.just(SHA), values),
        "before": st.one_of(st.just("0" * 40), values),
        "commits": st.one_of(st.lists(commit, max_size=4), values),
        "repository": values,
        "project": values,
        "pusher": values,
        "user_username": values,
    },
)


def _checked(push: Push) -> None:
    name = push.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    assert push.ref != name and ref_problem(name) is None
    assert COMMIT_ID.fullmatch(push.after) and (push.before == "" or COMMIT_ID.fullmatch(push.before))
    assert len(push.commits) <= MAX_COMMITS and len(push.pusher) <= 100
    for c in push.commits:
        assert COMMIT_ID.fullmatch(c.sha) and len(c.author) <= MAX_NAME and len(c.subject) <= MAX_SUBJECT
        assert "\n" not in c.subject


@settings(max_examples=400)
@given(st.sampled_from(PROVIDERS), payloads)
def test_any_payload_is_a_checked_push_or_a_refusal_naming_what_is_wrong(provider: str, data: dict[str, Any]) -> None:
    try:
        event = parse(provider, dict(EVENTS[provider]), json.dumps(data).encode())
    except PayloadError as err:
        assert err.status in (400, 422) and "\n" not in str(err) and len(str(err)) < 400
        if err.status == 422:
            assert err.field and repr(err.field) in str(err)
        return
    assert isinstance(event, Push)
    _checked(event)


@given(st.sampled_from(PROVIDERS), st.binary(max_size=300), st.sampled_from(["application/json",
       "application/x-www-form-urlencoded"]))  # fmt: skip
def test_any_bytes_are_refused_as_a_payload_error(provider: str, body: bytes, content_type: str) -> None:
    try:
        event = parse(provider, {**EVENTS[provider], "content-type": content_type}, body)
    except PayloadError as err:
        assert err.status in (400, 422)
        return
    assert isinstance(event, Push)
    _checked(event)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(PROVIDERS), st.sampled_from(["message", "author", "pusher"]))
def test_megabyte_fields_come_out_capped(provider: str, where: str) -> None:
    huge = "é-" * (512 * 1024)
    data: dict[str, Any] = {"ref": "refs/heads/main", "after": SHA, "before": SHA,
                            "commits": [{"id": SHA, "message": huge if where == "message" else "subject",
                                         "author": {"name": huge if where == "author" else "Ada"}}],
                            "pusher": {"login": huge}, "user_username": huge}  # fmt: skip
    event = parse(provider, dict(EVENTS[provider]), json.dumps(data).encode())
    assert isinstance(event, Push)
    _checked(event)
