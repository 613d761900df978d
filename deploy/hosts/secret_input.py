"""Feeding a run's secrets to the commands that read them (:data:`deploy.hosts.remote.READ_SECRETS`) on standard input.

The engine wraps each run's connector in :class:`SecretFeeding` when the app has ``secret_env`` values: a command
built with :data:`deploy.hosts.remote.SECRET` variables contains the reading snippet, and gets the ``export`` lines
(:func:`deploy.hosts.remote.secrets_input`) as its standard input; every other command runs exactly as it would
unwrapped. So a secret never appears on a host's command line (``ps``), in the SSH session's environment (which a
stock sshd drops anyway), in a plan or in a dry run, whichever step set or merged command carries it.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping

from pydantic import SecretStr

from deploy.config.models import Config
from deploy.hosts import remote
from deploy.hosts.connector import Connector, HostConnection, StepResult
from deploy.run.plan import Host


class SecretFeeding:
    """A :class:`~deploy.hosts.connector.Connector` whose connections feed ``payload`` to commands that read secrets."""

    def __init__(self, inner: Connector, payload: bytes) -> None:
        self._inner = inner
        self._payload = payload

    async def connect(self, host: Host, timeout: float) -> HostConnection:
        return _Fed(await self._inner.connect(host, timeout), self._payload)

    async def close(self) -> None:
        await self._inner.close()


class _Fed:
    def __init__(self, inner: HostConnection, payload: bytes) -> None:
        self._inner = inner
        self._payload = payload
        self.host = inner.host

    async def run(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> StepResult:
        if stdin is None and remote.READ_SECRETS in command:
            stdin = self._payload
        return await self._inner.run(command, timeout, stdin, on_pgid, on_line)

    async def read(
        self,
        command: str,
        timeout: float,
        stdin: bytes | None = None,
        on_pgid: Callable[[int], Awaitable[None]] | None = None,
    ) -> StepResult:
        return await self._inner.read(command, timeout, stdin, on_pgid)

    async def close(self) -> None:
        await self._inner.close()


def secret_values(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, SecretStr]:
    """The controller environment variables the config names under ``secret_env``."""
    environ = os.environ if environ is None else environ
    return {name: SecretStr(environ[name]) for name in config.secret_env if name in environ}
