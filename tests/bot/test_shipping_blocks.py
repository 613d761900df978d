"""What ships, in the run message and the dry-run reply (pure rendering)."""

from __future__ import annotations

import pytest

from bot.mrkdwn import user
from bot.run_view import RunView
from bot.shipping_blocks import shipment_lines
from deploy.delivery.promotion import PromotionBlock
from deploy.events import RunStarted
from deploy.records import Commit, Shipment

NEW, LIVE = "1" * 40, "2" * 40
URL = f"https://github.com/acme/shop/compare/{LIVE}...{NEW}"


@pytest.mark.parametrize(
    ("shipment", "expected"),
    [
        (None, []),
        (Shipment(None, NEW), []),
        (Shipment(LIVE, NEW, (Commit(NEW, "Ada", "x"),)), []),
        (Shipment(LIVE, NEW, (Commit(NEW, "Ada", "x"),), URL), [f"<{URL}|compare 2222222...1111111>"]),
        (
            Shipment(LIVE, NEW, (), f"https://github.com/acme/shop/compare/{NEW}...{LIVE}", older=True),
            [
                ":warning: 1111111 is older than what is live (2222222): this deploy goes back in history",
                f"<https://github.com/acme/shop/compare/{NEW}...{LIVE}|what goes away 1111111...2222222>",
            ],
        ),
        (
            Shipment(LIVE, NEW, older=True),
            [":warning: 1111111 is older than what is live (2222222): this deploy goes back in history"],
        ),
    ],
)
def test_shipment_lines(shipment: Shipment | None, expected: list[str]) -> None:
    assert shipment_lines(shipment) == expected


def test_the_run_message_says_a_deploy_was_forced_past_the_order_and_goes_back_in_history() -> None:
    block = PromotionBlock("production", "staging", NEW, ("preview",))
    view = RunView("r1", "C1", forced=True)
    view.apply(RunStarted("r1", "deploy", "shop", "production", "v1", NEW, "rel", "U0ADMIN", ("h1",), LIVE,
                          forced_past=block))  # fmt: skip
    view.shipment = Shipment(LIVE, NEW, older=True)
    shown = str(view.blocks())
    sections = [b["text"]["text"] for b in view.blocks() if b["type"] == "section" and "text" in b]
    assert (
        f":warning: *Forced*: forced past the promotion order by {user('U0ADMIN')}: production only takes commits "
        "that passed staging: 1111111 has never been deployed successfully to staging (it is on: preview)"
    ) in sections
    assert "1111111 is older than what is live (2222222)" in shown
