"""GitHub's ``deployment`` event starts a deploy, end to end: GitHub's documented event, signed as GitHub signs it,
sent over real HTTP to the bot's webhook server (the real bolt app against the Slack emulator, real sshd hosts, a
real git repository); the deployment's statuses land on a GitHub API served by the test, which checks each request
as GitHub's REST API describes it (tests/fixtures/github/README.md)."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from commands.forge_deployments import DeploymentEvent
from deploy.store.inbox import Inbox
from tests.bot.conftest import ACCESS, Stack, StackFactory
from tests.engine.conftest import PIPELINE
from tests.webhooks.hooks import HOOKS, headers, send
from tests.webhooks.test_push_deploys import deployed, live_sha, runs, until
from webhooks.deployment_payload import parse_deployment

pytestmark = pytest.mark.sshd
FIXTURE = Path(__file__).parents[1] / "fixtures" / "github" / "deployment.payload.json"
REPO = "Codertocat/Hello-World"
TOKEN = "ghp_test-token"
STATES = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
REQUEST_KEYS = {"state", "target_url", "log_url", "description", "environment", "environment_url", "auto_inactive"}


@dataclass
class GitHubApi:
    """The deployment statuses endpoints of GitHub's REST API (create, list), recording what it was sent."""

    url: str = ""
    delay: float = 0.0  # seconds before each answer: a slow GitHub
    down: bool = False  # every request answered 500: GitHub having an outage
    failed: int = 0  # requests answered 500
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def states(self, deployment: int) -> list[str]:
        return [s["state"] for s in self.statuses.get(str(deployment), [])]


@pytest.fixture
async def github() -> AsyncIterator[GitHubApi]:
    api = GitHubApi()

    async def create_status(request: web.Request) -> web.Response:
        await asyncio.sleep(api.delay)
        if api.down:
            api.failed += 1
            return web.json_response({"message": "Server Error"}, status=500)
        problems = []
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            problems.append("no bearer token")
        if request.headers.get("Accept") != "application/vnd.github+json":
            problems.append("not the GitHub media type")
        if request.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            problems.append("no API version")
        body = await request.json()
        if not isinstance(body, dict) or body.get("state") not in STATES:
            problems.append(f"bad state in {body!r}")
        elif set(body) - REQUEST_KEYS:
            problems.append(f"unknown keys in {body!r}")
        elif len(str(body.get("description", ""))) > 140:
            problems.append("description longer than 140")
        if f"{request.match_info['owner']}/{request.match_info['repo']}" != REPO:
            problems.append("wrong repository")
        if problems:
            api.problems.extend(problems)
            return web.json_response({"message": "; ".join(problems)}, status=422)
        api.statuses.setdefault(request.match_info["id"], []).append(body)
        return web.json_response({"id": 1, **body}, status=201)

    async def list_statuses(request: web.Request) -> web.Response:  # newest first, as GitHub lists them
        return web.json_response(list(reversed(api.statuses.get(request.match_info["id"], []))))

    app = web.Application()
    app.router.add_post("/repos/{owner}/{repo}/deployments/{id}/statuses", create_status)
    app.router.add_get("/repos/{owner}/{repo}/deployments/{id}/statuses", list_statuses)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield api
    await runner.cleanup()


