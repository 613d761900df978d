"""Config builders shared by the commands tests."""

from __future__ import annotations

from typing import Any

from commands.vocabulary import GrammarContext
from deploy.config.models import Config, parse_config

DEPLOY_SYNTAX = "`deploy [APP] [REF] to ENV[/ROLE-OR-HOST]`"


def config(
    app: str = "shop",
    environments: tuple[str, ...] = ("staging", "production"),
    access: dict[str, Any] | None = None,
    aliases: dict[str, str] | None = None,
    tasks: tuple[str, ...] = ("migrate", "cache-clear"),
) -> Config:
    envs = {
        name: {
            "ref": "main" if name != "production" else "release",
            "hosts": [
                {"address": f"web1.{name}.example.com", "roles": ["web"]},
                {"address": f"web2.{name}.example.com", "roles": ["web"]},
                {"address": f"db1.{name}.example.com", "roles": ["db", "migrate"]},
            ],
        }
        for name in environments
    }
    data: dict[str, Any] = {
        "app": app,
        "repo": f"git@example.com:acme/{app}.git",
        "deploy_to": f"/srv/{app}",
        "environments": envs,
        "tasks": {t: {"run": "true"} for t in tasks},
    }
    if aliases:
        data["aliases"] = aliases
    if access is not None:
        data["access"] = access
    return parse_config(data)


SHOP = config(aliases={"live": "production"})
API = config("api", ("staging", "sandbox"), tasks=("reindex",))
ONE_APP = GrammarContext.from_configs([SHOP], bot_user_id="U0SHIPBOT")
TWO_APPS = GrammarContext.from_configs([SHOP, API], bot_user_id="U0SHIPBOT")
