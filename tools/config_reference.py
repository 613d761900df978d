"""The README's config reference, generated from the config models so it cannot drift.

``python -m tools.config_reference`` prints the markdown; ``--write README.md`` replaces the text between the
``<!-- config-reference -->`` markers. A test fails when the README and the models disagree.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from deploy.config.models import Config

BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"
_NOTES = {
    "access": "the chat policy (see *Access and policy*)",
    "previews": "one preview per branch (see *Previews per branch*)",
    "aliases": "extra environment names, e.g. `{live: production}`",
    "env": "variables exported to every command on the hosts",
}


_VALIDATED = {  # types given by their parser, named as operators write them
    "parse_duration": "duration (`30s`, `5m`, `1h`, seconds)",
    "parse_entry": "count or percentage (`1`, `10%`)",
    "parse_pause": "false, true, or a duration",
}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        funcs = {getattr(getattr(a, "func", None), "__name__", "") for a in args[1:]}
        for func, name in _VALIDATED.items():
            if func in funcs:
                return name
        return _type_name(args[0])
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[1])}" if args else "map"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "see below"
        return f"`{value!r}`" if value not in ({}, []) else "empty"
    return f"`{field.default!r}`" if field.default is not None else "none"


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def _rows(model: type[BaseModel], prefix: str, out: list[str]) -> None:
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        note = _NOTES.get(key, field.description or "")
        kind = _type_name(field.annotation)
        for m in field.metadata:
            shown = _VALIDATED.get(getattr(getattr(m, "func", None), "__name__", ""))
            if shown:
                kind = kind.replace("float", shown).replace("bool or ", "").replace("int or str", shown)
        out.append(f"| `{key}` | {kind} | {_default(field)} | {note} |")
        for sub in _models(field.annotation):
            dict_like = typing.get_origin(field.annotation) is dict
            nested.append(
                (
                    f"{key}.<name>."
                    if dict_like
                    else f"{key}[]."
                    if "list" in _type_name(field.annotation)
                    else f"{key}.",
                    sub,
                )
            )
    for sub_prefix, sub in nested:
        _rows(sub, sub_prefix, out)


def reference() -> str:
    out = ["| key | type | default | notes |", "| --- | --- | --- | --- |"]
    _rows(Config, "", out)
    return "\n".join(out)


def write(readme: Path) -> bool:
    """Replace the reference in ``readme``; True when it changed."""
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    new = text[:start] + "\n" + reference() + "\n" + text[end:]
    if new != text:
        readme.write_text(new)
    return new != text


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write(Path(sys.argv[2]))
    else:
        print(reference())
