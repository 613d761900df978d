"""The path "controller killed mid-swap, then recovered": a ``shipbot deploy`` process SIGKILLed while its blue/green
swap is in flight (nginx already reloaded onto the new colour), then ``shipbot recover``.

The swap is held open on purpose through the operator's own reload command (:func:`holding_reload`): after nginx's
reload, while ``<deploy_to>/HOLD_SWAP`` exists, it touches ``<deploy_to>/SWAPPED`` and sleeps. The controller is
killed the moment a host says ``SWAPPED``, the hold is lifted, and ``shipbot recover`` runs until the dead run's
lease has expired (it answers 3 while it is alive). Used by the bench and by tests/strategies.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))
HOLD, SWAPPED = "HOLD_SWAP", "SWAPPED"
EXIT_BUSY = 3


def holding_reload(reload: str) -> str:
    """``reload``, then, while ``$SHIPBOT_DEPLOY_TO/HOLD_SWAP`` exists, ``SWAPPED`` touched and a long sleep."""
    return (
        f'{reload} && if [ -e "$SHIPBOT_DEPLOY_TO/{HOLD}" ]; then touch "$SHIPBOT_DEPLOY_TO/{SWAPPED}"; sleep 120; fi'
    )


def environ(data_dir: Path, lease_ttl: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SHIPBOT_DATABASE_URL"}
    return {**env, "SHIPBOT_DATA_DIR": str(data_dir), "SHIPBOT_LEASE_TTL": f"{lease_ttl:g}"}


async def kill_mid_swap_then_recover(
    config: Path, data_dir: Path, environment: str, ref: str, deploy_tos: list[Path],
    lease_ttl: float = 2.0, within: float = 120.0,
) -> tuple[int, str]:  # fmt: skip
    """Deploy ``ref`` in a process of its own, SIGKILL it mid-swap, then ``shipbot recover ENV``: its exit code and
    output. Raises when the deploy ends (or ``within`` seconds pass) before any host swapped."""
    env = environ(data_dir, lease_ttl)
    for d in deploy_tos:
        (d / SWAPPED).unlink(missing_ok=True)
        (d / HOLD).touch()
    deploy = await asyncio.create_subprocess_exec(
        SHIPBOT, "deploy", environment, ref, "--config", str(config), "--yes", env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + within
    try:
        while not any((d / SWAPPED).exists() for d in deploy_tos):
            if deploy.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the deploy never got to its swap (exit {deploy.returncode})")
            await asyncio.sleep(0.01)
    finally:
        if deploy.returncode is None:
            deploy.kill()
        await deploy.communicate()
        for d in deploy_tos:
            (d / HOLD).unlink(missing_ok=True)
    while True:
        recover = await asyncio.create_subprocess_exec(
            SHIPBOT, "recover", environment, "--config", str(config), env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await recover.communicate()
        if recover.returncode != EXIT_BUSY or time.monotonic() > deadline:
            return int(recover.returncode or 0), out.decode(errors="replace")
        await asyncio.sleep(0.2)


async def shipbot(config: Path, data_dir: Path, *args: str, lease_ttl: float = 2.0) -> tuple[int, str]:
    """``shipbot ARGS --config CONFIG`` in a process of its own: its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        SHIPBOT, *args, "--config", str(config), env=environ(data_dir, lease_ttl),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode(errors="replace")
