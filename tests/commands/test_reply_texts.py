"""The sentences of the use cases, one builder per case (pure): each call and the exact reply it builds."""

from __future__ import annotations

import pytest

from commands import reply_texts as texts
from commands.replies import Refusal
from commands.runs import Busy, RunRequest
from deploy.records import LockRecord

SINCE = 1_780_000_000.0  # 2026-05-28 20:26 UTC
LOCK = LockRecord("production", "U0ALICE", "release freeze", SINCE)
RUN = RunRequest("r0001", "deploy", "shop", "production", "U0ALICE", "C0DEPLOYS", SINCE, "main", "a" * 40)


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (
            texts.no_user_id(),
            Refusal("shipbot knows people by their Slack user ID, and this message has none it can use"),
        ),
        (
            texts.locked_by(LOCK),
            Refusal(
                "production is locked by U0ALICE since 2026-05-28 20:26 UTC: release freeze",
                "Ask U0ALICE to `unlock production`; an admin can `unlock production --force` (recorded).",
            ),
        ),
        (
            texts.locked_by(LockRecord("staging", "U0BOB", "", SINCE)),
            Refusal(
                "staging is locked by U0BOB since 2026-05-28 20:26 UTC: no reason given",
                "Ask U0BOB to `unlock staging`; an admin can `unlock staging --force` (recorded).",
            ),
        ),
        (
            texts.busy("canary", Busy("r0007", "U0BOB", "main (aaaaaaa)")),
            Refusal(
                "canary is busy: U0BOB is deploying main (aaaaaaa) (run r0007)",
                "Try again when it ends, or `cancel r0007` if you may.",
            ),
        ),
        (
            texts.unresolved_ref("shop has no branch, tag or commit 'nope'", usage=True),
            Refusal(
                "shop has no branch, tag or commit 'nope'",
                "Check the branch, tag or commit name; push it first if it is new.",
            ),
        ),
        (texts.unresolved_ref("git fetch failed", usage=False), Refusal("git fetch failed")),
        (
            texts.cannot_start_now("production is frozen", "Wait for Monday."),
            Refusal("the deploy cannot start now: production is frozen", "Wait for Monday."),
        ),
        (
            texts.cannot_start_now("production is frozen", "Wait for Monday.", "rollback"),
            Refusal("the rollback cannot start now: production is frozen", "Wait for Monday."),
        ),
        (
            texts.not_waiting_for_approval("r0001"),
            Refusal(
                "no deploy r0001 is waiting for approval",
                "`status` lists the requests waiting for approval; ask for the deploy again if it is not there.",
            ),
        ),
        (
            texts.approval_expired("r0001", SINCE, "U0ALICE"),
            Refusal(
                "the approval request for r0001 expired at 2026-05-28 20:26 UTC",
                "Ask U0ALICE to ask for the deploy again.",
            ),
        ),
        (
            texts.may_not_reject("you cannot approve your own deploy", "Ask someone else: @sre.", own=True),
            Refusal("you cannot reject your own deploy", "To withdraw your own request, `cancel` it."),
        ),
        (
            texts.may_not_reject("you may not approve in production", "Ask @sre.", own=False),
            Refusal("you may not reject in production", "Ask @sre."),
        ),
        (
            texts.not_a_deploy("r0002", "task"),
            Refusal("r0002 is a task, not a deploy", "Roll back with `rollback ENV`."),
        ),
        (texts.still_running("r0002"), Refusal("r0002 is still running", "Cancel it instead: `cancel r0002`.")),
        (
            texts.did_not_go_out("r0002", "failed"),
            Refusal("r0002 did not go out (failed); the hosts are on the release before it", "Nothing to roll back."),
        ),
        (
            texts.replaced_since("r0002", "staging"),
            Refusal(
                "r0002 is no longer what runs on staging; a later deploy replaced it",
                "Roll back explicitly: `rollback staging to SHA` (see `history`).",
            ),
        ),
        (
            texts.no_deploy_in_history("r0009"),
            Refusal("no deploy r0009 in the history", "`history ENV` lists recent runs."),
        ),
        (
            texts.not_paused("r0003"),
            Refusal("r0003 is not waiting at a pause", "`status` shows what runs and waits."),
        ),
        (
            texts.may_not_resume("you may not deploy to production", "U0ALICE"),
            Refusal(
                "you may not deploy to production", "Ask U0ALICE, who started it, or someone who may deploy there."
            ),
        ),
        (
            texts.nothing_running_in("staging"),
            Refusal("nothing shipbot started is running in staging", "`status` shows runs."),
        ),
        (
            texts.nothing_to_cancel(),
            Refusal("you have no run to cancel", "Name one: `cancel RUN-ID` or `cancel ENV`."),
        ),
        (
            texts.several_to_cancel(["r0001", "r0002"]),
            Refusal("you have several runs: `r0001`, `r0002`", "Name one: `cancel RUN-ID`."),
        ),
        (
            texts.not_started_from_chat("r0004"),
            Refusal("r0004 was not started from chat", "Cancel it where it was started."),
        ),
        (
            texts.no_such_run("r0005"),
            Refusal("no run r0005 is running, queued or waiting for approval", "`status` shows runs."),
        ),
        (
            texts.may_not_cancel("you may not cancel in production", "U0ALICE"),
            Refusal("you may not cancel in production", "Ask U0ALICE, who started it."),
        ),
    ],
)
def test_each_refusal_says_why_and_what_to_do_instead(built: Refusal, expected: Refusal) -> None:
    assert expected == built


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (texts.rollback_lock_reason("U0ALICE"), "rolled back by U0ALICE: redeploy on purpose with unlock"),
        (texts.run_failed_unexpectedly(RuntimeError("boom")), "shipbot failed unexpectedly: boom"),
        (texts.lock_held(LOCK), "production is locked by U0ALICE since 2026-05-28 20:26 UTC: release freeze"),
    ],
)
def test_the_other_sentences(built: str, expected: str) -> None:
    assert expected == built
