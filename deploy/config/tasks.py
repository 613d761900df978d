"""The ``shared`` and ``tasks`` sections of the config file: what every release links from ``<deploy_to>/shared``,
and the named commands people run with ``run TASK on ENV``."""

from __future__ import annotations

from pydantic import Field, field_validator

from deploy.config.sections import Duration, Section, check_relative


class Shared(Section):
    """Files and dirs under ``<deploy_to>/shared`` linked into every release."""

    files: list[str] = Field(default_factory=list)
    dirs: list[str] = Field(default_factory=list)

    @field_validator("files", "dirs")
    @classmethod
    def _relative(cls, value: list[str]) -> list[str]:
        return [check_relative(v) for v in value]


class Task(Section):
    roles: list[str] = Field(default_factory=list)
    run: str
    timeout: Duration | None = None
