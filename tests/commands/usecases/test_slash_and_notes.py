"""Text after the ``/deploy`` slash command through ``ChatService.handle(..., slash=True)``, and the note a deploy
carries when the app's name was read where a branch of that name was possible."""

from __future__ import annotations

from dataclasses import replace

from commands.help_text import SYNTAX
from commands.replies import AwaitingApproval, HelpReply, Refusal, RunAccepted
from tests.commands.usecases.world import COMMITS, NOW, World, run

NOTE = "`shop` was read as the app shop, not a branch; for a branch named `shop`, write `deploy shop shop to {env}`."


async def test_slash_text_is_a_deploy_when_it_starts_with_no_command_word(world: World) -> None:
    reply = await world.service.handle("main to staging", "U0EVE", "C0DEPLOYS", slash=True)
    assert reply == RunAccepted(run("r0001", "U0EVE", "staging"), COMMITS)
    await world.service.supervisor.drain()


async def test_empty_slash_text_is_help_and_a_command_word_is_that_command(world: World) -> None:
    helped = await world.service.handle("", "U0EVE", "C0X", slash=True)
    assert helped == await world.service.handle("help", "U0EVE", "C0X")
    assert isinstance(helped, HelpReply)
    topic = await world.service.handle("help rollback!", "U0EVE", "C0X", slash=True)
    assert topic == HelpReply((SYNTAX["rollback!"],), "rollback!", allowed_here=False)


async def test_without_slash_the_same_text_is_not_a_deploy(world: World) -> None:
    reply = await world.service.handle("main to staging", "U0EVE", "C0DEPLOYS")
    assert reply == Refusal("I don't know the command `main`", "did you mean `deploy main to staging`?")


async def test_the_app_word_note_travels_with_the_run(world: World) -> None:
    staging = await world.service.handle("deploy shop to staging", "U0EVE", "C0DEPLOYS")
    assert staging == RunAccepted(run("r0001", "U0EVE", "staging", note=NOTE.format(env="staging")), COMMITS)
    await world.service.supervisor.drain()
    production = await world.service.handle("deploy shop/main to production", "U0ALICE", "C0DEPLOYS")
    note = (
        "`shop/main` was read as the app shop and the ref `main`, not a branch; "
        "for a branch named `shop/main`, write `deploy shop shop/main to production`."
    )
    assert isinstance(production, AwaitingApproval)
    assert replace(production, shipment=None) == AwaitingApproval(
        run("r0002", "U0ALICE", "production", note=note), COMMITS, ("@sre",), NOW + 900
    )


async def test_the_app_word_note_ends_a_refusals_hint(world: World) -> None:
    reply = await world.service.handle("deploy shop/main to production", "U0EVE", "C0DEPLOYS")
    assert reply == Refusal(
        "U0EVE may not deploy to production: that is for @deployers",
        "`where can I deploy` lists what you may do; an admin can change access in the config. "
        "`shop/main` was read as the app shop and the ref `main`, not a branch; "
        "for a branch named `shop/main`, write `deploy shop shop/main to production`.",
    )
