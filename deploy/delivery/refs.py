"""Validation of git ref names, following ``git check-ref-format`` (pure).

A ref a person types is accepted only if git itself would accept it as a branch or tag name, so nothing a
user types can smuggle options (``-x``), revision syntax (``main^``, ``a..b``, ``@{u}``), shell metacharacters or
Slack markup into a command. A full or abbreviated hex SHA is accepted as well.
"""

from __future__ import annotations

import re

_HEX = re.compile(r"[0-9a-f]{7,40}")
# Characters git forbids anywhere in a ref name, plus the ones we refuse because they mean something to a shell
# or to Slack even though git would allow them.
_FORBIDDEN = set(" ~^:?*[\\") | {"\x7f"} | set("$`'\"!&|;<>(){}#%,=")
MAX_REF_LENGTH = 200


_NAMES = {"<": "angle brackets", ">": "angle brackets", "`": "backticks"}


def character_name(ch: str) -> str:
    """How a refusal names a character it will not take: markup characters by name (a refusal shown in chat never
    carries them), anything else quoted."""
    return _NAMES.get(ch, repr(ch))


def ref_problem(ref: str) -> str | None:
    """Return why ``ref`` is not an acceptable ref name, or ``None`` when it is."""
    if not ref:
        return "the ref is empty"
    if len(ref) > MAX_REF_LENGTH:
        return f"the ref is longer than {MAX_REF_LENGTH} characters"
    if not ref.isascii():
        return "a ref may only contain ASCII characters"
    for ch in ref:
        if ord(ch) < 0x20:
            return "a ref may not contain control characters"
        if ch in _FORBIDDEN:
            return f"a ref may not contain {character_name(ch)}"
    if ref.startswith("-"):
        return "a ref may not start with '-'"
    if ref == "@":
        return "'@' alone is not a ref"
    if "@{" in ref:
        return "a ref may not contain '@{'"
    if ".." in ref:
        return "a ref may not contain '..'"
    if "//" in ref:
        return "a ref may not contain '//'"
    if ref.startswith("/") or ref.endswith("/"):
        return "a ref may not start or end with '/'"
    if ref.endswith("."):
        return "a ref may not end with '.'"
    for part in ref.split("/"):
        if part.startswith("."):
            return "no part of a ref may start with '.'"
        if part.endswith(".lock"):
            return "no part of a ref may end with '.lock'"
    return None


def is_valid_ref(ref: str) -> bool:
    return ref_problem(ref) is None


def looks_like_sha(ref: str) -> bool:
    """A 7 to 40 digit lowercase hex string, read as a commit id before a branch name."""
    return bool(_HEX.fullmatch(ref))