async def bot(stack: StackFactory, github: GitHubApi, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Stack:
    """The bot with ``deployments.github`` pointing at the test's GitHub, Codertocat acting as U0ALICE."""
    monkeypatch.setenv("SHIPBOT_TEST_GITHUB_TOKEN", TOKEN)

    def edit(data: dict[str, Any]) -> None:
        data["deployments"] = {
            "github": {"repo": REPO, "token_env": "SHIPBOT_TEST_GITHUB_TOKEN", "api_url": github.url}
        }
        data["tasks"] = {"hello": {"run": "true"}}

    access = {**copy.deepcopy(ACCESS), "github_users": {"codertocat": "U0ALICE"}}
    return await stack(
        hosts=2, settings=HOOKS, access=access, edit=edit, staging={"notify": ["C0DEPLOY"]},
        production={"notify": ["C0DEPLOY"]}, **options,
    )  # fmt: skip


def event(sha: str, environment: str = "staging", deployment: int = 1001, creator: str = "Codertocat",
          task: str = "deploy") -> bytes:  # fmt: skip
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    data["deployment"].update(id=deployment, sha=sha, environment=environment, task=task, ref="main")
    data["deployment"]["creator"]["login"] = creator
    return json.dumps(data).encode()


def signed(body: bytes, delivery: str | None = None) -> dict[str, str]:
    return {**headers("github", body, delivery), "X-GitHub-Event": "deployment"}


async def test_a_signed_deployment_event_deploys_exactly_its_sha_and_its_statuses_end_in_success(
    stack: StackFactory, github: GitHubApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await bot(stack, github, monkeypatch)
    port = s.running.webhook_port
    assert port
    wanted = s.repo.commit("the change GitHub deploys", {"VERSION": "v2\n"})
    s.repo.commit("a later change on the branch", {"VERSION": "v3\n"})  # the ref moved on: the SHA is what ships
    body, delivery = event(wanted, deployment=1001), str(uuid.uuid4())
    status, answer = await send(port, "github", body, signed(body, delivery))
    assert (202, "staging", "in_progress") == (status, answer["environment"], answer["deployment_status"]), answer
    await until(lambda: github.states(1001)[-1:] == ["success"], what="the success status")
    assert [wanted] == deployed(s)
    assert wanted == live_sha(s)
    run = runs(s)[0]
    assert (answer["run_id"], "U0ALICE") == (run.run_id, run.user)  # the person Codertocat acts as
    assert ["in_progress", "success"] == github.states(1001)
    assert [] == github.problems

    again = await send(port, "github", body, signed(body, delivery))  # GitHub's redelivery
    also = await send(port, "github", body, signed(body))  # the same deployment, another delivery
    assert [200, 200] == [again[0], also[0]], (again, also)
    assert "received before" in again[1]["ignored"]
    assert 1 == len(runs(s)) and ["in_progress", "success"] == github.states(1001)


async def test_a_deployment_from_an_unmapped_user_is_refused_with_an_error_status_and_the_reason(
    stack: StackFactory, github: GitHubApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await bot(stack, github, monkeypatch)
    port = s.running.webhook_port
    assert port
    sha = s.repo.sha("main")
    body = event(sha, deployment=2002, creator="mallory")
    github.delay = 3.0  # a slow GitHub never holds the webhook's answer
    started = asyncio.get_running_loop().time()
    status, answer = await send(port, "github", body, signed(body))
    assert asyncio.get_running_loop().time() - started < 2.0
    assert 202 == status and "not in access.github_users" in answer["refused"], answer
    await until(lambda: bool(github.states(2002)), what="the error status")
    [told] = github.statuses["2002"]
    assert "error" == told["state"]
    assert "GitHub user 'mallory' is not allowed to deploy: not in access.github_users" == told["description"]
    assert [] == runs(s)


async def test_the_chat_rules_bind_a_deployment_too(
    stack: StackFactory, github: GitHubApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production asks for approval (queued, the request posted in the channel; approved in chat it deploys,
    rejected it ends in error); a locked environment refuses; an unknown environment or task is an error; a
    deployment shipbot created itself is ignored."""
    s = await bot(stack, github, monkeypatch)
    port = s.running.webhook_port
    assert port
    sha = s.repo.sha("main")

    body = event(sha, environment="production", deployment=3001)
    status, answer = await send(port, "github", body, signed(body))
    assert (202, "queued") == (status, answer.get("deployment_status")), answer
    asked_run = answer["run_id"]
    asked = await s.bot_message(lambda m: answer["run_id"] in json.dumps(m.blocks or []) and "pprov" in m.text)
    assert "GitHub deployment 3001 by Codertocat" in json.dumps(asked.blocks)  # the approvers see where it came from
    await until(lambda: ["queued"] == github.states(3001), what="the queued status")

    await s.say("U0BOB", "lock staging for a migration")
    await s.bot_message(lambda m: "lock" in m.text.lower() and "staging" in m.text)
    body = event(sha, environment="staging", deployment=3002)
    status, answer = await send(port, "github", body, signed(body))
    assert 202 == status and "lock" in answer["refused"].lower(), answer
    await until(lambda: ["error"] == github.states(3002), what="the lock's error status")

    for number, changes in ((3003, {"environment": "prodution"}), (3004, {"task": "nope"})):
        body = event(sha, deployment=number, **changes)
        status, answer = await send(port, "github", body, signed(body))
        assert 202 == status and "refused" in answer, answer
        await until(lambda n=number: ["error"] == github.states(n), what=f"the error status of {number}")  # type: ignore[misc]
    assert "did you mean production?" in github.statuses["3003"][0]["description"]

    mine = json.loads(event(sha, deployment=3005))
    mine["deployment"]["payload"] = {"shipbot_run_id": "r-earlier", "shipbot_app": "shop"}  # as shipbot creates them
    body = json.dumps(mine).encode()
    status, answer = await send(port, "github", body, signed(body))
    assert 202 == status and "created by shipbot" in answer["ignored"], answer

    unknown = json.loads(event(sha, deployment=3006))
    unknown["repository"]["full_name"] = "someone/else"
    body = json.dumps(unknown).encode()
    assert 404 == (await send(port, "github", body, signed(body)))[0]
    assert 401 == (await send(port, "github", body, {**signed(body), "X-Hub-Signature-256": "sha256=00"}))[0]
    assert [] == runs(s) and [] == github.problems

    body = event(sha, environment="production", deployment=3007)
    refused_later = (await send(port, "github", body, signed(body)))[1]["run_id"]
    await s.say("U0CAROL", f"reject {refused_later} not before the release notes")
    await until(lambda: ["queued", "error"] == github.states(3007), what="the rejected deployment's error")
    assert "rejected in chat not before the release notes" == github.statuses["3007"][-1]["description"]
    await s.say("U0CAROL", f"approve {asked_run}")  # the first one, approved: it deploys
    await until(lambda: github.states(3001)[-1:] == ["success"], what="the approved deployment's success")
    assert ["queued", "in_progress", "success"] == github.states(3001)
    assert [(asked_run, sha, "U0ALICE")] == [(r.run_id, r.sha, r.user) for r in runs(s, "production")]
    assert [] == github.problems


async def test_a_deployment_delivered_many_times_at_once_deploys_once_and_a_failed_deploy_ends_in_failure(
    stack: StackFactory, github: GitHubApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five deliveries of one deployment at the same moment: one run. A deployment whose build fails: its
    statuses end in ``failure`` and nothing new is live."""
    s = await bot(stack, github, monkeypatch, pipeline={**PIPELINE, "build": ["./build.sh", "test ! -e FAILS"]})
    port = s.running.webhook_port
    assert port
    good = s.repo.commit("a change", {"VERSION": "v2\n"})
    body = event(good, deployment=4001)
    answers = await asyncio.gather(*(send(port, "github", body, signed(body)) for _ in range(5)))
    assert [200, 200, 200, 200, 202] == sorted(status for status, _ in answers), answers
    await until(lambda: github.states(4001)[-1:] == ["success"], what="the success status")
    assert [good] == deployed(s) and 1 == len(runs(s))

    bad = s.repo.commit("a change whose build fails", {"FAILS": "yes\n"})
    body = event(bad, deployment=4002)
    assert 202 == (await send(port, "github", body, signed(body)))[0]
    await until(lambda: github.states(4002)[-1:] == ["failure"], what="the failure status")
    assert ["in_progress", "failure"] == github.states(4002)
    assert good == live_sha(s) and [] == github.problems


async def test_a_deployment_a_stopped_process_took_and_never_decided_is_deployed_by_the_live_one(
    stack: StackFactory, github: GitHubApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica wrote the deployment to the inbox and was killed before deciding it (GitHub's redelivery is then
    answered as received before): once its hold expires, the live bot deploys it, once."""
    s = await bot(stack, github, monkeypatch)
    port = s.running.webhook_port
    assert port
    sha = s.repo.commit("a change the killed replica took", {"VERSION": "v2\n"})
    body = event(sha, deployment=5001)
    taken = parse_deployment({"x-github-event": "deployment", "x-github-delivery": "d-5001"}, body)
    assert isinstance(taken, DeploymentEvent)
    dead = Inbox(s.running.store.db, "killed-replica", ttl=0.2)
    key = f"deployment:github:{REPO.lower()}:5001"
    assert await asyncio.to_thread(dead.receive, key, "deployment", json.dumps(asdict(taken)))
    assert 200 == (await send(port, "github", body, signed(body)))[0]  # redelivered meanwhile: taken already
    await until(lambda: github.states(5001)[-1:] == ["success"], what="the picked-up deployment's success")
    assert [sha] == deployed(s) and ["in_progress", "success"] == github.states(5001)


async def test_statuses_wait_out_a_github_outage_and_arrive_once_each_in_order(
    stack: StackFactory, github: GitHubApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub answers 500 while a deployment runs and another is refused: the statuses are rows of the outbox,
    delivered when GitHub is back, each once and in order, the refused one's ``error`` with its reason."""
    s = await bot(stack, github, monkeypatch)
    port = s.running.webhook_port
    assert port
    github.down = True
    wanted = s.repo.commit("the change GitHub deploys during its outage", {"VERSION": "v2\n"})
    ok, refused = event(wanted, deployment=6001), event(wanted, deployment=6002, creator="mallory")
    assert 202 == (await send(port, "github", ok, signed(ok)))[0]
    assert "not in access.github_users" in (await send(port, "github", refused, signed(refused)))[1]["refused"]
    await until(lambda: [wanted] == deployed(s), what="the deploy, GitHub down all along")
    await until(lambda: github.failed >= 2, what="the sender trying GitHub")
    assert {} == github.statuses
    github.down = False
    await until(lambda: github.states(6001)[-1:] == ["success"], timeout=60.0, what="the statuses after the outage")
    await until(lambda: bool(github.states(6002)), timeout=30.0, what="the refused deployment's status")
    assert ["in_progress", "success"] == github.states(6001)
    assert [("error", "GitHub user 'mallory' is not allowed to deploy: not in access.github_users")] == [
        (t["state"], t["description"]) for t in github.statuses["6002"]
    ]
    assert [] == github.problems
