"""What the notify channels read about pushes; names and subjects from a payload never become Slack markup."""

from __future__ import annotations

import pytest

from bot.push_blocks import render_announcement
from commands.ports import Announcement, AutoDeployHeld, AutoDeployRefused, AutoDeployWaits, Pushed, ReleaseNotes
from deploy.records import Commit

SHA = "3f2a9c1" + "0" * 33
EVIL = "<!channel> mallory"  # a pusher name or commit subject is whatever the pusher chose
COMMITS = (Commit(SHA, EVIL, "fix <https://evil.example|the cart>"), Commit("b" * 40, "Ada", "add the cart"))
C = ("C0DEPLOYS",)


@pytest.mark.parametrize(
    ("announcement", "says"),
    [
        (Pushed(C, "shop", "main", SHA, f"{EVIL} (push)", COMMITS, ("staging", "qa")),
         ["pushed shop `main` (`3f2a9c1`): deploying to staging, qa", "add the cart"]),
        (AutoDeployHeld(C, "shop", "production", "main", SHA, "alice (push)", "production is frozen: launch day"),
         ["is held: production is frozen: launch day", "deploys to production when the freeze ends"]),
        (AutoDeployHeld(C, "shop", "production", "main", SHA, "alice (push)", "the freeze ended", released=True),
         ["the freeze on production ended: deploying shop `main` (`3f2a9c1`) pushed by alice (push)"]),
        (AutoDeployRefused(C, "shop", "staging", "main", SHA, "alice (push)", "staging is locked by U0BOB", "ask"),
         ["was not deployed to staging: staging is locked by U0BOB"]),
        (AutoDeployWaits(C, "shop", "staging", "main", SHA, "alice (push)", "c" * 40),
         ["once the run going on there ends (instead of `ccccccc`)"]),
        (ReleaseNotes(C, "shop", "v1.2.0", SHA, "v1.1.0", COMMITS, "alice (push)"),
         ["*shop v1.2.0* (`3f2a9c1`), tagged by alice (push): 2 commit(s) since `v1.1.0`", "add the cart"]),
        (ReleaseNotes(C, "shop", "v1.0.0", SHA, None, (), "alice (push)"), ["0 commit(s) (first release)"]),
    ],
)  # fmt: skip
def test_announcements_read_well_and_carry_no_markup_from_a_payload(
    announcement: Announcement, says: list[str]
) -> None:
    message = render_announcement(announcement)
    shown = "\n".join(block["text"]["text"] for block in message.blocks)
    for phrase in says:
        assert phrase in shown
    assert "<!channel>" not in shown + message.fallback and "<https://evil" not in shown + message.fallback
