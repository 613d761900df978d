"""GitLab deployments through the REST API (v4), with aiohttp: ``POST /projects/:id/deployments`` when a run
starts (``environment``, ``sha``, ``ref``, ``tag``, ``status: running``), ``PUT /projects/:id/deployments/:id``
with ``success``, ``failed`` or ``canceled`` when it ends; ``PRIVATE-TOKEN`` from the variable ``token_env`` names.
A run whose start was not recorded (a rollback learns its commit at the end) is created with its final status.

aiohttp rather than python-gitlab: python-gitlab is synchronous (requests), and three calls do not warrant a thread
per delivery.

At least once, without a second deployment: the deployment's id is remembered per run in the store. GitLab's
deployments carry no payload to mark a run's with, so before creating one the environment's newest deployments
are listed (``GET …/deployments?environment=…&order_by=id&sort=desc``) and one an earlier attempt made (its answer
lost: a timeout, a 5xx after the write, a closed connection, a process killed before the store's write) is taken:
the same ``sha`` and ``ref``, made through the API (no CI job behind it), not older than the event, and not
remembered for another run. Runs of one environment are sent in order (one outbox queue), so a run's retries come
before the next run's creation. A status update that GitLab refuses because the deployment already has that status
(the answer to an earlier attempt was lost) counts as delivered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from sinks import http
from sinks.attempts import Attempt, Delivered, Refused, secret
from sinks.forges import DEPLOYING_KINDS, STATES, Deployments

LOOKED_AT = 50  # the environment's newest deployments searched for one an earlier attempt made
CLOCK_SKEW = 300.0  # seconds GitLab's clock may be behind the database's when comparing creation times


async def deliver(
    session: aiohttp.ClientSession,
    msg_id: str,
    target: Mapping[str, Any],
    document: Mapping[str, Any],
    memory: Deployments,
    *,
    again: bool = False,
) -> Attempt:
    kind, type_ = document.get("kind"), str(document["type"])
    if type_ in ("preview.created", "preview.updated") and document.get("sha"):
        kind, type_ = "deploy", "run.succeeded"  # a preview's commit is live: one deployment, already a success
    if type_ not in STATES or kind not in DEPLOYING_KINDS or not document.get("sha"):
        return Delivered("nothing to record on GitLab (no commit deployed)")
    project, run_id = str(target["project"]), str(document.get("run_id", ""))
    api = f"{str(target['api_url']).rstrip('/')}/projects/{quote(project, safe='')}/deployments"
    sent = {"PRIVATE-TOKEN": secret(str(target["token_env"]))}
    status = STATES[type_][1]
    if document["type"].startswith("preview."):
        run_id = f"preview:{document['environment']}:{document['sha']}"
    ref = str(document.get("ref") or document["sha"])
    deployment = await memory.known("gitlab", project, run_id)
    if deployment is None:
        listed, found = await _find(session, api, sent, memory, project, document, ref)
        if not isinstance(listed, Delivered):
            return listed
        if found is not None:
            deployment = str(found["id"])
            await memory.remember("gitlab", project, deployment, run_id)
            if found.get("status") == status:
                return Delivered("GitLab has this deployment already")
        else:
            body = {"environment": document["environment"], "sha": document["sha"], "ref": ref, "tag": False,
                    "status": status}  # fmt: skip
            created, answer = await http.send(session, "POST", api, body=json.dumps(body).encode(), headers=sent)
            if isinstance(created, Delivered):
                if not isinstance(answer, dict) or "id" not in answer:
                    return Refused(f"GitLab created no deployment: {str(answer)[:200]}")
                await memory.remember("gitlab", project, str(answer["id"]), run_id)
            return created
    updated, _ = await http.send(
        session, "PUT", f"{api}/{deployment}", body=json.dumps({"status": status}).encode(), headers=sent
    )
    if isinstance(updated, Refused) and again:  # GitLab refuses a transition to the status it has
        shown, current = await http.send(session, "GET", f"{api}/{deployment}", headers=sent)
        if isinstance(shown, Delivered) and isinstance(current, dict) and current.get("status") == status:
            return Delivered("GitLab has this status already")
    return updated


async def _find(
    session: aiohttp.ClientSession,
    api: str,
    sent: dict[str, str],
    memory: Deployments,
    project: str,
    document: Mapping[str, Any],
    ref: str,
) -> tuple[Attempt, dict[str, Any] | None]:
    """The deployment an earlier attempt of this run made (see the module's doc), if GitLab has one."""
    query = urlencode({"environment": document["environment"], "order_by": "id", "sort": "desc",
                       "per_page": LOOKED_AT})  # fmt: skip
    outcome, listed = await http.send(session, "GET", f"{api}?{query}", headers=sent)
    if not isinstance(outcome, Delivered):
        return outcome, None
    since = _epoch(str(document.get("time") or ""))
    for item in reversed(listed if isinstance(listed, list) else []):  # the oldest candidate first
        if not isinstance(item, dict) or "id" not in item:
            continue
        if item.get("sha") != document["sha"] or item.get("ref") != ref or item.get("deployable"):
            continue
        made = _epoch(str(item.get("created_at") or ""))
        if since is not None and made is not None and made < since - CLOCK_SKEW:
            continue
        if await memory.taken("gitlab", project, str(item["id"])):
            continue
        return outcome, item
    return outcome, None


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
