"""Deploy on push, end to end: signed requests over real HTTP to the bot's webhook server, the real bolt app
against the Slack emulator, real sshd hosts and a real git repository."""

from __future__ import annotations

import asyncio
import copy
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from cli import logs
from tests.bot.conftest import Stack, StackFactory, dump
from tests.engine.conftest import PIPELINE
from tests.webhooks.hooks import HOOKS, headers, payload, push, send

pytestmark = pytest.mark.sshd
FOLLOW_MAIN = {"auto_deploy": {"branch": "main"}, "notify": ["C0DEPLOY"]}


async def until(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


def deployed(s: Stack, env: str = "staging") -> list[str]:
    """The SHAs of the runs in ``env`` that ended in success, oldest first."""
    runs = s.store.list_runs("shop", env, 50)
    return [r.sha for r in reversed(runs) if r.state == "success"]


def runs(s: Stack, env: str = "staging") -> list[Any]:
    return list(reversed(s.store.list_runs("shop", env, 50)))


def live_sha(s: Stack) -> str:
    return (s.fleet.hosts[0].local_deploy_to / "current" / "REVISION").read_text().strip()


def shown(m: Any) -> str:
    """A chat message as people see it: its text and its blocks."""
    return f"{m.text} {json.dumps(m.blocks or [])}"


def gated(gate: Path) -> dict[str, Any]:
    """The test pipeline, with a build that waits while ``gate`` exists (so a run can be kept going)."""
    return {**PIPELINE, "build": ["./build.sh", f"while [ -e {gate} ]; do sleep 0.05; done"]}


@pytest.mark.parametrize("provider", ["github", "gitlab", "gitea"])
async def test_a_signed_push_deploys_exactly_the_pushed_sha(stack: StackFactory, provider: str) -> None:
    s = await stack(hosts=2, staging=FOLLOW_MAIN, settings=HOOKS)
    port = s.running.webhook_port
    assert port
    pushed = s.repo.commit("pushed change", {"VERSION": "v2\n"})
    status, body = await push(port, provider, str(s.repo.path), "refs/heads/main", pushed)
    assert (202, ["staging"]) == (status, body["apps"][0]["deploying"]), body
    s.repo.commit("a later change nobody pushed yet", {"VERSION": "v3\n"})  # the branch moves on meanwhile
    await until(lambda: bool(deployed(s)), what="the deploy")
    assert [pushed] == deployed(s)
    assert pushed == live_sha(s)
    assert "v2\n" == (s.fleet.hosts[0].local_deploy_to / "current" / "VERSION").read_text()
    run = runs(s)[0]
    assert run.user.endswith(" (push)")
    note = await s.bot_message(lambda m: "pushed" in m.text and pushed[:7] in m.text)
    assert "deploying to staging" in note.text
    await s.bot_message(lambda m: run.run_id in shown(m) and "live" in shown(m))  # the run message, as usual


async def test_bad_requests_get_a_clear_answer_and_change_nothing(stack: StackFactory) -> None:
    s = await stack(hosts=2, staging=FOLLOW_MAIN, settings=HOOKS)
    port = s.running.webhook_port
    assert port
    repo, sha = str(s.repo.path), s.repo.sha("main")
    body = json.dumps(payload("github", repo, "refs/heads/main", sha)).encode()

    wrong = headers("github", body, secret="not-the-secret")
    assert 401 == (await send(port, "github", body, wrong))[0]
    unsigned = {k: v for k, v in headers("github", body).items() if k != "X-Hub-Signature-256"}
    assert 401 == (await send(port, "github", body, unsigned))[0]
    assert 401 == (await send(port, "gitlab", body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope"}))[0]
    assert 401 == (await send(port, "gitea", body, headers("github", body)))[0]  # GitHub's header on Gitea's path
    tampered = body.replace(b"refs/heads/main", b"refs/heads/mainx")
    assert 401 == (await send(port, "github", tampered, headers("github", body)))[0]

    huge = b" " * (25 * 1024 * 1024 + 1)
    assert 413 == (await send(port, "github", io.BytesIO(huge), headers("github", huge)))[0]  # type: ignore[arg-type]

    async def chunks() -> Any:  # no Content-Length: the read itself is capped
        for _ in range(26):
            yield b" " * (1024 * 1024)

    status, answer = await send(port, "github", chunks(), headers("github", b""))  # type: ignore[arg-type]
    assert 413 == status, answer

    ping = (Path(__file__).parent / "payloads" / "github_ping.json").read_bytes()
    ping_headers = {**headers("github", ping), "X-GitHub-Event": "ping"}
    assert (200, "pong") == ((r := await send(port, "github", ping, ping_headers))[0], r[1]["note"])

    status, answer = await push(port, "github", repo, "refs/heads/develop", sha)
    assert 202 == status and "no environment of shop follows refs/heads/develop: staging (main)" == answer["ignored"]

    deletion = json.loads((Path(__file__).parent / "payloads" / "github_tag_deletion.json").read_text())
    deletion["repository"]["clone_url"] = repo
    raw = json.dumps(deletion).encode()
    status, answer = await send(port, "github", raw, headers("github", raw))
    assert 202 == status and "refs/tags/simple-tag was deleted" in answer["ignored"]

    status, answer = await push(port, "gitea", "https://git.example.com/acme/unknown.git", "refs/heads/main", sha)
    assert 404 == status and "unknown.git" in answer["error"]

    status, answer = await push(port, "gitlab", repo, "refs/heads/a..b", sha)
    assert 422 == status and "may not contain '..'" in answer["error"]
    status, answer = await push(port, "github", repo, "refs/heads/main", "not-a-sha")
    assert 422 == status and "not a full commit id" in answer["error"]
    target = s.fleet.root / "written-by-git"
    hostile = {**payload("github", repo, "refs/heads/main", sha), "before": f"--output={target}", "commits": []}
    raw = json.dumps(hostile).encode()
    status, answer = await send(port, "github", raw, headers("github", raw))
    assert (422, False) == (status, target.exists())
    assert answer["error"].startswith("the payload's 'before' is not a full commit id") and "\n" not in answer["error"]

    status, _ = await push(port, "github", repo, "refs/heads/main", "e" * 40)  # signed, but no such commit
    assert 202 == status
    await s.bot_message(lambda m: "eeeeeee" in shown(m) and "the pushed commit is not in the repository" in shown(m))

    assert [] == runs(s), "nothing ran"

    status, _ = await push(port, "github", repo, "refs/heads/main", sha, delivery="delivery-1")
    assert 202 == status
    await until(lambda: bool(deployed(s)), what="the deploy")
    status, answer = await push(port, "github", repo, "refs/heads/main", sha, delivery="delivery-1")  # redelivered
    assert 200 == status and "received before" in answer["ignored"]
    await asyncio.sleep(1.0)
    assert [sha] == [r.sha for r in runs(s)], await dump(s.emu)
    # the delivery went through the one inbox Slack commands use, and was crossed out once the push was decided
    assert [] == s.store.inbox.unanswered(["push"])
    assert not s.store.inbox.receive("push:github:delivery-1", "push", "{}")


async def test_pushes_during_a_run_become_one_deploy_of_the_newest(stack: StackFactory, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    s = await stack(hosts=2, pipeline=gated(gate), staging=FOLLOW_MAIN, settings=HOOKS)
    port, repo = s.running.webhook_port, str(s.repo.path)
    assert port
    first = s.repo.commit("first", {"VERSION": "v2\n"})
    assert 202 == (await push(port, "github", repo, "refs/heads/main", first))[0]
    await until(lambda: bool(runs(s)) and runs(s)[0].running, what="the first run")
    second = s.repo.commit("second", {"VERSION": "v3\n"})
    assert 202 == (await push(port, "gitlab", repo, "refs/heads/main", second))[0]
    third = s.repo.commit("third", {"VERSION": "v4\n"})
    assert 202 == (await push(port, "gitea", repo, "refs/heads/main", third))[0]
    await s.bot_message(lambda m: third[:7] in shown(m) and "once the run going on there ends" in shown(m))
    gate.unlink()
    await until(lambda: len(deployed(s)) == 2, what="the deploy after the run")
    await asyncio.sleep(1.0)
    assert [first, third] == [r.sha for r in runs(s)], await dump(s.emu)  # the second push never deploys
    assert third == live_sha(s)


async def test_a_lock_refuses_a_push(stack: StackFactory) -> None:
    s = await stack(hosts=2, staging=FOLLOW_MAIN, settings=HOOKS)
    port, repo = s.running.webhook_port, str(s.repo.path)
    assert port
    await s.say("U0ALICE", "lock staging for a database migration")
    await s.bot_message(lambda m: "locked" in shown(m).lower())
    sha = s.repo.commit("pushed while locked", {"VERSION": "v2\n"})
    assert 202 == (await push(port, "github", repo, "refs/heads/main", sha))[0]
    refused = await s.bot_message(lambda m: "was not deployed to staging" in shown(m))
    assert "a database migration" in shown(refused) or "U0ALICE" in shown(refused)
    await asyncio.sleep(0.5)
    assert [] == runs(s)


async def test_a_pushed_release_tag_posts_release_notes_and_deploys_where_tags_are_followed(
    stack: StackFactory,
) -> None:
    def tags(data: dict[str, Any]) -> None:
        data["release_tags"] = "v*"
        data["environments"]["production"].update({"auto_deploy": {"tags": "v*"}, "notify": ["C0DEPLOY"]})
        access = copy.deepcopy(data["access"])  # the shared ACCESS stays as it is
        access["environments"]["production"].pop("approval")
        data["access"] = access

    s = await stack(hosts=2, staging={"notify": ["C0DEPLOY"]}, settings=HOOKS, edit=tags)
    port, repo = s.running.webhook_port, str(s.repo.path)
    assert port
    s.repo.commit("add the cart", {"VERSION": "v2\n"})
    sha = s.repo.commit("fix the cart", {"VERSION": "v2.1\n"})
    s.repo.git("tag", "v1.1.0")
    status, answer = await push(port, "gitlab", repo, "refs/tags/v1.1.0", sha)
    assert 202 == status and answer["apps"][0] == {
        "app": "shop", "deploying": ["production"], "release_notes": True, "preview": None
    }  # fmt: skip
    notes = await s.bot_message(lambda m: "v1.1.0" in m.text and "released" in m.text)
    text = shown(notes)
    assert "since `v1.0.0`" in text and "add the cart" in text and "fix the cart" in text
    assert "first version" not in text  # v1.0.0 itself is not in the notes
    await until(lambda: bool(deployed(s, "production")), what="the production deploy")
    assert [sha] == deployed(s, "production") and [] == runs(s, "staging")


async def test_polling_deploys_a_moved_branch(stack: StackFactory) -> None:
    follow = {"auto_deploy": {"branch": "main", "poll": "1s"}, "notify": ["C0DEPLOY"]}
    s = await stack(hosts=2, staging=follow)  # no webhook server at all
    assert s.running.webhook_port is None
    await asyncio.sleep(1.5)
    assert [] == runs(s), "a branch that has not moved deploys nothing"
    moved = s.repo.commit("moved without a webhook", {"VERSION": "v2\n"})
    await until(lambda: bool(deployed(s)), timeout=20, what="the polled deploy")
    assert [moved] == deployed(s) and moved == live_sha(s)
    assert runs(s)[0].user == "Ada Dev (poll)"


async def test_a_push_held_by_a_freeze_survives_a_restart_and_deploys_once_the_freeze_is_gone(
    stack: StackFactory,
) -> None:
    today = datetime.now(UTC).date().isoformat()

    def frozen(data: dict[str, Any]) -> None:
        freeze = {"environments": ["staging"], "from": today, "to": today, "reason": "launch day", "timezone": "UTC"}
        data["access"] = {**data["access"], "freeze": [freeze]}  # a copy: the shared ACCESS stays as it is

    s = await stack(hosts=2, staging=FOLLOW_MAIN, settings=HOOKS, edit=frozen)
    assert s.running.webhook_port
    repo = str(s.repo.path)
    older = s.repo.commit("pushed during the freeze", {"VERSION": "v2\n"})
    assert 202 == (await push(s.running.webhook_port, "github", repo, "refs/heads/main", older))[0]
    newest = s.repo.commit("pushed later during the freeze", {"VERSION": "v3\n"})
    assert 202 == (await push(s.running.webhook_port, "gitea", repo, "refs/heads/main", newest))[0]
    held = await s.bot_message(lambda m: newest[:7] in shown(m) and "is held" in shown(m))
    assert "staging is frozen: launch day" in shown(held)
    await asyncio.sleep(2.5)  # the bot's timer looked at least once: still frozen
    assert [] == runs(s)
    await s.stop()

    # the operator lifts the freeze and the bot starts again on the same store
    s = await stack(hosts=2, staging=FOLLOW_MAIN, settings=HOOKS)
    await s.bot_message(lambda m: "freeze on staging ended" in shown(m) and newest[:7] in shown(m), timeout=15)
    await until(lambda: bool(deployed(s)), what="the held deploy")
    await asyncio.sleep(2.5)
    assert [newest] == [r.sha for r in runs(s)], await dump(s.emu)  # the newest held push, once
    assert newest == live_sha(s)


async def test_a_commit_seen_by_the_webhook_and_the_poller_deploys_once(stack: StackFactory) -> None:
    follow = {"auto_deploy": {"branch": "main", "poll": "1s"}, "notify": ["C0DEPLOY"]}
    s = await stack(hosts=2, staging=follow, settings=HOOKS)
    assert s.running.webhook_port
    await asyncio.sleep(1.2)  # the poller has looked once
    sha = s.repo.commit("seen twice", {"VERSION": "v2\n"})
    assert 202 == (await push(s.running.webhook_port, "gitea", str(s.repo.path), "refs/heads/main", sha))[0]
    await until(lambda: bool(deployed(s)), what="the deploy")
    await asyncio.sleep(2.5)  # the poller has seen the moved branch too
    assert [sha] == [r.sha for r in runs(s)], await dump(s.emu)
    said = await s.emu.messages("C0DEPLOY")
    assert [] == [m for m in said if "once the run going on there ends" in json.dumps(m)]


async def test_the_old_shared_secret_keeps_github_and_gitea_working_never_gitlab_and_start_up_says_so(
    stack: StackFactory,
) -> None:
    stream = io.StringIO()
    logs.configure("json", "INFO", stream)
    try:
        shared = "an-old-shared-s3cret"
        s = await stack(hosts=1, staging=FOLLOW_MAIN, settings={"SHIPBOT_WEBHOOK_PORT": 0,
                                                                "SHIPBOT_WEBHOOK_SECRET": shared})  # fmt: skip
        port = s.running.webhook_port
        assert port
        repo, sha = str(s.repo.path), s.repo.sha("main")
        answers = {}
        for provider in ("github", "gitea", "gitlab"):
            raw = json.dumps(payload(provider, repo, "refs/heads/develop", sha)).encode()
            answers[provider] = await send(port, provider, raw, headers(provider, raw, secret=shared))
        warnings = [json.loads(line) for line in stream.getvalue().splitlines() if "webhook_secret_shared" in line]
    finally:
        structlog.reset_defaults()
    assert (202, 202, 401) == tuple(answers[p][0] for p in ("github", "gitea", "gitlab")), answers
    assert "SHIPBOT_WEBHOOK_SECRET_GITLAB" in answers["gitlab"][1]["error"]
    assert 1 == len(warnings) and "SHIPBOT_WEBHOOK_SECRET_GITHUB" in warnings[0]["note"]
    assert shared not in stream.getvalue()
