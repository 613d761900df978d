"""Every sentence the use cases say, kept beside the replies and apart from the control flow (pure).

The services decide *whether* to refuse; the builders here say *how*: each returns a
:class:`~commands.replies.Refusal` (the reason, then what to do instead). Words echoed into a sentence are IDs,
names from the config, run ids and messages of typed errors, never raw message text. The sentences of the
policy's own decisions live with the policy (:mod:`commands.policy`); the words of the audit trail live with it
(:mod:`commands.usecases.audit`).
"""

from __future__ import annotations

from commands.clock import when
from commands.replies import Refusal
from commands.runs import Busy
from deploy.delivery.promotion import PromotionBlock
from deploy.errors import stalled_run
from deploy.records import LockRecord

ROLLBACK_LOCK_REASON = "rolled back by {user}: redeploy on purpose with unlock"
RUN_CANCELLED = "cancelled"
# the store's database did not answer in time (deploy.errors.StoreUnavailable): said in chat and to webhooks, while
# the error itself, which names the database, goes to the log
STORE_NOT_ANSWERING = "the store is not answering; try again in a moment."
NO_REASON = "no reason given"


def rollback_lock_reason(user: str) -> str:
    """The reason of the lock a successful rollback leaves, so nobody redeploys the bad commit by accident."""
    return ROLLBACK_LOCK_REASON.format(user=user)


def cancelled_by(user: str, message: str) -> str:
    """A cancelled run's end report, naming who cancelled it: ``cancelled by U0ALICE; the 2 switched hosts went
    back; staging is still on its previous release``."""
    rest = message.removeprefix(RUN_CANCELLED).lstrip(";: ")
    return f"{RUN_CANCELLED} by {user}" + (f"; {rest}" if rest else "")


def run_failed_unexpectedly(error: BaseException) -> str:
    return f"shipbot failed unexpectedly: {error}"


# ------------------------------------------------------------------------------------------ who may ask


def no_user_id() -> Refusal:
    return Refusal("shipbot knows people by their Slack user ID, and this message has none it can use")


def lock_held(lock: LockRecord) -> str:
    """``production is locked by U0ALICE since 2026-03-27 14:05 UTC: release freeze``."""
    return f"{lock.environment} is locked by {lock.owner} since {when(lock.since)}: {lock.reason or NO_REASON}"


def locked_by(lock: LockRecord) -> Refusal:
    environment = lock.environment
    return Refusal(
        lock_held(lock),
        f"Ask {lock.owner} to `unlock {environment}`; an admin can `unlock {environment} --force` (recorded).",
    )


def busy(environment: str, holder: Busy) -> Refusal:
    if holder.stalled is not None:
        return Refusal(
            stalled_run(environment, holder.run_id, holder.user, holder.what, holder.stalled),
            "Try again then: the run is repaired first, and your deploy goes ahead.",
        )
    return Refusal(
        f"{environment} is busy: {holder.user} is deploying {holder.what} (run {holder.run_id})",
        f"Try again when it ends, or `cancel {holder.run_id}` if you may.",
    )


def unresolved_ref(message: str, *, usage: bool) -> Refusal:
    """The ref could not be turned into a commit: a wrong name (``usage``) or the repository could not be read."""
    return Refusal(message, "Check the branch, tag or commit name; push it first if it is new." if usage else "")


def cannot_start_now(reason: str, hint: str, kind: str = "deploy") -> Refusal:
    """An approved deploy (or rollback) that a freeze or a lock now holds back."""
    return Refusal(f"the {kind} cannot start now: {reason}", hint)


# -------------------------------------------------------------------------------------- what ships where


def promotion_rule(block: PromotionBlock) -> str:
    """``production only takes commits that passed staging: abc1234 has never been deployed successfully to
    staging (it is on: nowhere)``: the chat's refusal and the CLI's, word for word."""
    seen = ", ".join(block.seen_on) or "nowhere"
    return (
        f"{block.environment} only takes commits that passed {block.source}: {block.sha[:7]} has never been "
        f"deployed successfully to {block.source} (it is on: {seen})"
    )


