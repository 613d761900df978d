"""The checks every word of a command passes before it is kept (pure).

A second-factor code typed after a command (hubot-deploy's habit: six to eight digits, or a YubiKey's one-time
password) is refused by :func:`refuse_second_factor`, never read as an environment or a reason.

Run ids and release ids match strict patterns (:data:`RUN_ID`, :data:`RELEASE`); refs follow git's
``check-ref-format`` rules (:func:`deploy.delivery.refs.ref_problem`); free-text reasons (a lock's, a rejection's) are
short, printable, free of markup and of broadcast words (:func:`reason_problem`). Each ``checked_*`` function
returns the word as it will be kept or raises :class:`~commands.errors.CommandError` with what to type instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from commands.errors import CommandError
from commands.help_text import try_hint
from commands.suggest import shown
from deploy.delivery.refs import character_name, ref_problem

RUN_ID = re.compile(r"[a-z0-9][a-z0-9_-]{2,39}")
RELEASE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
PREPOSITIONS = frozenset({"to", "in", "on", "into", "onto"})
FORCE_FLAGS = frozenset({"--force", "-f", "\u2014force", "\u2013force", "force"})
# Slack may turn ``--`` into a dash
DRY_RUN_FLAGS = frozenset({"--dry-run", "\u2014dry-run", "\u2013dry-run", "--dryrun"})
REASON_LEADS = frozenset({"for", "because", "-", ":", "\u2014"})
MAX_REASON = 200
SECOND_FACTOR = re.compile(r"[0-9]{6,8}|[cbdefghijklnrtuv]{32,64}", re.IGNORECASE)
_REASON_FORBIDDEN = set("<>`$|\\{}")
_BROADCAST_WORDS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_OWN_MARKERS = re.compile(r"shipbot-(preamble|listing)", re.IGNORECASE)  # how shipbot frames what hosts print


def reason_problem(reason: str) -> str | None:
    """Why ``reason`` (a lock or rejection reason) cannot be kept and shown, or ``None`` when it can."""
    if len(reason) > MAX_REASON:
        return f"a reason may be at most {MAX_REASON} characters"
    for ch in reason:
        if not ch.isprintable():
            return "a reason may not contain control characters"
        if ch in _REASON_FORBIDDEN:
            return f"a reason may not contain {character_name(ch)}"
    if _BROADCAST_WORDS.search(reason):
        return "a reason may not contain @channel, @here or @everyone"
    if _OWN_MARKERS.search(reason):
        return "a reason may not contain shipbot's own markers (shipbot-preamble, shipbot-listing)"
    return None


def refuse_second_factor(tokens: Sequence[str]) -> None:
    """A last word that looks like a second-factor code after the command's own words is refused.

    A code after ``to``/``in``/``on``/``for`` is a release, SHA, environment or reason, so it is left alone.
    """
    if len(tokens) < 3 or not SECOND_FACTOR.fullmatch(tokens[-1]):
        return
    if tokens[-2].lower() in PREPOSITIONS | REASON_LEADS:
        return
    command = shown(" ".join(tokens[:-1]))
    raise CommandError(
        "that looks like a second-factor code at the end; shipbot does not take one",
        f"shipbot knows you by your Slack account and checks its access rules itself: send `{command}` without "
        "the code.",
    )


def checked_ref(ref: str, verb: str) -> str:
    problem = ref_problem(ref)
    if problem:
        hint = "Refs follow git's rules: a branch, tag or commit like `feature/x`, `v1.4.2` or `3f2a9c1`. "
        raise CommandError(f"`{shown(ref)}` is not a ref shipbot accepts: {problem}", hint + try_hint(verb))
    return ref


def checked_reason(words_: Sequence[str], verb: str) -> str:
    """The reason after the command's other words; a leading "for", "because" or dash is not part of it."""
    if words_ and words_[0].lower() in REASON_LEADS:
        words_ = words_[1:]
    reason = " ".join(words_)
    problem = reason_problem(reason)
    if problem:
        raise CommandError(f"that reason cannot be kept: {problem}", try_hint(verb))
    return reason


def checked_run_id(args: list[str], verb: str) -> str:
    if not args:
        raise CommandError(f"{verb} which run?", "The run id is in the message asking for approval. " + try_hint(verb))
    run_id = args[0].lower()
    if not RUN_ID.fullmatch(run_id):
        raise CommandError(f"`{shown(args[0])}` is not a run id", try_hint(verb))
    return run_id
