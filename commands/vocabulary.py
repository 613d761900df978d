"""What the grammar knows about the configured apps: environments, aliases, tasks, roles and hosts (pure data).

:class:`GrammarContext` is built once from the loaded :class:`deploy.config.models.Config` objects (one per app) by
:meth:`GrammarContext.from_configs`. All names are kept lowercase for case-insensitive matching, except that
the canonical spelling from the config is what ends up in a command.

Built-in aliases ``stg`` (staging), ``prod`` and ``prd`` (production) apply only where that environment exists;
``aliases:`` in a config adds to them and wins on a clash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from deploy.config.models import Config, DnsSrvSource

_TARGET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,252}")  # a role, an address or address:port

BUILTIN_ALIASES = {"stg": "staging", "prod": "production", "prd": "production"}


@dataclass(frozen=True)
class EnvironmentVocabulary:
    name: str
    default_ref: str
    roles: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    discovered: bool = False  # hosts (and their roles) are also found when a run starts (``discover:``)

    def target(self, word: str) -> str | None:
        """The role or host ``word`` names in this environment (case-insensitive), else ``None``. Where hosts are
        discovered, any plain role or host word is taken: the run checks it against the hosts it finds."""
        for name in (*self.roles, *self.hosts):
            if name.lower() == word.lower():
                return name
        if self.discovered and _TARGET.fullmatch(word):
            return word
        return None


@dataclass(frozen=True)
class AppVocabulary:
    name: str
    environments: Mapping[str, EnvironmentVocabulary]
    aliases: Mapping[str, str] = field(default_factory=dict)
    tasks: tuple[str, ...] = ()

    def environment(self, word: str) -> str | None:
        """The environment ``word`` names in this app, through aliases; ``None`` when it names none."""
        lowered = word.lower()
        for name in self.environments:
            if name.lower() == lowered:
                return name
        target = self.aliases.get(lowered)
        return target if target in self.environments else None

    def words(self) -> list[str]:
        """Every word that names an environment: names first, then aliases."""
        return [*self.environments, *self.aliases]

    @classmethod
    def from_config(cls, config: Config) -> AppVocabulary:
        environments = {
            name: EnvironmentVocabulary(
                name=name,
                default_ref=env.ref,
                roles=tuple(
                    sorted(
                        {role for host in env.hosts for role in host.roles}
                        | {role for source in env.discover if isinstance(source, DnsSrvSource) for role in source.roles}
                    )
                ),
                hosts=tuple(word for host in env.hosts for word in (host.name, host.address) if word),
                discovered=bool(env.discover),
            )
            for name, env in config.environments.items()
        }
        aliases = {alias: target for alias, target in BUILTIN_ALIASES.items() if target in environments}
        aliases.update({alias.lower(): target for alias, target in config.aliases.items()})
        return cls(config.app, environments, aliases, tuple(config.tasks))


@dataclass(frozen=True)
class GrammarContext:
    """The apps the bot knows and its own user id (to strip a leading ``<@BOTID>`` mention)."""

    apps: Mapping[str, AppVocabulary]
    bot_user_id: str | None = None

    @classmethod
    def from_configs(cls, configs: Iterable[Config], bot_user_id: str | None = None) -> GrammarContext:
        apps = {config.app: AppVocabulary.from_config(config) for config in configs}
        return cls(apps, bot_user_id)

    @property
    def single_app(self) -> AppVocabulary | None:
        return next(iter(self.apps.values())) if len(self.apps) == 1 else None

    def app(self, word: str) -> str | None:
        for name in self.apps:
            if name.lower() == word.lower():
                return name
        return None
