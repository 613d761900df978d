"""Every flag change is a ``flag.changed`` event in the outbox, written in the change's own transaction (SQLite and
PostgreSQL): one row per webhook, Teams or IRC sink of the environment (none for the forges), one per Slack channel
when the change asks for them (the command line's), none when the change is refused; the document is the schema's,
and Teams' and IRC's sentence says who set what from what."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from deploy.flags.flag_defs import FlagDef
from deploy.flags.flag_store import FlagStore
from deploy.notify.event_documents import headline
from deploy.notify.outbox import Outbox, Route
from deploy.store.database import Database

SCHEMA = json.loads((Path(__file__).parents[2] / "docs/events.schema.json").read_text())


class Refused(Exception):
    pass


def refuse(_: FlagDef | None) -> FlagDef:
    raise Refused


def test_a_change_and_its_events_are_one_transaction(databases: Callable[[], Database]) -> None:
    db = databases()
    outbox = Outbox(db)
    outbox.route("shop", "production", [
        Route("webhook", {"url": "https://hooks.example.com/h", "secret_env": "HOOK"}),
        Route("irc", {"server": "irc.example.com", "channel": "#deploys"}),
        Route("github", {"repo": "acme/shop"}),
    ])  # fmt: skip
    table = FlagStore(db, outbox)

    with pytest.raises(Refused):
        table.change("shop", "production", "new-login", refuse, actor="U0ALICE", source="chat", action="on")
    assert (outbox.listing(), table.rows("shop")) == ([], [])

    table.change("shop", "production", "new-login", lambda _: FlagDef(100), actor="U0ALICE", source="chat",
                 action="ramp")  # fmt: skip
    table.change("shop", "production", "new-login", lambda _: FlagDef(0, ("U1",)), actor="operator", source="cli",
                 action="off", reason="errors up", slack=("C0GENERAL", "C0OPS"))  # fmt: skip
    rows = outbox.listing()
    assert [(n.sink, n.document["source"]) for n in rows] == [
        ("webhook", "chat"), ("irc", "chat"), ("webhook", "cli"), ("irc", "cli"), ("slack", "cli"), ("slack", "cli")
    ]  # fmt: skip
    assert [n.target for n in rows if n.sink == "slack"] == [{"channel": "C0GENERAL"}, {"channel": "C0OPS"}]
    assert len({n.document["id"] for n in rows[2:]}) == 1, "one event, told to every sink"
    for n in rows:
        jsonschema.validate(n.document, SCHEMA)
    last = rows[-1].document
    assert (last["type"], last["flag"], last["flag_version"], last["before"], last["after"]) == (
        "flag.changed", "new-login", 2, {"state": "10%", "percent": "10%", "allow": []},
        {"state": "off, on for U1", "percent": "0%", "allow": ["U1"]},
    )  # fmt: skip
    assert headline(last) == "operator set flag new-login in shop production to off, on for U1 (was 10%) — errors up"
    assert "was new" in headline(rows[0].document)
