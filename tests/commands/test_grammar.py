"""Table-driven grammar cases: every phrasing, near misses, unicode, long input and injection attempts."""

from __future__ import annotations

import itertools

import pytest

from commands.command import (
    Approve,
    Cancel,
    Command,
    Deploy,
    Help,
    History,
    Lock,
    Reject,
    Rollback,
    RunTask,
    Status,
    Unlock,
    WhereCanIDeploy,
)
from commands.errors import CommandError
from commands.grammar import parse
from tests.commands.helpers import DEPLOY_SYNTAX, ONE_APP, TWO_APPS

REFS = ["main", "feature/new-login", "v1.4.2", "3f2a9c1", "release/2026.03", "hotfix/JIRA-123_fix", "Feature/Camel"]
ENV_WORDS = [
    ("staging", "staging"),
    ("stg", "staging"),
    ("STAGING", "staging"),
    ("Staging", "staging"),
    ("production", "production"),
    ("prod", "production"),
    ("PRD", "production"),
    ("live", "production"),
]
PREPOSITIONS = ["to", "in", "on", "", "TO"]

DEPLOY_COMBINATIONS: list[tuple[str, Command]] = [
    (f"deploy {ref} {prep} {word}".replace("  ", " "), Deploy("shop", env, ref))
    for ref, (word, env), prep in itertools.product(REFS, ENV_WORDS, PREPOSITIONS)
]

WRAPPINGS = [
    "{}",
    "  {}  ",
    "<@U0SHIPBOT> {}",
    "<@U0SHIPBOT|shipbot>: {}",
    "<@U0SHIPBOT>, {}",
    "@shipbot {}",
    "shipbot: {}",
    "/deploy {}",
    "{}?",
    "\u00a0{}\u200b",
]
WRAPPED_TEXTS: list[tuple[str, Command]] = [
    ("deploy feature/new-login to staging", Deploy("shop", "staging", "feature/new-login")),
    ("Deploy   v1.4.2   TO   production", Deploy("shop", "production", "v1.4.2")),
    ("status", Status()),
    ("rollback prod", Rollback("shop", "production")),
]
WRAPPED: list[tuple[str, Command]] = [
    (wrapping.format(text), expected) for wrapping, (text, expected) in itertools.product(WRAPPINGS, WRAPPED_TEXTS)
]

