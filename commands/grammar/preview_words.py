"""The words of previews per branch: ``preview [APP] BRANCH``, ``teardown [APP] BRANCH``, ``previews [APP]`` (pure).

The branch passes git's ref rules here (:func:`commands.grammar.checks.checked_ref`); whether it makes a safe preview
name is the engine's to say (:func:`deploy.previews.layout.branch_problem`), with the same words for a push and a
message.
"""

from __future__ import annotations

from commands.command import ListPreviews, Preview, Teardown
from commands.errors import CommandError
from commands.grammar.checks import checked_ref
from commands.grammar.places import unknown_app
from commands.help_text import try_hint
from commands.suggest import shown
from commands.vocabulary import GrammarContext


def _app_and_branch(args: list[str], context: GrammarContext, verb: str) -> tuple[str | None, str]:
    if not args:
        raise CommandError(f"{verb} which branch?", try_hint(verb))
    if len(args) == 2:
        app = context.app(args[0])
        if app is None:
            raise unknown_app(args[0], context, verb)
        return app, checked_ref(args[1], verb)
    if len(args) > 2:
        raise CommandError(f"too many words for `{verb}`: `{shown(' '.join(args))}`", try_hint(verb))
    return None, checked_ref(args[0], verb)


def parse_preview(args: list[str], context: GrammarContext) -> Preview:
    app, branch = _app_and_branch(args, context, "preview")
    return Preview(branch, app)


def parse_teardown(args: list[str], context: GrammarContext) -> Teardown:
    app, branch = _app_and_branch(args, context, "teardown")
    return Teardown(branch, app)


def parse_previews(args: list[str], context: GrammarContext) -> ListPreviews:
    if not args:
        return ListPreviews()
    app = context.app(args[0])
    if app is None or len(args) > 1:
        raise (
            unknown_app(args[0], context, "previews")
            if app is None
            else CommandError("`previews` takes at most an app name", try_hint("previews"))
        )
    return ListPreviews(app)
