"""The bot stack of tests/bot (the real bolt app against the emulator, real sshd hosts, a real git repository),
here with the push webhooks served; and the real nginx of tests/previews for previews made by pushes."""

from tests.bot.conftest import stack
from tests.previews.conftest import nginx

__all__ = ["nginx", "stack"]
