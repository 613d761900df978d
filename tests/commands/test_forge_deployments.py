"""GitHub deployments: which app, who the creator acts as, the config keys that say so, and what each notice about a
run means for the deployment's status (pure tables)."""

from __future__ import annotations

from typing import Any

import pytest

from commands.access_config import policy_for
from commands.forge_deployments import DeploymentEvent, DeploymentStatus, app_for, created_by_shipbot, person_for
from commands.ports import ApprovalDecided, ApprovalExpired, Notice, QueueMoved, RunDropped, RunEnded
from commands.runs import RunRequest
from commands.usecases.forge_service import final_status
from deploy.config.models import Config, parse_config
from deploy.errors import ConfigError
from deploy.events import Outcome, RunFinished

SHA = "a" * 40


def config(app: str = "shop", **extra: Any) -> Config:
    envs = {"staging": {"hosts": [{"address": "10.0.0.1"}]}}
    return parse_config({"app": app, "repo": "/srv/x.git", "deploy_to": "/srv/x", "environments": envs, **extra})


def event(repository: str = "acme/shop", creator: str = "octocat", run: str = "") -> DeploymentEvent:
    return DeploymentEvent("github", "d-1", "7", repository, SHA, "main", "deploy", "staging", creator, run)


GH = {"deployments": {"github": {"repo": "Acme/Shop"}}}


@pytest.mark.parametrize(
    ("configs", "repository", "expected"),
    [
        ([config(**GH)], "acme/shop", "shop"),
        ([config(**GH)], "ACME/SHOP", "shop"),
        ([config(source="acme/shop")], "acme/shop", None),  # only deployments.github.repo names it
        ([config("api"), config(**GH)], "acme/shop", "shop"),
        ([config(**GH)], "acme/shop-other", None),
    ],
)
def test_the_app_is_the_one_whose_deployments_github_repo_is_the_repository(
    configs: list[Config], repository: str, expected: str | None
) -> None:
    found = app_for(event(repository), configs)
    assert expected == (found.app if found else None)


@pytest.mark.parametrize(
    ("access", "login", "expected"),
    [
        ({"github_users": {"octocat": "U0ALICE"}}, "octocat", "U0ALICE"),
        ({"github_users": {"OctoCat": "U0ALICE"}}, "octocat", "U0ALICE"),  # logins compare without case
        ({"github_users": {"github-actions[bot]": "U0CI"}}, "github-actions[bot]", "U0CI"),
        ({"github_users": {"octocat": "U0ALICE"}}, "mallory", None),
        ({"github_users": {"octocat": "U0ALICE"}}, "", None),
        ({"admins": ["U0ADMIN"]}, "octocat", None),
        ({}, "octocat", None),  # an open config acts for nobody from GitHub
    ],
)
def test_a_login_acts_as_the_person_access_github_users_names(access: Any, login: str, expected: str | None) -> None:
    assert expected == person_for(policy_for(config(access=access)), login)


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"access": {"github_users": {"-octo": "U0ALICE"}}}, "access.github_users: '-octo' is not a GitHub login"),
        ({"access": {"github_users": {"a b": "U0ALICE"}}}, "access.github_users: 'a b' is not a GitHub login"),
        ({"access": {"github_users": {"octocat": "alice"}}}, "access.github_users.octocat: 'alice' is not a Slack user ID"),
        ({"access": {"github_users": {"o": "U0A1", "O": "U0A2"}}}, "access.github_users: a GitHub login is listed twice"),
        ({"deployments": {"github": {"repo": "shop"}}}, "deployments.github.repo: 'shop' is not owner/name"),
        ({"deployments": {"github": {"repo": "a/b", "token_env": "ghp_x y"}}}, "deployments.github.token_env"),
        ({"deployments": {"github": {"repo": "a/b", "api_url": "ftp://x"}}}, "deployments.github.api_url"),
        ({"deployments": {"github": {"repo": "a/b", "token": "ghp_x"}}}, "deployments.github.token: unknown key"),
    ],
)  # fmt: skip
def test_bad_keys_are_config_errors_naming_the_key_path(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        policy_for(config(**section))
    assert problem in "\n".join(err.value.problems)


def test_a_deployment_shipbot_created_is_known() -> None:
    assert (False, True) == (created_by_shipbot(event()), created_by_shipbot(event(run="r-1")))


RUN = RunRequest("r-1", "deploy", "shop", "staging", "U0ALICE", "C0DEPLOY", 0.0, "main", SHA)


def ended(outcome: Outcome, message: str = "") -> RunEnded:
    return RunEnded(RUN, RunFinished("r-1", outcome, message, 1.0))


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        (ended(Outcome.SUCCESS, "live on 2 hosts"), DeploymentStatus("success", "live on 2 hosts")),
        (ended(Outcome.FAILED, "build failed\ndetails"), DeploymentStatus("failure", "build failed")),
        (ended(Outcome.CANCELLED, "cancelled by U0BOB"), DeploymentStatus("error", "cancelled by U0BOB")),
        (ended(Outcome.INTERRUPTED), DeploymentStatus("error", "interrupted")),
        (RunEnded(RUN, None, "the store is not answering"), DeploymentStatus("error", "the store is not answering")),
        (RunEnded(RUN, None, handed_over=True), None),  # the next process reports it
        (ApprovalDecided(RUN, "U0CAROL", False, "not today"), DeploymentStatus("error", "rejected in chat not today")),
        (ApprovalDecided(RUN, "U0CAROL", True), None),  # the run starting says in_progress
        (ApprovalExpired(RUN, 0.0), DeploymentStatus("error", "nobody approved it in time")),
        (RunDropped(RUN, "staging is locked"), DeploymentStatus("error", "could not start: staging is locked")),
        (QueueMoved(RUN, 1), None),
    ],
)
def test_what_a_notice_about_a_run_means_for_its_deployment(notice: Notice, expected: DeploymentStatus | None) -> None:
    assert expected == final_status(notice)
