"""What Capistrano resolved for a stage, read from ``cap STAGE doctor:variables`` and ``cap STAGE doctor:servers``
(Capistrano 3.17's ``lib/capistrano/doctor/*``), and the custom tasks and hooks of a project's Ruby files (pure).

``doctor:variables`` prints one ``    :name   <value.inspect>`` row per variable; ``doctor:servers`` prints
``    user@host:port [:role, ...] { :property => ... }`` per server. Values are Ruby's ``inspect`` of strings,
symbols, numbers, ``nil``/``true``/``false``, arrays and hashes; anything else (a lambda, an object) is kept as
:class:`Raw` text, never evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_VARIABLE = re.compile(r" {4}:(?P<name>[A-Za-z_][A-Za-z0-9_?!]*) +(?P<value>.*)")
_SERVER = re.compile(
    r" {4}(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^\s:\[]+)(?::(?P<port>\d+))?"
    r" +(?P<roles>\[[^\]]*\])(?: +(?P<properties>\{.*\}))?"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "e": "\x1b", "s": " ", "0": "\0", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v"}  # fmt: skip


@dataclass(frozen=True)
class Symbol:
    name: str


@dataclass(frozen=True)
class Raw:
    """A value Ruby printed that is not a plain literal (a lambda, an object): kept as text."""

    text: str


class _Unparsed(ValueError):
    pass


def ruby_value(text: str) -> Any:
    """One value as Ruby's ``inspect`` prints it; :class:`Raw` when it is not a plain literal."""
    try:
        value, rest = _value(text.strip())
    except (_Unparsed, IndexError):
        return Raw(text.strip())
    return value if not rest.strip() else Raw(text.strip())


def _value(s: str) -> tuple[Any, str]:
    s = s.lstrip()
    if s.startswith('"'):
        return _string(s)
    if s.startswith(":"):
        if s[1:2] == '"':
            name, rest = _string(s[1:])
            return Symbol(name), rest
        m = re.match(r":([A-Za-z_][A-Za-z0-9_]*(?:[?!]|=(?![>=~]))?)", s)
        if not m:
            raise _Unparsed(s)
        return Symbol(m[1]), s[m.end() :]
    if s.startswith("["):
        return _items(s[1:], "]", False)
    if s.startswith("{"):
        return _items(s[1:], "}", True)
    m = re.match(r"-?\d+(\.\d+)?(e[+-]?\d+)?", s)
    if m:
        number = m[0]
        return (float(number) if m[1] or m[2] else int(number)), s[m.end() :]
    for word, value in (("nil", None), ("true", True), ("false", False)):
        if re.match(rf"{word}\b", s):
            return value, s[len(word) :]
    raise _Unparsed(s)


def _string(s: str) -> tuple[str, str]:
    out, i = [], 1
    while s[i] != '"':
        if s[i] == "\\":
            nxt = s[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out), s[i + 1 :]


def _items(s: str, close: str, pairs: bool) -> tuple[Any, str]:
    items: list[Any] = []
    table: dict[Any, Any] = {}
    s = s.lstrip()
    while not s.startswith(close):
        bare = re.match(r"([A-Za-z_][A-Za-z0-9_]*[?!]?): ", s) if pairs else None
        if bare:  # Ruby 3.4's "{name: value}" form
            key, s = Symbol(bare[1]), s[bare.end() - 2 :]
        else:
            key, s = _value(s)
        s = s.lstrip()
        if pairs:
            if s.startswith("=>"):
                value, s = _value(s[2:])
            elif isinstance(key, Symbol) and s.startswith(":"):
                value, s = _value(s[1:])
            else:
                raise _Unparsed(s)
            table[key.name if isinstance(key, Symbol) else key] = value
        else:
            items.append(key)
        s = s.lstrip()
        if s.startswith(","):
            s = s[1:].lstrip()
        elif not s.startswith(close):
            raise _Unparsed(s)
    return (table if pairs else items), s[1:]


def parse_variables(output: str) -> dict[str, Any]:
    """``doctor:variables``' rows as name -> value (the first row of a name: the warnings after the table
    repeat names)."""
    out: dict[str, Any] = {}
    for line in _ANSI.sub("", output).splitlines():
        m = _VARIABLE.fullmatch(line.rstrip())
        if m and m["name"] not in out:
            out[m["name"]] = ruby_value(m["value"])
    return out