def promotion_refused(block: PromotionBlock, ref: str) -> Refusal:
    return Refusal(
        promotion_rule(block),
        f"Deploy it to {block.source} first: `deploy {ref} to {block.source}`. An admin can force it with "
        f"`deploy! {ref} to {block.environment}` (recorded).",
    )


def forced_past_promotion(block: PromotionBlock, user: str) -> str:
    """The announcement of a deploy forced past the promotion order (run message, CLI)."""
    return f"forced past the promotion order by {user}: {promotion_rule(block)}"


def older_than_live(sha: str, live_sha: str) -> str:
    return f"{sha[:7]} is older than what is live ({live_sha[:7]}): this deploy goes back in history"


# -------------------------------------------------------------------------------------------- approvals


def not_waiting_for_approval(run_id: str) -> Refusal:
    return Refusal(
        f"no deploy {run_id} is waiting for approval",
        "`status` lists the requests waiting for approval; ask for the deploy again if it is not there.",
    )


def approval_expired(run_id: str, expires_at: float, requester: str) -> Refusal:
    return Refusal(
        f"the approval request for {run_id} expired at {when(expires_at)}",
        f"Ask {requester} to ask for the deploy again.",
    )


def may_not_reject(reason: str, hint: str, *, own: bool) -> Refusal:
    """The approval refusal said for a rejection; a requester is pointed at ``cancel`` instead."""
    return Refusal(reason.replace("approve", "reject"), "To withdraw your own request, `cancel` it." if own else hint)


# ------------------------------------------------------------------------------------- buttons on runs


def not_a_deploy(run_id: str, kind: str) -> Refusal:
    return Refusal(f"{run_id} is a {kind}, not a deploy", "Roll back with `rollback ENV`.")


def still_running(run_id: str) -> Refusal:
    return Refusal(f"{run_id} is still running", f"Cancel it instead: `cancel {run_id}`.")


def did_not_go_out(run_id: str, state: str) -> Refusal:
    return Refusal(
        f"{run_id} did not go out ({state}); the hosts are on the release before it", "Nothing to roll back."
    )


def replaced_since(run_id: str, environment: str) -> Refusal:
    return Refusal(
        f"{run_id} is no longer what runs on {environment}; a later deploy replaced it",
        f"Roll back explicitly: `rollback {environment} to SHA` (see `history`).",
    )


def no_deploy_in_history(run_id: str) -> Refusal:
    return Refusal(f"no deploy {run_id} in the history", "`history ENV` lists recent runs.")


def not_paused(run_id: str) -> Refusal:
    return Refusal(f"{run_id} is not waiting at a pause", "`status` shows what runs and waits.")


def may_not_resume(reason: str, starter: str) -> Refusal:
    return Refusal(reason, f"Ask {starter}, who started it, or someone who may deploy there.")


# ----------------------------------------------------------------------------------------------- cancel


def nothing_running_in(environment: str) -> Refusal:
    return Refusal(f"nothing shipbot started is running in {environment}", "`status` shows runs.")


def nothing_to_cancel() -> Refusal:
    return Refusal("you have no run to cancel", "Name one: `cancel RUN-ID` or `cancel ENV`.")


def several_to_cancel(run_ids: list[str]) -> Refusal:
    ids = ", ".join(f"`{run_id}`" for run_id in run_ids)
    return Refusal(f"you have several runs: {ids}", "Name one: `cancel RUN-ID`.")


def not_started_from_chat(run_id: str) -> Refusal:
    return Refusal(f"{run_id} was not started from chat", "Cancel it where it was started.")


def no_such_run(run_id: str) -> Refusal:
    return Refusal(f"no run {run_id} is running, queued or waiting for approval", "`status` shows runs.")


def may_not_cancel(reason: str, starter: str) -> Refusal:
    return Refusal(reason, f"Ask {starter}, who started it.")
