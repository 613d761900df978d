"""The providers' documented payloads and signatures, parsed and checked (pure tables)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from commands.push_rules import ZERO_SHA, Push
from webhooks.payloads import NotAPush, PayloadError, Ping, parse
from webhooks.signatures import signed

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "It's a Secret to Everybody"


def body(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


@pytest.mark.parametrize(
    ("provider", "headers", "name", "ref", "after", "pusher", "urls", "names", "first_commit"),
    [
        pytest.param(
            "github", {"x-github-event": "push", "x-github-delivery": "d1"}, "github_push.json", "refs/heads/master",
            "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "Codertocat",
            ("https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git",
             "git://github.com/Codertocat/Hello-World.git", "https://github.com/Codertocat/Hello-World"),
            ("Codertocat/Hello-World",), "Initial commit", id="github-branch-push",
        ),
        pytest.param(
            "github", {"x-github-event": "push"}, "github_tag_deletion.json", "refs/tags/simple-tag", ZERO_SHA,
            "Codertocat", None, ("Codertocat/Hello-World",), None, id="github-tag-deletion",
        ),
        pytest.param(
            "gitlab", {"x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": "u1"}, "gitlab_push.json",
            "refs/heads/master", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "jsmith",
            ("http://example.com/mike/diaspora.git", "git@example.com:mike/diaspora.git",
             "http://example.com/mike/diaspora", "http://example.com/mike/diaspora.git",
             "git@example.com:mike/diaspora.git"),
            ("mike/diaspora",), "fixed readme", id="gitlab-branch-push",
        ),
        pytest.param(
            "gitlab", {"x-gitlab-event": "Tag Push Hook"}, "gitlab_tag_push.json", "refs/tags/v1.0.0",
            "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", "John Smith", None, ("jsmith/example",), None,
            id="gitlab-tag-push",
        ),
        pytest.param(
            "gitea", {"x-gitea-event": "push", "x-gitea-delivery": "f6266f16"}, "gitea_push.json",
            "refs/heads/develop", "bffeb74224043ba2feb48d137756c8a9331c449a", "gitea",
            ("http://localhost:3000/gitea/webhooks.git", "ssh://gitea@localhost:2222/gitea/webhooks.git",
             "http://localhost:3000/gitea/webhooks"),
            ("gitea/webhooks",), "Webhooks Yay!", id="gitea-branch-push",
        ),
    ],
)  # fmt: skip
def test_documented_payloads_parse_into_a_push(
    provider: str,
    headers: dict[str, str],
    name: str,
    ref: str,
    after: str,
    pusher: str,
    urls: tuple[str, ...] | None,
    names: tuple[str, ...],
    first_commit: str | None,
) -> None:
    push = parse(provider, headers, body(name))
    assert isinstance(push, Push)
    assert (push.ref, push.after, push.pusher) == (ref, after, pusher)
    assert push.delivery == headers.get(f"x-{provider}-delivery", headers.get("x-gitlab-event-uuid", ""))
    if urls is not None:
        assert urls == push.repository_urls
    assert names == push.repository_names
    assert (push.commits[0].subject if push.commits else None) == first_commit
    assert push.deleted == (after == ZERO_SHA)


@pytest.mark.parametrize(
    ("provider", "headers", "raw", "expected"),
    [
        pytest.param("github", {"x-github-event": "ping", "x-github-delivery": "p1"}, body("github_ping.json"),
                     Ping("p1"), id="github-ping"),
        pytest.param("github", {"x-github-event": "issues"}, b"{}", NotAPush("issues"), id="another-event"),
        pytest.param("gitlab", {"x-gitlab-event": "Issue Hook"}, b"{}", NotAPush("Issue Hook"), id="gitlab-issue"),
        pytest.param("gitea", {}, b"{}", NotAPush("(no event header)"), id="no-event-header"),
    ],
)  # fmt: skip
def test_pings_and_other_events(provider: str, headers: dict[str, str], raw: bytes, expected: object) -> None:
    assert expected == parse(provider, headers, raw)


def test_a_form_encoded_push_reads_like_json() -> None:
    raw = ("payload=" + quote(body("github_push.json").decode())).encode()
    form = {"x-github-event": "push", "content-type": "application/x-www-form-urlencoded"}
    push = parse("github", form, raw)
    assert isinstance(push, Push) and ("refs/heads/master", "Codertocat") == (push.ref, push.pusher)
    with pytest.raises(PayloadError, match="not JSON"):
        parse("github", form, b"other=1")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"after": "abc"}', "no 'ref'"),
        (b'{"ref": "refs/heads/main"}', "no 'after'"),
    ],
)
def test_malformed_push_bodies_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse("github", {"x-github-event": "push"}, raw)


def sign(raw: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


RAW = body("github_push.json")


@pytest.mark.parametrize(
    ("provider", "headers", "ok"),
    [
        ("github", {"x-hub-signature-256": "sha256=" + sign(RAW)}, True),
        ("github", {"x-hub-signature-256": "sha256=" + sign(RAW).upper()}, True),
        ("github", {"x-hub-signature-256": sign(RAW)}, False),  # no sha256= prefix
        ("github", {"x-hub-signature-256": "sha256=" + sign(RAW, "other")}, False),
        ("github", {"x-hub-signature-256": "sha256=" + sign(RAW + b" ")}, False),  # body changed
        ("github", {"x-hub-signature": "sha1=" + hmac.new(SECRET.encode(), RAW, "sha1").hexdigest()}, False),
        ("github", {}, False),
        ("gitea", {"x-gitea-signature": sign(RAW)}, True),
        ("gitea", {"x-gitea-signature": "sha256=" + sign(RAW)}, False),
        ("gitea", {"x-hub-signature-256": "sha256=" + sign(RAW)}, False),  # GitHub's header does not count
        ("gitea", {}, False),
        ("gitlab", {"x-gitlab-token": SECRET}, True),
        ("gitlab", {"x-gitlab-token": SECRET + "x"}, False),
        ("gitlab", {"x-gitlab-token": ""}, False),
        ("gitlab", {"x-hub-signature-256": "sha256=" + sign(RAW)}, False),
    ],
)
def test_signatures(provider: str, headers: dict[str, str], ok: bool) -> None:
    assert ok == signed(provider, SECRET, RAW, headers)


def test_github_documents_this_signature() -> None:
    """GitHub's docs: secret "It's a Secret to Everybody", payload "Hello, World!" signs to this value."""
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signed("github", SECRET, b"Hello, World!", {"x-hub-signature-256": expected})
    assert json.loads(RAW)["ref"] == "refs/heads/master"