@dataclass(frozen=True)
class Server:
    address: str
    user: str | None = None
    port: int | None = None
    roles: tuple[str, ...] = ()
    properties: dict[str, Any] = field(default_factory=dict)


def parse_servers(output: str) -> list[Server]:
    """``doctor:servers``' rows, in their order."""
    out = []
    for line in _ANSI.sub("", output).splitlines():
        m = _SERVER.fullmatch(line.rstrip())
        if not m:
            continue
        roles = ruby_value(m["roles"])
        props = ruby_value(m["properties"]) if m["properties"] else {}
        out.append(
            Server(
                m["host"].strip("[]"), m["user"], int(m["port"]) if m["port"] else None,
                tuple(r.name if isinstance(r, Symbol) else str(r) for r in roles) if isinstance(roles, list) else (),
                props if isinstance(props, dict) else {},
            )
        )  # fmt: skip
    return out


@dataclass(frozen=True)
class Custom:
    """A custom task, a hook or a plugin of the project: what shipbot cannot translate by itself."""

    kind: str  # task | hook | plugin
    name: str  # namespaced task name, "after deploy:publishing -> deploy:restart_app", or the required path
    where: str  # file:line

    def replacement(self) -> str:
        """The shipbot feature that does its job, by what its name says."""
        name = self.name.lower()
        if "migrat" in name:
            return "pipeline.migrate (run: ..., roles: [db]) runs it once per deploy on a host with those roles"
        if "restart" in name or "reload" in name or "passenger" in name or "puma" in name:
            return "pipeline.restart runs it on every host as a release goes live"
        if any(w in name for w in ("build", "asset", "compile", "bundle", "yarn", "npm", "webpack")):
            return "pipeline.build runs it in each new release before it goes live"
        if self.kind == "plugin":
            return "no shipbot feature of its own: write what it does as pipeline steps or tasks"
        return f"tasks.{self.name.rsplit(':', 1)[-1]} (run: ...), run with: shipbot task NAME ENV"


_BASE_PLUGINS = {"capistrano/setup", "capistrano/deploy", "capistrano/scm/git", "capistrano/scm/plugin_installer"}
_REQUIRE = re.compile(r"""\s*require\s+["'](capistrano/[^"']+)["']""")
_NAMESPACE = re.compile(r"""\s*namespace\s+:?["']?([\w-]+)["']?\s+do\b""")
_TASK = re.compile(r"""\s*(?:Rake::)?task\s+:?["']?([\w?!-]+)["']?""")
_HOOK = re.compile(r"""\s*(before|after)\s+:?["']?([\w:-]+)["']?\s*,\s*:?["']?([\w:-]+)["']?""")
_BLOCK_OPEN = re.compile(r"\bdo\b(\s*\|[^|]*\|)?\s*(#.*)?$|^\s*(if|unless|case|while|until|begin|def|class|module)\b")


def scan(files: dict[str, str]) -> list[Custom]:
    """Custom tasks (with their namespaces), ``before``/``after`` hooks and Capistrano plugins required, from the
    project's Ruby files (name -> text), in file order."""
    out: list[Custom] = []
    for name, text in files.items():
        stack: list[str | None] = []  # open blocks; a namespace's name, or None
        for number, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            where = f"{name}:{number}"
            if m := _REQUIRE.match(code):
                if m[1] not in _BASE_PLUGINS:
                    out.append(Custom("plugin", m[1], where))
            elif m := _HOOK.match(code):
                out.append(Custom("hook", f"{m[1]} {m[2]} -> {m[3]}", where))
            elif (m := _TASK.match(code)) and re.search(r"\bdo\b", code):
                out.append(Custom("task", ":".join([*(n for n in stack if n), m[1]]), where))
            if m := _NAMESPACE.match(code):
                stack.append(m[1])
            elif _BLOCK_OPEN.search(code.rstrip()):
                stack.append(None)
            elif re.fullmatch(r"\s*end\b.*", code) and stack:
                stack.pop()
    return out
