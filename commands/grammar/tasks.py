"""The words that run a configured task: ``run [APP] TASK on ENV[/ROLE]`` and hubot-deploy's
``deploy:TASK [APP] to ENV[/ROLE]`` (pure).

Both end in a :class:`~commands.command.RunTask` for a task the config names. ``deploy:TASK`` reads as
``run``: the app, when named, comes first; a ref is refused (a task runs on what is deployed), and so is a
``!`` (a task is never forced). Where hubot-deploy would run the task in its default environment, shipbot asks
which one.
"""

from __future__ import annotations

from commands.command import RunTask
from commands.errors import CommandError
from commands.grammar.checks import PREPOSITIONS
from commands.grammar.places import checked_target, env_list, env_matches, unknown_app, unknown_environment, which_app
from commands.help_text import try_hint
from commands.suggest import did_you_mean, shown
from commands.vocabulary import AppVocabulary, GrammarContext

TASK_PREFIX = "deploy:"


def parse_run(args: list[str], context: GrammarContext) -> RunTask:
    if len(args) < 2:
        raise CommandError("run which task, where?", tasks_hint(context, None))
    env_word, slash, target_word = args[-1].partition("/")
    rest = args[:-1]
    if rest and rest[-1].lower() in PREPOSITIONS:
        rest = rest[:-1]
    if len(rest) == 2:
        app = context.app(rest[0])
        if app is None:
            raise unknown_app(rest[0], context, "run")
        task_word = rest[1]
    elif len(rest) == 1:
        app, task_word = None, rest[0]
    else:
        raise CommandError("run which task, where?", tasks_hint(context, None))
    matches = env_matches(env_word, context, app)
    if not matches:
        raise unknown_environment(env_word, context, app, "run")
    with_task = [(a, e) for a, e in matches if task_named(context.apps[a], task_word)]
    if not with_task:
        raise _unknown_task(task_word, context, [a for a, _ in matches])
    if len(with_task) > 1:
        raise which_app(with_task[0][1], [a for a, _ in with_task], "run", f"TASK on {with_task[0][1]}")
    app, environment = with_task[0]
    task = task_named(context.apps[app], task_word) or task_word
    target = checked_target(context, app, environment, target_word, "run") if slash else None
    return RunTask(app, task, environment, target)


def parse_deploy_task(head: str, args: list[str], context: GrammarContext) -> RunTask:
    """``deploy:TASK [APP] [to] ENV[/ROLE]`` as hubot-deploy users type it; ``head`` is ``deploy:TASK``."""
    task_word = head[len(TASK_PREFIX) :]
    if task_word.endswith("!"):
        example = f"{TASK_PREFIX}{shown(task_word.rstrip('!'))} {' '.join(shown(a) for a in args)}".strip()
        raise CommandError("a task is never forced", f"Drop the `!`: `{example}`.")
    if not task_word:
        raise CommandError("deploy: which task?", tasks_hint(context, None))
    if not any(task_named(vocab, task_word) for vocab in context.apps.values()):
        raise _unknown_task(task_word, context, list(context.apps))
    words = list(args)
    app = context.app(words[0].partition("/")[0]) if words else None
    if app is not None and "/" in words[0]:
        raise CommandError(
            f"a task takes no ref: `{shown(task_word)}` runs on what is deployed",
            f"Leave out `/{shown(words[0].partition('/')[2])}`. {try_hint('run')}",
        )
    if app is not None:
        words = words[1:]
    if not words or (len(words) == 1 and words[0].lower() in PREPOSITIONS):
        named = f" {app}" if app else ""
        raise CommandError(
            f"run `{shown(task_word)}`{named} where?",
            f"Name the environment, like `{TASK_PREFIX}{shown(task_word)}{named} to ENV`; shipbot never picks one "
            f"for you. Environments: {env_list(context, app)}.",
        )
    return parse_run([*([app] if app else []), task_word, *words], context)


def task_named(vocab: AppVocabulary, word: str) -> str | None:
    for task in vocab.tasks:
        if task.lower() == word.lower():
            return task
    return None


def tasks_hint(context: GrammarContext, apps: list[str] | None) -> str:
    names = sorted({t for a, v in context.apps.items() if apps is None or a in apps for t in v.tasks})
    listed = ", ".join(f"`{t}`" for t in names) if names else "none are configured (`tasks:` in the config)"
    return f"Tasks: {listed}. {try_hint('run')}"


def _unknown_task(word: str, context: GrammarContext, apps: list[str]) -> CommandError:
    tasks = [t for a in apps for t in context.apps[a].tasks]
    near = did_you_mean(word, tasks)
    hint = f"did you mean `{near}`? " + try_hint("run") if near else tasks_hint(context, apps)
    return CommandError(f"unknown task `{shown(word)}`", hint)
