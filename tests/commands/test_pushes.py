"""Pushes: which app, which environments, what to do now (pure tables)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.access_config import policy_for
from commands.policy import decide_push
from commands.push_rules import (
    ZERO_SHA,
    AutoAdmission,
    Push,
    admission_for,
    apps_for,
    normalise_repo,
    plan_push,
    push_problem,
)
from deploy.config.models import Config, parse_config
from deploy.config.preview_section import Previews

SHA = "a" * 40


def config(app: str = "shop", repo: str = "git@github.com:acme/shop.git", **extra: Any) -> Config:
    envs = extra.pop("environments", {"staging": {"auto_deploy": {"branch": "main"}}})
    for env in envs.values():
        env.setdefault("hosts", [{"address": "10.0.0.1"}])
    return parse_config({"app": app, "repo": repo, "deploy_to": "/srv/shop", "environments": envs, **extra})


def push(
    ref: str = "refs/heads/main", after: str = SHA, urls: tuple[str, ...] = (), names: tuple[str, ...] = ()
) -> Push:
    return Push("github", "d", ref, "b" * 40, after, "alice", urls or ("https://github.com/acme/shop.git",), names)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/shop.git", "github.com/acme/shop"),
        ("https://GitHub.COM/acme/shop", "github.com/acme/shop"),
        ("git@github.com:acme/shop.git", "github.com/acme/shop"),
        ("ssh://git@github.com/acme/shop.git", "github.com/acme/shop"),
        ("ssh://git@github.com:22/acme/shop", "github.com/acme/shop"),
        ("git://github.com/acme/shop.git", "github.com/acme/shop"),
        ("http://example.com/group/sub/app.git/", "example.com/group/sub/app"),
        ("/srv/git/shop.git", "/srv/git/shop"),
        ("file:///srv/git/shop", "/srv/git/shop"),
    ],
)
def test_repository_urls_compare_by_host_and_path(url: str, expected: str) -> None:
    assert expected == normalise_repo(url)


@pytest.mark.parametrize(
    ("push_urls", "names", "configs", "expected"),
    [
        (("git@github.com:acme/shop.git",), (), [config()], ["shop"]),
        (("https://github.com/ACME/shop.git",), (), [config()], []),  # the path's case counts, the host's does not
        (("https://GITHUB.com/acme/shop",), (), [config()], ["shop"]),
        (("https://github.com/acme/other.git",), (), [config()], []),
        (("https://git.internal/acme/shop.git",), (), [config(repo="/mirror/shop.git", source="acme/shop")], ["shop"]),
        ((), ("Acme/Shop",), [config(repo="/mirror/shop.git", source="acme/shop")], ["shop"]),
        (
            ("git@github.com:acme/shop.git",),
            (),
            [config(), config("billing", "https://github.com/acme/billing")],
            ["shop"],
        ),
    ],
)
def test_a_push_belongs_to_the_apps_of_its_repository(
    push_urls: tuple[str, ...], names: tuple[str, ...], configs: list[Config], expected: list[str]
) -> None:
    assert expected == apps_for(Push("github", "d", "refs/heads/main", "", SHA, "a", push_urls, names), configs)


ENVS = {
    "staging": {"auto_deploy": {"branch": "main"}},
    "qa": {"auto_deploy": {"branch": "main", "poll": "60s"}},
    "production": {"auto_deploy": {"tags": "v*"}},
    "manual": {},
}


@pytest.mark.parametrize(
    ("ref", "after", "extra", "deploy", "release", "preview"),
    [
        ("refs/heads/main", SHA, {}, ("staging", "qa"), False, None),
        ("refs/heads/develop", SHA, {}, (), False, None),
        ("refs/heads/main", ZERO_SHA, {}, (), False, None),  # a deleted branch deploys nothing
        ("refs/tags/v1.2.0", SHA, {}, ("production",), False, None),
        ("refs/tags/v1.2.0", SHA, {"release_tags": "v*"}, ("production",), True, None),
        ("refs/tags/nightly", SHA, {"release_tags": "v*"}, (), False, None),
        ("refs/tags/v1.2.0", ZERO_SHA, {"release_tags": "v*"}, (), False, None),
    ],
)
def test_what_a_push_means_for_an_app(
    ref: str, after: str, extra: dict[str, Any], deploy: tuple[str, ...], release: bool, preview: str | None
) -> None:
    plan = plan_push(config(environments={k: dict(v) for k, v in ENVS.items()}, **extra), push(ref, after))
    assert (deploy, release, preview) == (plan.deploy, plan.release, plan.preview)
    assert plan.ignored == (not deploy and not release)


@pytest.mark.parametrize(
    ("ref", "after", "problem"),
    [
        ("refs/heads/main", SHA, None),
        ("refs/tags/v1.0", SHA, None),
        ("refs/heads/a..b", SHA, "not valid: a ref may not contain '..'"),
        ("refs/heads/-rf", SHA, "may not start with '-'"),
        ("refs/heads/x;rm", SHA, "may not contain ';'"),
        ("refs/pull/1/head", SHA, "neither a branch"),
        ("refs/heads/main", "abc", "not a full commit id"),
        ("refs/heads/main", "g" * 40, "not a full commit id"),
    ],
)
def test_pushed_refs_follow_gits_rules(ref: str, after: str, problem: str | None) -> None:
    found = push_problem(push(ref, after))
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("frozen", "locked", "busy", "approval", "expected"),
    [
        (False, False, False, False, AutoAdmission.START),
        (False, False, False, True, AutoAdmission.ASK),
        (False, False, True, False, AutoAdmission.COALESCE),
        (False, False, True, True, AutoAdmission.COALESCE),
        (False, True, False, False, AutoAdmission.REFUSE),
        (False, True, True, False, AutoAdmission.REFUSE),
        (True, False, False, False, AutoAdmission.HOLD),
        (True, True, True, True, AutoAdmission.HOLD),
    ],
)
def test_what_an_auto_deploy_does_now(
    frozen: bool, locked: bool, busy: bool, approval: bool, expected: AutoAdmission
) -> None:
    assert expected == admission_for(frozen=frozen, locked=locked, busy=busy, approval=approval)


FRIDAY_AFTERNOON = datetime(2026, 3, 27, 14, 0, tzinfo=UTC)
ACCESS = {
    "environments": {
        "staging": {"deploy": ["U0NOBODY"]},
        "production": {"deploy": ["@deployers"], "approval": "required", "approve": ["@sre"], "channels": ["C0X"]},
    },
    "freeze": [{"environments": ["production"], "cron": "0 12-23 * * FRI", "reason": "No deploys on Friday"}],
}


@pytest.mark.parametrize(
    ("access", "environment", "now", "allowed", "approval"),
    [
        (None, "staging", FRIDAY_AFTERNOON, True, False),
        (
            ACCESS,
            "staging",
            FRIDAY_AFTERNOON,
            True,
            False,
        ),  # the deploy list is for people; auto_deploy is the config's
        (ACCESS, "production", FRIDAY_AFTERNOON, False, False),  # a freeze holds it; an auto-deploy never forces
        (ACCESS, "production", datetime(2026, 3, 26, 14, 0, tzinfo=UTC), True, True),  # Thursday: approval applies
        (ACCESS, "unlisted", FRIDAY_AFTERNOON, True, False),
    ],
)
def test_the_gates_of_an_auto_deploy(
    access: dict[str, Any] | None, environment: str, now: datetime, allowed: bool, approval: bool
) -> None:
    envs = {name: {} for name in ("staging", "production", "unlisted")}
    policy = policy_for(config(environments=envs, **({"access": access} if access else {})))
    decision = decide_push(policy, environment, now)
    assert (allowed, approval) == (decision.allowed, decision.approval_required)
    if not allowed:
        assert "frozen: No deploys on Friday" in decision.reason


@pytest.mark.parametrize(
    ("ref", "after", "with_previews", "preview", "deploy"),
    [
        ("refs/heads/preview/login", SHA, True, "pushed", ()),
        ("refs/heads/preview/login", ZERO_SHA, True, "deleted", ()),
        ("refs/heads/feature/login", SHA, True, None, ()),
        ("refs/heads/main", SHA, True, None, ("staging",)),
        ("refs/tags/preview/x", SHA, True, None, ()),  # tags are never previews
        ("refs/heads/preview/login", SHA, False, None, ()),  # no previews key: previews are not built
    ],
)
def test_preview_branches_go_to_the_preview_builder_only_when_the_config_has_previews(
    ref: str, after: str, with_previews: bool, preview: str | None, deploy: tuple[str, ...]
) -> None:
    app = config()
    if with_previews:
        previews = {"branches": "preview/*", "hosts": [{"address": "127.0.0.1"}], "domain": "preview.example.com",
                    "nginx": {"sites_dir": "/etc/nginx/shipbot-previews"}}  # fmt: skip
        app = app.model_copy(update={"previews": Previews.model_validate(previews)})
    plan = plan_push(app, push(ref, after))
    assert (preview, deploy) == (plan.preview, plan.deploy)
