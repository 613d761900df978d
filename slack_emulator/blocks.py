"""Message content limits, checked the way Slack checks them.

Slack refuses a message whose ``text`` exceeds 40,000 characters with ``msg_too_long`` and
malformed or oversized Block Kit with ``invalid_blocks`` (more than 50 blocks, a section
text over 3,000 characters, a header over 150, and so on). Slack also explains the refusal
in ``response_metadata.messages`` with a JSON pointer; :class:`ContentError` carries both.
Blocks without a ``block_id`` get one assigned, as Slack does when it stores a message.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2_000
MAX_ID = 255

KNOWN_BLOCKS = frozenset(
    {
        "section",
        "context",
        "header",
        "divider",
        "actions",
        "image",
        "input",
        "rich_text",
        "file",
        "video",
        "markdown",
        "context_actions",
        "table",
    }
)


class ContentError(Exception):
    """A message Slack would refuse: ``error`` is Slack's error string."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


def parse_blocks(raw: Any) -> list[dict[str, Any]] | None:
    """Blocks as a list, decoding the JSON string form-encoded callers send."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ContentError("invalid_blocks_format", ["[ERROR] blocks must be a JSON array"]) from exc
    if not isinstance(raw, list) or not all(isinstance(b, dict) for b in raw):
        raise ContentError("invalid_blocks_format", ["[ERROR] blocks must be an array of objects"])
    return raw


def _text_of(obj: Any) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return str(obj["text"])
    return None


def _too_long(limit: int, pointer: str) -> str:
    return f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _block_errors(index: int, block: dict[str, Any]) -> list[str]:
    path = f"/blocks/{index}"
    errors: list[str] = []
    kind = block.get("type")
    if kind not in KNOWN_BLOCKS:
        return [f"[ERROR] unsupported type: {kind} [json-pointer:{path}/type]"]
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > MAX_ID):
        errors.append(_too_long(MAX_ID, f"{path}/block_id"))
    if kind == "section":
        text = _text_of(block.get("text"))
        fields = block.get("fields")
        if text is None and not fields:
            errors.append(f"[ERROR] must provide either text or fields [json-pointer:{path}]")
        if text is not None and len(text) > MAX_SECTION_TEXT:
            errors.append(_too_long(MAX_SECTION_TEXT, f"{path}/text/text"))
        if isinstance(fields, list):
            if len(fields) > MAX_SECTION_FIELDS:
                errors.append(f"[ERROR] no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{path}/fields]")
            for i, field in enumerate(fields):
                field_text = _text_of(field)
                if field_text is not None and len(field_text) > MAX_FIELD_TEXT:
                    errors.append(_too_long(MAX_FIELD_TEXT, f"{path}/fields/{i}/text"))
    elif kind == "header":
        text = _text_of(block.get("text"))
        if text is None:
            errors.append(f"[ERROR] missing required field: text [json-pointer:{path}]")
        elif len(text) > MAX_HEADER_TEXT:
            errors.append(_too_long(MAX_HEADER_TEXT, f"{path}/text/text"))
    elif kind in ("context", "actions"):
        elements = block.get("elements")
        limit = MAX_CONTEXT_ELEMENTS if kind == "context" else MAX_ACTIONS_ELEMENTS
        if not isinstance(elements, list) or not elements:
            errors.append(f"[ERROR] missing required field: elements [json-pointer:{path}]")
        elif len(elements) > limit:
            errors.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{path}/elements]")
        elif kind == "actions":
            errors.extend(_action_errors(path, elements))
    return errors


def _action_errors(path: str, elements: list[Any]) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for i, element in enumerate(elements):
        if not isinstance(element, dict):
            errors.append(f"[ERROR] must be an object [json-pointer:{path}/elements/{i}]")
            continue
        action_id = element.get("action_id")
        if isinstance(action_id, str):
            if action_id in seen:
                errors.append(f"[ERROR] duplicate action_id [json-pointer:{path}/elements/{i}/action_id]")
            seen.add(action_id)
        if element.get("type") == "button":
            text = _text_of(element.get("text"))
            if text is not None and len(text) > MAX_BUTTON_TEXT:
                errors.append(_too_long(MAX_BUTTON_TEXT, f"{path}/elements/{i}/text/text"))
            value = element.get("value")
            if isinstance(value, str) and len(value) > MAX_BUTTON_VALUE:
                errors.append(_too_long(MAX_BUTTON_VALUE, f"{path}/elements/{i}/value"))
    return errors


def check_content(text: Any, blocks: list[dict[str, Any]] | None) -> None:
    """Raise :class:`ContentError` if Slack would refuse this text/blocks pair."""
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise ContentError("msg_too_long")
    if blocks is None:
        return
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        errors.extend(_block_errors(index, block))
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen:
                errors.append(f"[ERROR] duplicate block_id [json-pointer:/blocks/{index}/block_id]")
            seen.add(block_id)
    if errors:
        raise ContentError("invalid_blocks", errors)


def with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copy of ``blocks`` where every block has a ``block_id``."""
    alphabet = string.ascii_letters + string.digits
    out: list[dict[str, Any]] = []
    for block in blocks:
        copy = dict(block)
        if not copy.get("block_id"):
            copy["block_id"] = "".join(secrets.choice(alphabet) for _ in range(5))
        out.append(copy)
    return out
