"""The bot stack of tests/bot (the real bolt app against the emulator, real sshd hosts, a real git repository),
here with the push webhooks served."""

from tests.bot.conftest import stack

__all__ = ["stack"]
