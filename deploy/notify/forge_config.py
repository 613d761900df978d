"""The ``deployments:`` section of an app's config: the forge whose deployment records the app answers to.

::

    deployments:
      github: {repo: owner/name, token_env: GITHUB_TOKEN, api_url: https://api.github.com}

``repo`` is the repository whose ``deployment`` events (``POST /webhooks/github``) start deploys of this app, and
whose deployments' statuses shipbot sets; ``token_env`` names the controller's environment variable holding the
token (never the token itself); ``api_url`` is GitHub's REST API (GitHub Enterprise Server:
``https://HOST/api/v3``). Or, for the outbound side only (every run recorded as a deployment)::

    deployments:
      gitlab: {project: group/name, token_env: GITLAB_TOKEN, api_url: https://gitlab.example.com/api/v4}

Pure (pydantic models only).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from deploy.config.sections import Section
from deploy.notify.sink_config import EnvName

_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_PROJECT = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+|\d+")


def _api_url(value: str) -> str:
    """A forge's REST API base: http(s), a host, an optional path; kept without its trailing slash."""
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


ApiUrl = Annotated[str, AfterValidator(_api_url)]


class GitHubDeployments(Section):
    """The GitHub repository whose deployments this app follows and reports to."""

    repo: str = Field(description="owner/name of the GitHub repository (e.g. acme/shop)")
    token_env: EnvName = Field("GITHUB_TOKEN", description="the environment variable holding the API token")
    api_url: ApiUrl = Field("https://api.github.com", description="GitHub's REST API (Enterprise: https://HOST/api/v3)")

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not _REPO.fullmatch(value):
            raise ValueError(f"{value!r} is not owner/name (e.g. acme/shop)")
        return value


class GitLabDeployments(Section):
    """The GitLab project every run is recorded in as a deployment (the outbound side only)."""

    project: str = Field(description="group/name (or the project's numeric id)")
    token_env: EnvName = Field("GITLAB_TOKEN", description="the environment variable holding the API token")
    api_url: ApiUrl = Field(
        "https://gitlab.com/api/v4", description="GitLab's REST API (self-managed: https://HOST/api/v4)"
    )

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _PROJECT.fullmatch(value):
            raise ValueError(f"{value!r} is not group/name or a project id")
        return value


class Deployments(Section):
    """The forge's own deployment records: every run is recorded there (:mod:`deploy.notify.outbox`); a GitHub
    ``deployment`` event for ``github.repo`` starts a deploy (:mod:`commands.usecases.forge_service`)."""

    github: GitHubDeployments | None = None
    gitlab: GitLabDeployments | None = None

    @model_validator(mode="after")
    def _one_forge(self) -> Deployments:
        if self.github is not None and self.gitlab is not None:
            raise ValueError("deployments takes one forge: github or gitlab, not both")
        return self

    def forge(self) -> tuple[str, GitHubDeployments | GitLabDeployments] | None:
        """The forge runs are recorded in: ``("github", …)``, ``("gitlab", …)`` or None."""
        if self.github is not None:
            return "github", self.github
        if self.gitlab is not None:
            return "gitlab", self.gitlab
        return None