ONE_APP_CASES: list[tuple[str, Command]] = [
    ("deploy to staging", Deploy("shop", "staging", "main", default_ref=True)),
    ("deploy staging", Deploy("shop", "staging", "main", default_ref=True)),
    ("deploy to production", Deploy("shop", "production", "release", default_ref=True)),
    ("deploy main to production/web", Deploy("shop", "production", "main", target="web")),
    ("deploy main to production/WEB", Deploy("shop", "production", "main", target="web")),
    (
        "deploy main to prod/db1.production.example.com",
        Deploy("shop", "production", "main", "db1.production.example.com"),
    ),
    ("deploy to stg/migrate", Deploy("shop", "staging", "main", "migrate", default_ref=True)),
    ("deploy! main to production", Deploy("shop", "production", "main", force=True)),
    ("DEPLOY! main to production", Deploy("shop", "production", "main", force=True)),
    ("deploy ! main to production", Deploy("shop", "production", "main", force=True)),
    ("deploy! to prod", Deploy("shop", "production", "release", force=True, default_ref=True)),
    ("deploy `feature/x` to staging", Deploy("shop", "staging", "feature/x")),
    ("```deploy main to staging```", Deploy("shop", "staging", "main")),
    ("deploy shop@feature/x to staging", Deploy("shop", "staging", "feature/x")),
    ("deploy shop main to staging", Deploy("shop", "staging", "main")),
    ("reject r7k2m9 `boom`", Reject("r7k2m9", "boom")),
    ("lock production for `rm -rf`", Lock("shop", "production", "rm -rf")),
    (
        "deploy a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 to staging",
        Deploy("shop", "staging", "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"),
    ),
    ("deploy release@2026 to staging", Deploy("shop", "staging", "release@2026")),
    ("deploy main into staging", Deploy("shop", "staging", "main")),
    ("rollback production", Rollback("shop", "production")),
    ("rollback shop production", Rollback("shop", "production")),
    ("roll back production", Rollback("shop", "production")),
    ("Rollback PROD to 3f2a9c1", Rollback("shop", "production", "3f2a9c1")),
    ("rollback production to 20260327120000", Rollback("shop", "production", "20260327120000")),
    ("rollback stg TO v1.4.1", Rollback("shop", "staging", "v1.4.1")),
    ("cancel", Cancel()),
    ("cancel r7k2m9", Cancel(run_id="r7k2m9")),
    ("cancel R7K2M9", Cancel(run_id="r7k2m9")),
    ("cancel staging", Cancel(app="shop", environment="staging")),
    ("cancel prod", Cancel(app="shop", environment="production")),
    ("cancel shop production", Cancel(app="shop", environment="production")),
    ("status", Status()),
    ("status staging", Status("shop", "staging")),
    ("status prd", Status("shop", "production")),
    ("STATUS   Production", Status("shop", "production")),
    ("status shop production", Status("shop", "production")),
    ("history", History()),
    ("history staging", History("shop", "staging")),
    ("history staging 5", History("shop", "staging", 5)),
    ("history 25", History(limit=25)),
    ("history prod 100", History("shop", "production", 100)),
    ("history 1", History(limit=1)),
    ("lock production", Lock("shop", "production")),
    ("lock production for release prep", Lock("shop", "production", "release prep")),
    ("lock prod because the DB migrates", Lock("shop", "production", "the DB migrates")),
    ("lock staging: demo at 3pm", Lock("shop", "staging", "demo at 3pm")),
    ("lock staging - demo at 3pm", Lock("shop", "staging", "demo at 3pm")),
    ("lock shop production for Q&amp;A", Lock("shop", "production", "Q&A")),
    ("lock production for démo à Paris", Lock("shop", "production", "démo à Paris")),
    ("unlock production", Unlock("shop", "production")),
    ("unlock production --force", Unlock("shop", "production", force=True)),
    ("unlock production \u2014force", Unlock("shop", "production", force=True)),
    ("unlock --force prod", Unlock("shop", "production", force=True)),
    ("unlock prod -f", Unlock("shop", "production", force=True)),
    ("unlock shop production force", Unlock("shop", "production", force=True)),
    ("where can I deploy", WhereCanIDeploy()),
    ("where can i deploy?", WhereCanIDeploy()),
    ("Where Can I Deploy shop", WhereCanIDeploy("shop")),
    ("where can I deploy to", WhereCanIDeploy()),
    ("where", WhereCanIDeploy()),
    ("environments", WhereCanIDeploy()),
    ("envs", WhereCanIDeploy()),
    ("run migrate on production", RunTask("shop", "migrate", "production")),
    ("run migrate on production/db", RunTask("shop", "migrate", "production", "db")),
    ("run MIGRATE in stg", RunTask("shop", "migrate", "staging")),
    ("run cache-clear production", RunTask("shop", "cache-clear", "production")),
    ("run shop migrate on prod/migrate", RunTask("shop", "migrate", "production", "migrate")),
    ("approve r7k2m9", Approve("r7k2m9")),
    ("Approve R7K2M9", Approve("r7k2m9")),
    ("reject r7k2m9", Reject("r7k2m9")),
    ("reject r7k2m9 tests are red", Reject("r7k2m9", "tests are red")),
    ("reject r7k2m9 because tests are red", Reject("r7k2m9", "tests are red")),
    ("help", Help()),
    ("help deploy", Help("deploy")),
    ("help deploy!", Help("deploy!")),
    ("help environments", Help("where")),
    ("help roll back", Help("rollback")),
    ("HELP Status", Help("status")),
    ("", Help()),
    ("   ", Help()),
    ("?", Help()),
    ("<@U0SHIPBOT>", Help()),
    ("/deploy", Help()),
    ("/deploy status production", Status("shop", "production")),
    ("/deploy main to stg", Deploy("shop", "staging", "main")),
    ("/deploy staging", Deploy("shop", "staging", "main", default_ref=True)),
    ("/deploy deploy! main to prod", Deploy("shop", "production", "main", force=True)),
    ("/deploy roll back prod", Rollback("shop", "production")),
]

