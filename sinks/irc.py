"""IRC: one short session per event line (RFC 2812 registration): ``PASS`` (when a password is configured),
``NICK``, ``USER``; on ``001`` ``JOIN`` the channel; on the end of its names list (``366``) ``PRIVMSG`` the line and
``QUIT``. A nick already taken (``433``) or refused (``432``) is tried again with a suffix (``shipbot_``,
``shipbot1``, …). ``PING`` is answered all along.

The line is plain text: CR, LF, NUL, IRC formatting codes (bold, colour, reverse, …) and every other control
character are removed, so nothing a person typed ends a command early or starts another, and it is cut to fit the
512-byte line.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Mapping
from typing import Any

from deploy.notify.event_documents import headline
from sinks.attempts import TIMEOUT, Attempt, Delivered, Refused, Retry, secret

MAX_TEXT = 400  # bytes of text in one PRIVMSG (the whole line, prefix included, must fit 512)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NICK_SUFFIXES = ("_", "1", "2", "3", "__")


def clean(text: str) -> str:
    """One safe line: control characters (CR, LF, NUL, ^B, ^C colours, ^O, ^V, ^_ …) gone, cut to :data:`MAX_TEXT`
    bytes on a character boundary."""
    text = _CONTROL.sub("", text).strip()
    data = text.encode()[:MAX_TEXT]
    return data.decode(errors="ignore")


def line_of(document: Mapping[str, Any]) -> str:
    text = headline(dict(document))
    if document.get("message") and document["type"] != "run.started":
        text += f": {document['message']}"
    return clean(text)


class IrcError(Exception):
    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


async def say(
    server: str, port: int, *, tls: bool, channel: str, nick: str, text: str, password: str | None = None,
    timeout: float = TIMEOUT,
) -> None:  # fmt: skip
    """Connect, register, join ``channel``, say ``text``, quit; raises IrcError or OSError/TimeoutError."""
    context = ssl.create_default_context() if tls else None
    reader, writer = await asyncio.wait_for(asyncio.open_connection(server, port, ssl=context), timeout)
    try:
        await asyncio.wait_for(_session(reader, writer, channel, nick, text, password), timeout)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, channel: str, nick: str, text: str,
    password: str | None,
) -> None:  # fmt: skip
    def send(*words: str, trailing: str | None = None) -> None:
        line = " ".join(words) + (f" :{trailing}" if trailing is not None else "")
        writer.write(_CONTROL.sub("", line).encode() + b"\r\n")

    tried = iter(nick + s for s in NICK_SUFFIXES)
    if password:
        send("PASS", trailing=password)
    send("NICK", nick)
    send("USER", nick, "0", "*", trailing="shipbot")
    said = False
    while True:
        raw = await reader.readline()
        if not raw:
            if said:
                return
            raise IrcError("the server closed the connection")
        prefix, command, params = _parse(raw.decode(errors="replace").rstrip("\r\n"))
        if command == "PING":
            send("PONG", trailing=params[-1] if params else "")
        elif command == "001":
            send("JOIN", channel)
        elif command in ("432", "433", "436"):
            following = next(tried, None)
            if following is None:
                raise IrcError(f"every nick tried was taken (last {params[1] if len(params) > 1 else nick})")
            send("NICK", following)
        elif command == "366" and not said:
            send("PRIVMSG", channel, trailing=text)
            send("QUIT", trailing="shipbot")
            said = True
        elif command in ("464", "465"):
            raise IrcError(f"the server refused shipbot ({command}: {params[-1] if params else ''})", final=True)
        elif command in ("403", "471", "473", "474", "475", "477"):
            raise IrcError(f"cannot join {channel} ({command}: {params[-1] if params else ''})", final=True)
        elif command == "ERROR":
            if said:
                return
            raise IrcError(f"the server closed the session: {params[-1] if params else ''}")
        del prefix
        await writer.drain()


def _parse(line: str) -> tuple[str, str, list[str]]:
    prefix = ""
    if line.startswith(":"):
        prefix, _, line = line[1:].partition(" ")
    head, _, trailing = line.partition(" :")
    words = head.split()
    params = words[1:] + ([trailing] if trailing or " :" in line else [])
    return prefix, (words[0].upper() if words else ""), params


async def deliver(msg_id: str, target: Mapping[str, Any], document: Mapping[str, Any]) -> Attempt:
    password = secret(str(target["password_env"])) if target.get("password_env") else None
    try:
        await say(
            str(target["server"]), int(target["port"]), tls=bool(target["tls"]), channel=str(target["channel"]),
            nick=str(target["nick"]), text=line_of(document), password=password,
        )  # fmt: skip
    except IrcError as exc:
        return Refused(str(exc)) if exc.final else Retry(str(exc))
    except TimeoutError:
        return Retry("the IRC server did not answer in time")
    except ssl.SSLError as exc:
        return Retry(f"TLS refused: {type(exc).__name__}")
    except OSError as exc:
        return Retry(f"connection failed: {exc.strerror or type(exc).__name__}")
    return Delivered()
