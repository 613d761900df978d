"""``flags`` and ``flag`` in chat (pure): a table of what each message reads as, what is refused and why, and
properties: every well-formed change reads back as itself, anything else is refused with a CommandError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.command import ChangeFlag, FlagHistory, ListFlags, ShowFlag
from commands.errors import CommandError
from commands.grammar.dispatch import parse
from commands.usecases.flag_service import beyond, next_definition
from commands.vocabulary import GrammarContext
from deploy.config.models import parse_config
from deploy.flags.flag_defs import FLAG_NAME, RESERVED, FlagDef

CONFIG = parse_config({
    "app": "shop", "repo": "r", "deploy_to": "/srv/shop",
    "environments": {"staging": {"hosts": [{"address": "10.0.0.1"}]},
                     "production": {"hosts": [{"address": "10.0.0.2"}]}},
})  # fmt: skip
CONTEXT = GrammarContext.from_configs([CONFIG], "U0SHIPBOT")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("flags", ListFlags()),
        ("flags staging", ListFlags("shop", "staging")),
        ("flags in prod", ListFlags("shop", "production")),
        ("flag new-checkout", ShowFlag("new-checkout")),
        ("<@U0SHIPBOT> flag on new-checkout in staging", ChangeFlag("on", "new-checkout", "shop", "staging", 1000)),
        ("flag off new-checkout in prod", ChangeFlag("off", "new-checkout", "shop", "production", 0)),
        ("FLAG OFF new-checkout IN staging because errors up",
         ChangeFlag("off", "new-checkout", "shop", "staging", 0, reason="errors up")),
        ("flag new-checkout to 10% in staging", ChangeFlag("ramp", "new-checkout", "shop", "staging", 100)),
        ("flag new-checkout to 10 in staging", ChangeFlag("ramp", "new-checkout", "shop", "staging", 100)),
        ("flag new-checkout to 0.5% in staging", ChangeFlag("ramp", "new-checkout", "shop", "staging", 5)),
        ("flag on x for U123,U456 in staging", ChangeFlag("allow", "x", "shop", "staging", keys=("U123", "U456"))),
        ("flag on x for U123, U456 in staging", ChangeFlag("allow", "x", "shop", "staging", keys=("U123", "U456"))),
        ("flag x drop U123 in staging", ChangeFlag("drop", "x", "shop", "staging", keys=("U123",))),
        ("flag history x", FlagHistory("x")),
        ("flag history x in staging", FlagHistory("x", "shop", "staging")),
        ("flag revert x in staging", ChangeFlag("revert", "x", "shop", "staging")),
        ("flag! on x in production", ChangeFlag("on", "x", "shop", "production", 1000, force=True)),
        ("flag ! x to 50 in production", ChangeFlag("ramp", "x", "shop", "production", 500, force=True)),
    ],
)  # fmt: skip
def test_flag_messages_read_as(text: str, command: object) -> None:
    assert parse(text, CONTEXT) == command


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("flag", "`flag` needs a flag name"),
        ("flag on x", "in which environment?"),
        ("flag on New_Flag in staging", "is not a flag name"),
        ("flag on drop in staging", "is a reserved word"),
        ("flag x to 100.5 in staging", "not a percentage from 0 to 100 with at most one decimal"),
        ("flag x to 0.05 in staging", "not a percentage"),
        ("flag x to -1 in staging", "not a percentage"),
        ("flag on x for in staging", "which targeting keys?"),
        ("flag on x for <@U123> in staging", "a mention of a person"),
        ("flag on x for a|b in staging", "is not a targeting key"),
        ("flag on x in stagign", "unknown environment `stagign`"),
        ("flag x sideways", "I can't read"),
        ("flga on x in staging", "I don't know the command `flga`"),
    ],
)  # fmt: skip
def test_flag_messages_refused(text: str, reason: str) -> None:
    with pytest.raises(CommandError) as err:
        parse(text, CONTEXT)
    assert reason in err.value.message


def test_a_near_miss_of_flag_is_suggested() -> None:
    with pytest.raises(CommandError) as err:
        parse("flgas staging", CONTEXT)
    assert "did you mean `flags staging`?" in err.value.hint


NAMES = st.from_regex(FLAG_NAME, fullmatch=True).filter(lambda n: n not in RESERVED)
KEYS = st.lists(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,15}", fullmatch=True), min_size=1, max_size=4, unique=True
)
ENVS = st.sampled_from(["staging", "production"])


@given(name=NAMES, env=ENVS, tenths=st.integers(0, 1000), force=st.booleans())
def test_every_ramp_reads_back_as_itself(name: str, env: str, tenths: int, force: bool) -> None:
    percent = f"{tenths // 10}.{tenths % 10}%" if tenths % 10 else f"{tenths // 10}"
    text = f"flag{'!' if force else ''} {name} to {percent} in {env}"
    assert parse(text, CONTEXT) == ChangeFlag("ramp", name, "shop", env, tenths, force=force)


@given(name=NAMES, env=ENVS, keys=KEYS)
def test_every_allow_list_reads_back_as_itself(name: str, env: str, keys: list[str]) -> None:
    keys = [k for k in keys if k.lower() not in RESERVED] or ["U1"]
    command = parse(f"flag on {name} for {','.join(keys)} in {env}", CONTEXT)
    assert command == ChangeFlag("allow", name, "shop", env, keys=tuple(keys))


@given(st.lists(st.sampled_from(["flag", "flags", "on", "off", "to", "for", "drop", "in", "history", "revert",
                                 "staging", "prod", "x", "10%", "U1,U2", "!", "because", "101"]), max_size=8)
       | st.text(max_size=60).map(lambda t: f"flag {t}"))  # fmt: skip
def test_anything_else_is_a_command_or_a_refusal(words: list[str] | str) -> None:
    text = words if isinstance(words, str) else " ".join(words)
    try:
        command = parse(text, CONTEXT)
    except CommandError as err:
        assert err.message
        return
    if isinstance(command, ChangeFlag):
        assert command.name not in RESERVED and FLAG_NAME.fullmatch(command.name)
        assert command.tenths is None or 0 <= command.tenths <= 1000


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        (ChangeFlag("on", "x", "shop", "staging", 1000), FlagDef(100, ("U1",)), FlagDef(1000, ("U1",))),
        (ChangeFlag("off", "x", "shop", "staging", 0), FlagDef(100, ("U1",)), FlagDef(0)),
        (ChangeFlag("ramp", "x", "shop", "staging", 200), FlagDef(100, ("U1",)), FlagDef(200, ("U1",))),
        (ChangeFlag("allow", "x", "shop", "staging", keys=("U2",)), None, FlagDef(0, ("U2",))),
        (ChangeFlag("drop", "x", "shop", "staging", keys=("U1",)), FlagDef(100, ("U1", "U2")), FlagDef(100, ("U2",))),
    ],
)  # fmt: skip
def test_what_each_change_makes_of_a_flag(action: ChangeFlag, before: FlagDef | None, after: FlagDef) -> None:
    assert next_definition(action, before, None) == after


@pytest.mark.parametrize(
    ("after", "reached", "problem"),
    [
        (FlagDef(1000), None, "was never turned on there"),
        (FlagDef(200), FlagDef(100), "went no further than 10% there"),
        (FlagDef(100), FlagDef(100), None),
        (FlagDef(0, ("U2",)), FlagDef(0, ("U1",)), "was never on for U2 there"),
        (FlagDef(0, ("U2",)), FlagDef(1000), None),
    ],
)  # fmt: skip
def test_how_far_the_promotion_order_lets_a_flag_go(
    after: FlagDef, reached: FlagDef | None, problem: str | None
) -> None:
    assert beyond(after, reached) == problem


def test_lowering_never_raises_exposure() -> None:
    assert [FlagDef(0).raises(FlagDef(100)), FlagDef(50).raises(FlagDef(100)),
            FlagDef(100).raises(FlagDef(100, ("U1",))), FlagDef(100, ("U1",)).raises(FlagDef(100)),
            FlagDef(1000).raises(FlagDef(100))] == [False, False, False, True, True]  # fmt: skip
