"""GitHub deployments through the REST API (version 2022-11-28), with aiohttp: one deployment per run
(``POST /repos/{owner}/{repo}/deployments``: ``ref`` the exact SHA, ``environment``, ``auto_merge: false``,
``required_contexts: []``, ``production_environment``, ``transient_environment``, ``payload.shipbot_run_id``) and a
status per event (``POST …/deployments/{id}/statuses``): ``queued`` then ``in_progress`` when the run starts,
``success``, ``failure`` or ``error`` when it ends, ``log_url`` the run message's permalink when known,
``environment_url`` the environment's ``url``.

aiohttp directly rather than gidgethub or githubkit: two endpoints, and shipbot already speaks aiohttp (the
webhook server, the Slack adapter); one HTTP stack, one timeout and error mapping (:mod:`sinks.http`).

At least once, without a second deployment: the deployment's id is remembered per run in the store; when it is
not (GitHub created it but its answer was lost: a timeout, a 5xx after the write, a closed connection, or the
process died before the store's write), the run's deployment is looked up first (``GET
…/deployments?sha=…&environment=…``, matched on ``payload.shipbot_run_id``), remembered, and given the statuses it
missed (``queued`` before ``in_progress``). A retried attempt (``again``) reads the deployment's statuses first
(``GET …/deployments/{id}/statuses``, newest first) and does not post one GitHub already shows as the latest, so a
lost answer to a status does not repeat it.

A deployment shipbot did not create (one a GitHub ``deployment`` event started, :mod:`deploy.notify.forge_runs`)
gets only statuses: the row's document names it (``deployment_id``, ``deployment_state``, ``description``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from sinks import http
from sinks.attempts import Attempt, Delivered, Refused, Retry, secret
from sinks.forges import DEPLOYING_KINDS, STATES, Deployments, description

API_VERSION = "2022-11-28"


def headers(token: str) -> dict[str, str]:
    return {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": API_VERSION,
    }


def deployment_request(document: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ref": document["sha"],
        "task": "deploy",
        "auto_merge": False,
        "required_contexts": [],
        "environment": document["environment"],
        "description": f"shipbot {document.get('kind', 'deploy')} {document.get('run_id', '')}".strip(),
        "payload": {"shipbot_run_id": document.get("run_id"), "shipbot_app": document["app"]},
        "production_environment": bool(target.get("production")),
        "transient_environment": bool(target.get("transient", False)),
    }


def status_request(state: str, document: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"state": state, "description": description(dict(document))}
    if document.get("url"):
        body["log_url"] = str(document["url"])
    if target.get("environment_url"):
        body["environment_url"] = str(target["environment_url"])
    return body


async def deliver(
    session: aiohttp.ClientSession,
    msg_id: str,
    target: Mapping[str, Any],
    document: Mapping[str, Any],
    memory: Deployments,
    *,
    again: bool = False,
) -> Attempt:
    """``again``: an earlier attempt of this row failed (its request may have reached GitHub all the same)."""
    if document.get("deployment_id"):
        return await _answer(session, target, document, again=again)
    if str(document["type"]).startswith("preview."):
        return await _preview(session, target, document, memory, again=again)
    kind, type_ = document.get("kind"), str(document["type"])
    if type_ not in STATES or kind not in DEPLOYING_KINDS or not document.get("sha"):
        return Delivered("nothing to record on GitHub (no commit deployed)")
    repo, run_id = str(target["repo"]), str(document.get("run_id", ""))
    api = f"{str(target['api_url']).rstrip('/')}/repos/{quote(repo, safe='/')}"
    sent = headers(secret(str(target["token_env"])))
    made, deployment = await _deployment(session, api, sent, memory, repo, run_id, document,
                                         deployment_request(document, target))  # fmt: skip
    if deployment is None:
        return made
    if type_ == "run.started":  # queued first, unless GitHub has it already (an earlier attempt's)
        fresh = isinstance(made, Delivered) and made.detail == CREATED
        queued = await _status_once(session, api, sent, deployment, status_request("queued", document, target),
                                    check=not fresh, first=True)  # fmt: skip
        if not isinstance(queued, Delivered):
            return queued
    state = STATES[type_][0]
    return await _status_once(session, api, sent, deployment, status_request(state, document, target), check=again)


CREATED = "created"  # the detail of the Delivered that :func:`_deployment` answers for a deployment made now


async def _deployment(
    session: aiohttp.ClientSession, api: str, sent: dict[str, str], memory: Deployments, repo: str, key: str,
    document: Mapping[str, Any], request: dict[str, Any],
) -> tuple[Attempt, str | None]:  # fmt: skip
    """The deployment of ``key`` (a run id, or a preview's commit): remembered, else found on GitHub (made on an
    attempt whose answer was lost), else created now (the Delivered's detail is then :data:`CREATED`)."""
    deployment = await memory.known("github", repo, key)
    if deployment is not None:
        return Delivered(), deployment
    found, deployment = await _find(session, api, sent, document, key)
    if not isinstance(found, Delivered):
        return found, None
    if deployment is not None:
        await memory.remember("github", repo, deployment, key)
        return found, deployment
    created, answer = await http.send(
        session, "POST", f"{api}/deployments", body=json.dumps(request).encode(), headers=sent
    )
    if not isinstance(created, Delivered):
        return created, None
    if not isinstance(answer, dict) or "id" not in answer:  # 202: GitHub merged a branch instead
        return Refused(f"GitHub created no deployment: {str(answer)[:200]}"), None
    deployment = str(answer["id"])
    await memory.remember("github", repo, deployment, key)
    return Delivered(CREATED), deployment


async def _answer(
    session: aiohttp.ClientSession, target: Mapping[str, Any], document: Mapping[str, Any], *, again: bool
) -> Attempt:
    """A status of a deployment a GitHub ``deployment`` event started: posted to that deployment."""
    repo = str(target["repo"])
    api = f"{str(target['api_url']).rstrip('/')}/repos/{quote(repo, safe='/')}"
    sent = headers(secret(str(target["token_env"])))
    body: dict[str, Any] = {"state": str(document["deployment_state"]),
                            "description": str(document.get("description") or "")[:140]}  # fmt: skip
    if document.get("url"):
        body["log_url"] = str(document["url"])
    if target.get("environment_url") and document.get("deployment_state") in ("in_progress", "success"):
        body["environment_url"] = str(target["environment_url"])
    return await _status_once(session, api, sent, str(document["deployment_id"]), body, check=again)


async def _preview(
    session: aiohttp.ClientSession,
    target: Mapping[str, Any],
    document: Mapping[str, Any],
    memory: Deployments,
    *,
    again: bool,
) -> Attempt:
    """A preview is a transient environment named after it: each commit it goes live on is a deployment whose
    status is ``success`` with the preview's URL; when it is removed, each of its deployments becomes
    ``inactive`` (GitHub then shows the environment as destroyed)."""
    repo, name = str(target["repo"]), str(document["environment"])
    api = f"{str(target['api_url']).rstrip('/')}/repos/{quote(repo, safe='/')}"
    sent = headers(secret(str(target["token_env"])))
    if document["type"] == "preview.removed":
        query = urlencode({"environment": name, "per_page": 100})
        listed_ok, listed = await http.send(session, "GET", f"{api}/deployments?{query}", headers=sent)
        if not isinstance(listed_ok, Delivered):
            return listed_ok
        for item in listed if isinstance(listed, list) else []:
            done, _ = await _status(session, api, sent, str(item["id"]), {"state": "inactive"})
            if not isinstance(done, Delivered):
                return done
        return Delivered()
    if not document.get("sha"):
        return Delivered("nothing to record on GitHub (no commit)")
    key = f"preview:{name}:{document['sha']}"
    body = {**deployment_request(document, {**target, "transient": True, "production": False}),
            "description": f"shipbot preview {name}",
            "payload": {"shipbot_run_id": key, "shipbot_preview": name}}  # fmt: skip
    made, deployment = await _deployment(session, api, sent, memory, repo, key, document, body)
    if deployment is None:
        return made
    live = {"state": "success", "description": f"preview {name} is live"[:140],
            "environment_url": f"http://{name}.{target['domain']}/", "auto_inactive": True}  # fmt: skip
    return await _status_once(session, api, sent, deployment, live, check=again)


async def _status(
    session: aiohttp.ClientSession, api: str, sent: dict[str, str], deployment: str, body: dict[str, Any]
) -> tuple[Attempt, Any]:
    return await http.send(
        session, "POST", f"{api}/deployments/{deployment}/statuses", body=json.dumps(body).encode(), headers=sent
    )


async def _status_once(
    session: aiohttp.ClientSession, api: str, sent: dict[str, str], deployment: str, body: dict[str, Any], *,
    check: bool, first: bool = False,
) -> Attempt:  # fmt: skip
    """Post the status ``body`` unless (``check``: an earlier attempt may have posted it) GitHub's latest status of
    the deployment is already in that state (``first``: unless the deployment has any status at all). A listing
    GitHub refuses is no reason not to post."""
    if check:
        listed_ok, listed = await http.send(session, "GET", f"{api}/deployments/{deployment}/statuses?per_page=1",
                                            headers=sent)  # fmt: skip
        if isinstance(listed_ok, Retry):
            return listed_ok
        latest = listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], dict) else None
        if latest is not None and (first or latest.get("state") == body["state"]):
            return Delivered("GitHub has this status already")
    outcome, _ = await _status(session, api, sent, deployment, body)
    return outcome


async def _find(
    session: aiohttp.ClientSession, api: str, sent: dict[str, str], document: Mapping[str, Any], key: str
) -> tuple[Attempt, str | None]:
    """The deployment of ``key`` an earlier attempt created (its answer lost), if GitHub has one."""
    query = urlencode({"sha": document["sha"], "environment": document["environment"], "per_page": 100})
    outcome, listed = await http.send(session, "GET", f"{api}/deployments?{query}", headers=sent)
    if not isinstance(outcome, Delivered):
        return outcome, None
    for item in listed if isinstance(listed, list) else []:
        payload = item.get("payload") if isinstance(item, dict) else None
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                payload = None
        if isinstance(payload, dict) and payload.get("shipbot_run_id") == key:
            return outcome, str(item["id"])
    return outcome, None