TWO_APP_CASES: list[tuple[str, Command]] = [
    ("deploy shop@feature/x to staging", Deploy("shop", "staging", "feature/x")),
    ("deploy shop/feature/x to staging", Deploy("shop", "staging", "feature/x")),
    ("deploy SHOP/feature/x to staging", Deploy("shop", "staging", "feature/x")),
    ("deploy api main to staging", Deploy("api", "staging", "main")),
    ("deploy api to staging", Deploy("api", "staging", "main", default_ref=True)),
    ("deploy main to production", Deploy("shop", "production", "main")),
    ("deploy main to sandbox", Deploy("api", "sandbox", "main")),
    ("deploy to sandbox", Deploy("api", "sandbox", "main", default_ref=True)),
    ("deploy feature/x to prod", Deploy("shop", "production", "feature/x")),
    ("deploy! api@v2 to stg", Deploy("api", "staging", "v2", force=True)),
    ("deploy api@v2 to staging/web", Deploy("api", "staging", "v2", "web")),
    ("rollback api staging", Rollback("api", "staging")),
    ("rollback sandbox", Rollback("api", "sandbox")),
    ("status", Status()),
    ("status staging", Status(None, "staging")),
    ("status api", Status("api", None)),
    ("status api staging", Status("api", "staging")),
    ("history api 3", History("api", None, 3)),
    ("history staging", History(None, "staging")),
    ("cancel staging", Cancel(environment="staging")),
    ("cancel api staging", Cancel(app="api", environment="staging")),
    ("lock api staging for tests", Lock("api", "staging", "tests")),
    ("unlock api staging", Unlock("api", "staging")),
    ("where can I deploy api", WhereCanIDeploy("api")),
    ("run reindex on staging", RunTask("api", "reindex", "staging")),
    ("run migrate on staging", RunTask("shop", "migrate", "staging")),
    ("run api reindex on sandbox", RunTask("api", "reindex", "sandbox")),
]


def _err(message: str, hint: str) -> CommandError:
    return CommandError(message, hint)


REF_HINT = "Refs follow git's rules: a branch, tag or commit like `feature/x`, `v1.4.2` or `3f2a9c1`. "
TRY_DEPLOY = f"Try: {DEPLOY_SYNTAX}"
ENVS = "Environments: `production`, `staging`."
BROADCAST_HINT = (
    "Remove it and ask again. Type the command as words, like `deploy main to staging`; `help` lists the commands."
)
LINK_HINT = "Put the ref in backticks so Slack leaves it alone, like `deploy `v1.2.3` to staging`."

ENV_TYPOS = [
    ("stagin", "staging"),
    ("satging", "staging"),
    ("stagign", "staging"),
    ("prodution", "production"),
    ("prodcution", "production"),
    ("poduction", "production"),
    ("stagingg", "staging"),
    ("prdo", "prod"),
]

