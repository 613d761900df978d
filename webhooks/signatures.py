"""Is a webhook request really from the provider? Each check takes the raw body and the header as sent, and
compares in constant time (:func:`hmac.compare_digest`). Pure.

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body, keyed with the secret>``;
- Gitea: ``X-Gitea-Signature: <hex HMAC-SHA256 of the body>``;
- GitLab: ``X-Gitlab-Token: <the secret itself>``.
"""

from __future__ import annotations

import hashlib
import hmac


def _digest(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(header.removeprefix("sha256=").strip().lower().encode(), _digest(secret, body).encode())


def gitea_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    return hmac.compare_digest(header.strip().lower().encode(), _digest(secret, body).encode())


def gitlab_ok(secret: str, header: str | None) -> bool:
    if not header:
        return False
    return hmac.compare_digest(header.encode(), secret.encode())


HEADER = {"github": "x-hub-signature-256", "gitlab": "x-gitlab-token", "gitea": "x-gitea-signature"}
"""The header each forge signs (or sends its token) in, lowercased."""


def signed(provider: str, secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """The check of ``provider`` on a request with ``headers`` (names lowercased) and ``body``; an empty secret
    never verifies anything."""
    if not secret:
        return False
    if provider == "github":
        return github_ok(secret, body, headers.get(HEADER[provider]))
    if provider == "gitea":
        return gitea_ok(secret, body, headers.get(HEADER[provider]))
    if provider == "gitlab":
        return gitlab_ok(secret, headers.get(HEADER[provider]))
    return False
