"""Each command's syntax and one-line summary, the single source for help and for every "Try: ..." hint (pure).

``SYNTAX`` maps the command word to a :class:`CommandHelp`. Summaries name the other ways to say the same thing:
the ``/deploy`` slash command (whose text is a command, or a deploy when it starts with no command word) and
hubot-deploy's phrases (``deploy APP/REF to ENV/ROLE``, ``deploys APP in ENV``, ``deploy:TASK APP to ENV``).
``action`` names the policy action the command needs (``None`` for read-only commands everyone may use), so help
can list only what the asker may do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandHelp:
    word: str
    syntax: str
    summary: str
    action: str | None = None


SYNTAX: dict[str, CommandHelp] = {
    h.word: h
    for h in (
        CommandHelp(
            "deploy",
            "deploy [APP] [REF] to ENV[/ROLE-OR-HOST]",
            "deploy a branch, tag or commit (the environment's default ref when none is given); also "
            "`deploy APP/REF to ENV/ROLE` as in hubot-deploy, and `/deploy REF to ENV` as a slash command",
            "deploy",
        ),
        CommandHelp(
            "deploy!",
            "deploy! [APP] [REF] to ENV",
            "deploy through a freeze or ahead of the queue, where you may force; always reported loudly "
            "(`deploy! APP to ENV` ships the environment's default ref)",
            "force",
        ),
        CommandHelp(
            "rollback",
            "rollback [APP] ENV [to RELEASE|SHA]",
            "put the previous good release back (then lock the environment); a chosen release (`to RELEASE`) "
            "waits for approval and freezes like a deploy",
            "rollback",
        ),
        CommandHelp(
            "rollback!",
            "rollback! [APP] ENV to RELEASE|SHA",
            "put a chosen release back through a freeze, where you may force deploys; always reported loudly",
            "force",
        ),
        CommandHelp(
            "converge",
            "converge [APP] ENV",
            "put the live release on the hosts that are behind it (hosts discovery found since); it goes out "
            "like a deploy",
            "deploy",
        ),
        CommandHelp("cancel", "cancel [RUN-ID|ENV]", "stop a run (hosts already switched are reverted)", "cancel"),
        CommandHelp(
            "plan",
            "plan [APP] [REF] to ENV",
            "what a deploy would do, changing nothing: the commit, what would ship, each host's steps and the "
            "release it replaces; also `deploy REF to ENV --dry-run`",
            "deploy",
        ),
        CommandHelp("status", "status [APP] [ENV]", "what runs where, locks, queue and running deploys"),
        CommandHelp("history", "history [APP] [ENV] [N]", "the last N runs; also `deploys APP [in ENV]`"),
        CommandHelp("lock", "lock [APP] ENV [for REASON]", "keep others from deploying an environment", "lock"),
        CommandHelp("unlock", "unlock [APP] ENV [--force]", "release your lock (admins: --force for others')"),
        CommandHelp("where", "where can I deploy [APP]", "the environments you may deploy to from here"),
        CommandHelp(
            "run", "run [APP] TASK on ENV[/ROLE]", "run a configured task; also `deploy:TASK [APP] to ENV`", "task"
        ),
        CommandHelp("approve", "approve RUN-ID", "approve someone else's deploy that waits for approval", "approve"),
        CommandHelp("reject", "reject RUN-ID [REASON]", "reject a deploy that waits for approval", "approve"),
        CommandHelp(
            "preview",
            "preview [APP] BRANCH",
            "a preview of the branch's current head at its own address (`previews` lists them)",
            "preview",
        ),
        CommandHelp("teardown", "teardown [APP] BRANCH", "remove the branch's preview", "teardown"),
        CommandHelp("previews", "previews [APP]", "the previews that run, with their age and address"),
        CommandHelp(
            "flags",
            "flags [ENV]",
            "every feature flag: its state, ramp, allow list, last change, and on how many hosts its file is current",
        ),
        CommandHelp(
            "flag",
            "flag on|off NAME [for KEY,KEY] in ENV · flag NAME to 10% in ENV · flag NAME drop KEY in ENV · "
            "flag revert NAME in ENV · flag history NAME [in ENV] · flag NAME",
            "turn a feature flag on, off (the kill switch, allowed during freezes), ramp it or allow targeting keys, "
            "without a deploy; add `because REASON` to keep why",
            "flag",
        ),
        CommandHelp(
            "flag!",
            "flag! on NAME in ENV · flag! NAME to 10% in ENV",
            "raise a flag through a freeze or past the promotion order, where you may force; always reported loudly",
            "force",
        ),
        CommandHelp(
            "help",
            "help [COMMAND]",
            "this list, or one command's syntax; `/deploy` alone or `/deploy help` as a slash command",
        ),
    )
}

# Words that mean a command; ``environments`` and ``envs`` are ``where``, hubot-deploy's ``deploys`` is ``history``.
COMMAND_WORDS: dict[str, str] = {word: word for word in SYNTAX} | {
    "environments": "where",
    "envs": "where",
    "deploys": "history",
}


def syntax(word: str) -> str:
    """``deploy [APP] [REF] to ENV[/ROLE-OR-HOST]`` for ``deploy``, in backticks."""
    return f"`{SYNTAX[word].syntax}`"


def try_hint(word: str) -> str:
    return f"Try: {syntax(word)}"