ONE_APP_ERRORS: list[tuple[str, CommandError]] = [
    *[
        (f"deploy main to {typo}", _err(f"unknown environment `{typo}`", f"did you mean `{env}`? {TRY_DEPLOY}"))
        for typo, env in ENV_TYPOS
    ],
    *[
        (f"status {typo}", _err(f"unknown environment `{typo}`", f"did you mean `{env}`? Try: `status [APP] [ENV]`"))
        for typo, env in ENV_TYPOS
    ],
    *[
        (
            f"lock {typo}",
            _err(f"unknown environment `{typo}`", f"did you mean `{env}`? Try: `lock [APP] ENV [for REASON]`"),
        )
        for typo, env in ENV_TYPOS
    ],
    *[
        (
            f"rollback {typo}",
            _err(f"unknown environment `{typo}`", f"did you mean `{env}`? Try: `rollback [APP] ENV [to RELEASE|SHA]`"),
        )
        for typo, env in ENV_TYPOS
    ],
    ("deploy main to mars", _err("unknown environment `mars`", f"{ENVS} {TRY_DEPLOY}")),
    ("deploy main to", _err("deploy `main` to where?", f"{ENVS}")),
    ("deploy", _err("deploy what, where?", f"{ENVS} {TRY_DEPLOY}")),
    (
        "deploy main",
        _err(
            "deploy `main` where?",
            f"Name the environment, like `deploy main to staging`; shipbot never picks one for you. {ENVS}",
        ),
    ),
    (
        "deploy main to production/webb",
        _err("production has no role or host `webb`", f"did you mean `web`? {TRY_DEPLOY}"),
    ),
    (
        "deploy main to production/cache",
        _err(
            "production has no role or host `cache`",
            "Roles and hosts of production: `db`, `migrate`, `web`, `web1.production.example.com`, "
            f"`web2.production.example.com`, `db1.production.example.com`. {TRY_DEPLOY}",
        ),
    ),
    (
        "deploy feature x to staging",
        _err("`feature x` is more than one word; a ref is one word without spaces", TRY_DEPLOY),
    ),
    ("deploy a b c to staging", _err("too many words for `deploy`", TRY_DEPLOY)),
    (
        "deploy --force main to prod",
        _err("`deploy` has no --force flag", "Force with `deploy!`: `deploy! [APP] [REF] to ENV`"),
    ),
    (
        "deploy $(whoami) to staging",
        _err("`$(whoami)` is not a ref shipbot accepts: a ref may not contain '$'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy main;reboot to staging",
        _err("`main;reboot` is not a ref shipbot accepts: a ref may not contain ';'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy main|sh to staging",
        _err("`main?sh` is not a ref shipbot accepts: a ref may not contain '|'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy main&&id to staging",
        _err("`main??id` is not a ref shipbot accepts: a ref may not contain '&'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy main&amp;&amp;id to staging",
        _err("`main??id` is not a ref shipbot accepts: a ref may not contain '&'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy &lt;!channel&gt; to staging",
        _err("`?!channel?` is not a ref shipbot accepts: a ref may not contain angle brackets", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy -rf to staging",
        _err("`-rf` is not a ref shipbot accepts: a ref may not start with '-'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy main^ to staging",
        _err("`main^` is not a ref shipbot accepts: a ref may not contain '^'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy main~1 to staging",
        _err("`main?1` is not a ref shipbot accepts: a ref may not contain '~'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy a..b to staging",
        _err("`a..b` is not a ref shipbot accepts: a ref may not contain '..'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy main@{u} to staging",
        _err("`main@{u}` is not a ref shipbot accepts: a ref may not contain '{'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy x.lock to staging",
        _err("`x.lock` is not a ref shipbot accepts: no part of a ref may end with '.lock'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy feature/ to staging",
        _err("`feature/` is not a ref shipbot accepts: a ref may not start or end with '/'", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy f\u00e9ature to staging",
        _err("`féature` is not a ref shipbot accepts: a ref may only contain ASCII characters", REF_HINT + TRY_DEPLOY),
    ),
    (
        "deploy 'main' to staging",
        _err("`'main'` is not a ref shipbot accepts: a ref may not contain \"'\"", REF_HINT + TRY_DEPLOY),
    ),
    ("deploy main to st\u0430ging", _err("unknown environment `stаging`", f"did you mean `staging`? {TRY_DEPLOY}")),
    (
        "deploy <!channel> to staging",
        _err("your message contains a Slack broadcast (@channel); shipbot never passes one on", BROADCAST_HINT),
    ),
    (
        "deploy <!here> to staging",
        _err("your message contains a Slack broadcast (@here); shipbot never passes one on", BROADCAST_HINT),
    ),
    (
        "deploy <!everyone> to staging",
        _err("your message contains a Slack broadcast (@everyone); shipbot never passes one on", BROADCAST_HINT),
    ),
    (
        "deploy <!subteam^S0123|@devs> to staging",
        _err("your message contains a Slack broadcast (a group mention); shipbot never passes one on", BROADCAST_HINT),
    ),
    (
        "lock production for <!here>",
        _err("your message contains a Slack broadcast (@here); shipbot never passes one on", BROADCAST_HINT),
    ),
    (
        "deploy <@U0EVE> to staging",
        _err(
            "a mention of a person is not something shipbot accepts in a command",
            "Name environments, refs and run ids as plain words. Type the command as words, like "
            "`deploy main to staging`; `help` lists the commands.",
        ),
    ),
    (
        "deploy main to <#C0DEPLOYS|deploys>",
        _err(
            "a channel link is not something shipbot accepts in a command",
            "shipbot knows the channel you write in. Type the command as words, like `deploy main to staging`; "
            "`help` lists the commands.",
        ),
    ),
    (
        "deploy <http://release.example.com|release.example.com> to staging",
        _err(
            "Slack turned `release.example.com` into a link; shipbot does not take a link where a ref belongs",
            LINK_HINT,
        ),
    ),
    (
        "deploy <https://evil.example/x> to staging",
        _err("Slack turned `evil.example/x` into a link; shipbot does not take a link where a ref belongs", LINK_HINT),
    ),
    (
        "deploy <mailto:bob@example.com|bob@example.com> to staging",
        _err("Slack turned `bob@example.com` into a link; shipbot does not take a link where a ref belongs", LINK_HINT),
    ),
    (
        "hello",
        _err(
            "I don't know the command `hello`", "The closest command is `help [COMMAND]`; `help` lists what you may do."
        ),
    ),
    (
        "hi",
        _err("I don't know the command `hi`", "The closest command is `help [COMMAND]`; `help` lists what you may do."),
    ),
    (
        "thanks!",
        _err(
            "I don't know the command `thanks!`",
            "The closest command is `help [COMMAND]`; `help` lists what you may do.",
        ),
    ),
    (
        "xyzzy",
        _err(
            "I don't know the command `xyzzy`",
            "The closest command is `deploy [APP] [REF] to ENV[/ROLE-OR-HOST]`; `help` lists what you may do.",
        ),
    ),
    ("deploi main to stg", _err("I don't know the command `deploi`", "did you mean `deploy main to stg`?")),
    ("dpeloy main to staging", _err("I don't know the command `dpeloy`", "did you mean `deploy main to staging`?")),
    ("deplyo! main to prod", _err("I don't know the command `deplyo!`", "did you mean `deploy! main to prod`?")),
    ("stauts", _err("I don't know the command `stauts`", "did you mean `status`?")),
    ("rolback prod", _err("I don't know the command `rolback`", "did you mean `rollback prod`?")),
    ("histroy", _err("I don't know the command `histroy`", "did you mean `history`?")),
    ("unlcok prod", _err("I don't know the command `unlcok`", "did you mean `unlock prod`?")),
    ("lokc prod", _err("I don't know the command `lokc`", "did you mean `lock prod`?")),
    ("cancle", _err("I don't know the command `cancle`", "did you mean `cancel`?")),
    ("aprove r7k2m9", _err("I don't know the command `aprove`", "did you mean `approve r7k2m9`?")),
    ("rejcet r7k2m9", _err("I don't know the command `rejcet`", "did you mean `reject r7k2m9`?")),
    ("hepl", _err("I don't know the command `hepl`", "did you mean `help`?")),
    ("deploi main to stagin", _err("I don't know the command `deploi`", f"did you mean `deploy`? {TRY_DEPLOY}")),
    ("main to staging", _err("I don't know the command `main`", "did you mean `deploy main to staging`?")),
    ("feature/x staging", _err("I don't know the command `feature/x`", "did you mean `deploy feature/x staging`?")),
    ("dеploy main to staging", _err("I don't know the command `dеploy`", "did you mean `deploy main to staging`?")),
    (
        "ship it",
        _err(
            "I don't know the command `ship`", "The closest command is `help [COMMAND]`; `help` lists what you may do."
        ),
    ),
    ("deploy main to staging please", _err("unknown environment `please`", f"{ENVS} {TRY_DEPLOY}")),
    ("rollback", _err("roll back which environment?", f"{ENVS} Try: `rollback [APP] ENV [to RELEASE|SHA]`")),
    (
        "rollback production to",
        _err("roll back to which release or commit?", "Try: `rollback [APP] ENV [to RELEASE|SHA]`"),
    ),
    (
        "rollback production to $(id)",
        _err(
            "`$(id)` is not a release or commit id",
            "Release ids and SHAs are letters, digits, '.', '_' and '-'; `history ENV` lists them. "
            "Try: `rollback [APP] ENV [to RELEASE|SHA]`",
        ),
    ),
    ("cancel stagin", _err("unknown environment `stagin`", "did you mean `staging`? Try: `cancel [RUN-ID|ENV]`")),
    (
        "cancel r!",
        _err(
            "`r!` is neither a run id nor an environment",
            "`status` shows running deploys and their ids. Try: `cancel [RUN-ID|ENV]`",
        ),
    ),
    ("cancel a b c", _err("too many words for `cancel`", "Try: `cancel [RUN-ID|ENV]`")),
    ("history staging 0", _err("history shows 1 to 100 runs", "Try: `history [APP] [ENV] [N]`")),
    ("history staging 101", _err("history shows 1 to 100 runs", "Try: `history [APP] [ENV] [N]`")),
    ("history staging 99999999999999999999", _err("history shows 1 to 100 runs", "Try: `history [APP] [ENV] [N]`")),
    ("lock", _err("lock which environment?", f"{ENVS} Try: `lock [APP] ENV [for REASON]`")),
    (
        "lock production for $(reboot)",
        _err("that reason cannot be kept: a reason may not contain '$'", "Try: `lock [APP] ENV [for REASON]`"),
    ),
    (
        "lock production for cc @channel",
        _err(
            "that reason cannot be kept: a reason may not contain @channel, @here or @everyone",
            "Try: `lock [APP] ENV [for REASON]`",
        ),
    ),
    (
        "lock production for a&lt;b",
        _err(
            "that reason cannot be kept: a reason may not contain angle brackets", "Try: `lock [APP] ENV [for REASON]`"
        ),
    ),
    (
        "lock production for " + "x" * 201,
        _err(
            "that reason cannot be kept: a reason may be at most 200 characters", "Try: `lock [APP] ENV [for REASON]`"
        ),
    ),
    ("unlock", _err("unlock which environment?", "Try: `unlock [APP] ENV [--force]`")),
    ("unlock --force", _err("unlock which environment?", "Try: `unlock [APP] ENV [--force]`")),
    ("unlock prodd", _err("unknown environment `prodd`", "did you mean `prod`? Try: `unlock [APP] ENV [--force]`")),
    ("where can I deploy shp", _err("unknown app `shp`", "did you mean `shop`? Try: `where can I deploy [APP]`")),
    ("run", _err("run which task, where?", "Tasks: `cache-clear`, `migrate`. Try: `run [APP] TASK on ENV[/ROLE]`")),
    (
        "run migrate",
        _err("run which task, where?", "Tasks: `cache-clear`, `migrate`. Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
    (
        "run migrat on production",
        _err("unknown task `migrat`", "did you mean `migrate`? Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
    (
        "run backup on production",
        _err("unknown task `backup`", "Tasks: `cache-clear`, `migrate`. Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
    (
        "run migrate on prodution",
        _err("unknown environment `prodution`", "did you mean `production`? Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
    (
        "run migrate on production/dbb",
        _err("production has no role or host `dbb`", "did you mean `db`? Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
    ("approve", _err("approve which run?", "The run id is in the message asking for approval. Try: `approve RUN-ID`")),
    ("approve $x", _err("`$x` is not a run id", "Try: `approve RUN-ID`")),
    ("approve r7k2m9 now", _err("`approve` takes only the run id", "Try: `approve RUN-ID`")),
    (
        "reject",
        _err("reject which run?", "The run id is in the message asking for approval. Try: `reject RUN-ID [REASON]`"),
    ),
    (
        "deploy R&amp;D to staging",
        _err("`R?D` is not a ref shipbot accepts: a ref may not contain '&'", REF_HINT + TRY_DEPLOY),
    ),
    ("help deplyo", _err("there is no command `deplyo`", "did you mean `help deploy`?")),
    ("help me", _err("there is no command `me`", "`help` lists the commands.")),
    (
        "x" * 1001,
        _err(
            "that message is too long for a command (1001 characters; the limit is 1000)",
            "Commands are short, like `deploy main to staging`.",
        ),
    ),
    (
        "deploy " + "a" * 201 + " to staging",
        _err(
            "`" + "a" * 39 + "…` is not a ref shipbot accepts: the ref is longer than 200 characters",
            REF_HINT + TRY_DEPLOY,
        ),
    ),
    (
        "deploy ma\x07in to staging",
        _err("`ma?in` is not a ref shipbot accepts: a ref may not contain control characters", REF_HINT + TRY_DEPLOY),
    ),
]

TWO_APP_ERRORS: list[tuple[str, CommandError]] = [
    (
        "deploy feature/x to staging",
        _err(
            "which app? `staging` is an environment of `shop`, `api`",
            f"Name the app, like `deploy shop@feature/x to staging`. {TRY_DEPLOY}",
        ),
    ),
    (
        "deploy to staging",
        _err(
            "which app? `staging` is an environment of `shop`, `api`",
            f"Name the app, like `deploy shop to staging`. {TRY_DEPLOY}",
        ),
    ),
    ("deploy shp@x to staging", _err("unknown app `shp`", f"did you mean `shop`? {TRY_DEPLOY}")),
    ("deploy shp/x to staging", _err("unknown app `shp`", f"did you mean `shop`? {TRY_DEPLOY}")),
    ("deploy apii main to staging", _err("unknown app `apii`", f"did you mean `api`? {TRY_DEPLOY}")),
    (
        "deploy api main to production",
        _err("unknown environment `production` in api", f"`production` is an environment of shop. {TRY_DEPLOY}"),
    ),
    ("deploy api main to sandbx", _err("unknown environment `sandbx` in api", f"did you mean `sandbox`? {TRY_DEPLOY}")),
    (
        "rollback staging",
        _err(
            "which app? `staging` is an environment of `shop`, `api`",
            "Name the app first, like `rollback shop ENV`. Try: `rollback [APP] ENV [to RELEASE|SHA]`",
        ),
    ),
    ("status shpo", _err("unknown app `shpo`", "did you mean `shop`? Try: `status [APP] [ENV]`")),
    (
        "status shop sandbox",
        _err("unknown environment `sandbox` in shop", "`sandbox` is an environment of api. Try: `status [APP] [ENV]`"),
    ),
    (
        "lock shop",
        _err(
            "unknown environment `shop`",
            "Environments: `production`, `sandbox`, `staging`. Try: `lock [APP] ENV [for REASON]`",
        ),
    ),
    (
        "lock staging",
        _err(
            "which app? `staging` is an environment of `shop`, `api`",
            "Name the app first, like `lock shop ENV`. Try: `lock [APP] ENV [for REASON]`",
        ),
    ),
    (
        "run reindex on production",
        _err("unknown task `reindex`", "Tasks: `cache-clear`, `migrate`. Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
    (
        "run api migrate on staging",
        _err("unknown task `migrate`", "Tasks: `reindex`. Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
    (
        "run shp migrate on staging",
        _err("unknown app `shp`", "did you mean `shop`? Try: `run [APP] TASK on ENV[/ROLE]`"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), DEPLOY_COMBINATIONS + WRAPPED + ONE_APP_CASES)
def test_one_app(text: str, expected: Command) -> None:
    assert parse(text, ONE_APP) == expected


@pytest.mark.parametrize(("text", "expected"), TWO_APP_CASES)
def test_two_apps(text: str, expected: Command) -> None:
    assert parse(text, TWO_APPS) == expected


@pytest.mark.parametrize(("text", "expected"), ONE_APP_ERRORS)
def test_one_app_errors(text: str, expected: CommandError) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text, ONE_APP)
    assert caught.value == expected


@pytest.mark.parametrize(("text", "expected"), TWO_APP_ERRORS)
def test_two_app_errors(text: str, expected: CommandError) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text, TWO_APPS)
    assert caught.value == expected


def test_a_mention_of_another_bot_is_not_stripped() -> None:
    with pytest.raises(CommandError) as caught:
        parse("<@U0OTHER> deploy main to staging", ONE_APP)
    assert caught.value.message == "a mention of a person is not something shipbot accepts in a command"


def test_exactly_the_length_limit_is_read() -> None:
    text = "status" + " " * 994
    assert len(text) == 1000
    assert parse(text, ONE_APP) == Status()
