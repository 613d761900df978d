"""GitHub's and GitLab's deployments APIs as local HTTP handlers for :class:`tests.support.receivers.Receiver`:
every request is checked against the request schemas saved in ``tests/fixtures`` (from GitHub's published OpenAPI
description and GitLab's API docs), plus the headers the docs require; a request that does not fit is answered
422 and listed in ``problems``. ``lose`` makes the next that many writes (a create or a status) take effect and
then answer 500 (``drop``: close the connection instead of answering), as a forge whose answer is lost after the
write."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from aiohttp import web

from tests.support.receivers import Receiver

FIXTURES = Path(__file__).parent.parent / "fixtures"
GITHUB = json.loads((FIXTURES / "github/deployments-openapi.json").read_text())
GITLAB = json.loads((FIXTURES / "gitlab/deployments-api.json").read_text())


def _lost(request: web.Request, drop: bool) -> web.Response:
    if drop and request.transport is not None:
        request.transport.close()  # the client sees the connection closed, no answer
    return web.json_response({"message": "500 Internal Server Error"}, status=500)


def _problems(schema: dict[str, Any], body: Any) -> list[str]:
    found = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(body)]
    known = set(schema.get("properties", {}))
    found += [f"unknown field {k!r}" for k in (body if isinstance(body, dict) else {}) if k not in known]
    return found


@dataclass
class GitHub:
    """``/repos/{repo}/deployments`` and ``…/{id}/statuses`` of one repository, token ``token``."""

    repo: str
    token: str
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lose: int = 0
    drop: bool = False

    def __call__(self, receiver: Receiver, request: web.Request, raw: bytes) -> web.Response:
        answered = self._answer(request, raw)
        if request.method == "POST" and answered.status < 300 and self.lose > 0:
            self.lose -= 1
            return _lost(request, self.drop)
        return answered

    def _answer(self, request: web.Request, raw: bytes) -> web.Response:
        wrong = self._headers(request)
        base = f"/repos/{self.repo}/deployments"
        status = re.fullmatch(re.escape(base) + r"/(\d+)/statuses", request.path)
        if request.method == "GET" and request.path == base:
            wanted = {k: request.query[k] for k in ("sha", "environment") if k in request.query}
            listed = [d for d in self.deployments.values() if all(d[k] == v for k, v in wanted.items())]
            return web.json_response(listed)
        if request.method == "GET" and status and int(status.group(1)) in self.deployments:
            return web.json_response(list(reversed(self.statuses[int(status.group(1))])))  # newest first
        body = json.loads(raw) if raw else None
        if request.method == "POST" and request.path == base:
            wrong += _problems(GITHUB["create_deployment"], body)
            if wrong:
                return self._refuse(wrong)
            number = len(self.deployments) + 1
            made = {**GITHUB["deployment_created"], "id": number, "sha": body["ref"], "ref": body["ref"],
                    "environment": body["environment"], "payload": body.get("payload", {}),
                    "production_environment": body.get("production_environment", False),
                    "transient_environment": body.get("transient_environment", False), "request": body}  # fmt: skip
            self.deployments[number] = made
            self.statuses[number] = []
            return web.json_response(made, status=201)
        if request.method == "POST" and status and int(status.group(1)) in self.deployments:
            wrong += _problems(GITHUB["create_deployment_status"], body)
            if len(str(body.get("description", ""))) > 140:
                wrong.append("description longer than 140 characters")
            if wrong:
                return self._refuse(wrong)
            self.statuses[int(status.group(1))].append(body)
            return web.json_response({"id": len(self.statuses), **body}, status=201)
        return self._refuse([f"no such endpoint: {request.method} {request.path}"], 404)

    def _headers(self, request: web.Request) -> list[str]:
        expected = {"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": GITHUB["api_version"]}  # fmt: skip
        return [f"header {k} is {request.headers.get(k)!r}" for k, v in expected.items() if request.headers.get(k) != v]

    def _refuse(self, problems: list[str], status: int = 422) -> web.Response:
        self.problems += problems
        return web.json_response({"message": "Validation Failed", "errors": problems}, status=status)


@dataclass
class GitLab:
    """``/projects/:id/deployments`` of one project (its path URL-encoded), token ``token``."""

    project: str
    token: str
    deployments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # id -> the requests it got
    problems: list[str] = field(default_factory=list)
    lose: int = 0
    drop: bool = False
    made_at: dict[int, str] = field(default_factory=dict)

    def __call__(self, receiver: Receiver, request: web.Request, raw: bytes) -> web.Response:
        answered = self._answer(request, raw)
        if request.method in ("POST", "PUT") and answered.status < 300 and self.lose > 0:
            self.lose -= 1
            return _lost(request, self.drop)
        return answered

    def shown(self, number: int) -> dict[str, Any]:
        """A deployment as GitLab lists it (one made through the API: no ``deployable``)."""
        first, statuses = self.deployments[number][0], [r["status"] for r in self.deployments[number]]
        return {**GITLAB["deployment_created"], "id": number, "sha": first["sha"], "ref": first["ref"],
                "status": statuses[-1], "created_at": self.made_at[number], "deployable": None,
                "environment": {**GITLAB["deployment_created"]["environment"], "name": first["environment"]}}  # fmt: skip

    def _answer(self, request: web.Request, raw: bytes) -> web.Response:
        wrong = [] if request.headers.get("PRIVATE-TOKEN") == self.token else ["PRIVATE-TOKEN missing or wrong"]
        encoded = self.project.replace("/", "%2F")
        path = request.raw_path
        body = json.loads(raw) if raw else None
        listing = f"/api/v4/projects/{encoded}/deployments"
        if request.method == "GET" and request.path == listing.replace("%2F", "/") and not wrong:
            newest = sorted(self.deployments, reverse=request.query.get("sort", "desc") == "desc")
            wanted = request.query.get("environment")
            return web.json_response([self.shown(n) for n in newest
                                      if wanted is None or self.deployments[n][0]["environment"] == wanted])  # fmt: skip
        if request.method == "POST" and path == listing:
            wrong += _problems(GITLAB["create_deployment"], body)
            if wrong:
                return self._refuse(wrong)
            number = 41 + len(self.deployments) + 1
            self.deployments[number] = [body]
            self.made_at[number] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            return web.json_response(self.shown(number), status=201)
        found = re.fullmatch(rf"/api/v4/projects/{re.escape(encoded)}/deployments/(\d+)", path)
        if request.method == "GET" and found and int(found.group(1)) in self.deployments and not wrong:
            return web.json_response(self.shown(int(found.group(1))))
        if request.method == "PUT" and found and int(found.group(1)) in self.deployments:
            wrong += _problems(GITLAB["update_deployment"], body)
            if wrong:
                return self._refuse(wrong)
            if self.deployments[int(found.group(1))][-1]["status"] == body["status"]:  # GitLab's state machine
                return web.json_response({"message": {"status": ["cannot transition"]}}, status=400)
            self.deployments[int(found.group(1))].append(body)
            return web.json_response({"id": int(found.group(1)), "status": body["status"]})
        return self._refuse([f"no such endpoint: {request.method} {path}"], 404)

    def _refuse(self, problems: list[str], status: int = 400) -> web.Response:
        self.problems += problems
        return web.json_response({"message": problems}, status=status)
