"""Repair of a blue/green run whose controller died: traffic, labels and colours back to what they were before it.

Per host, after :mod:`deploy.run.repair` killed the run's leftover process groups (a swap cut short among them):

1. which colour was live before the run: with a swap intent in the ledger (written before the swap was sent, see
   :mod:`deploy.run.colours`), the colour whose link points at the intent's ``from`` release; without one (the run
   never got to move traffic) the colour ``.shipbot/live`` names, which only a finished swap changes;
2. that colour runs: started again (``pipeline.restart`` in the colour) and health-checked on its own port when
   nothing answers there (``keep_old: 0`` may have stopped it after a swap);
3. nginx's upstream is rendered for that colour and swapped in (:func:`deploy.hosts.bluegreen.swap`: renamed over the
   include, ``nginx -t``, graceful reload), waiting until nginx sends the other colour nothing more;
4. the labels go back (``.shipbot/live``, ``current``);
5. the other colour stops once nginx no longer reaches it, at once with ``keep_old: 0``, else after ``keep_old``
   (as after any swap, unless it became live or was restarted by then).

Every step is idempotent: a repair that stops half way (a host unreachable) is run again by the next ``recover``.
A run that had no live colour before (the first deploy) goes back to none: labels cleared, its colour stopped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from deploy.config.sections import Timeouts
from deploy.hosts import bluegreen
from deploy.hosts.connector import HostConnection
from deploy.run.plan import DeployPlan, HostPlan
from deploy.store.intents import HostIntent


@dataclass(frozen=True)
class ColoursBack:
    ok: bool
    release: str | None  # where ``current`` points once repaired
    sha: str | None
    did: tuple[str, ...]  # for people: "traffic back on blue", ...


def colour_before(found: bluegreen.ColourProbe, intent: HostIntent | None) -> str | None:
    """The colour that was live before the run (None: none was)."""
    if intent is None or not intent.maybe_switched:
        return found.live
    if intent.from_release is None:
        return None
    for colour in bluegreen.COLOURS:
        release = found.colours[colour].release
        if release == intent.from_release and release != intent.to_release:
            return colour
    return found.live if found.live and found.colours[found.live].release == intent.from_release else None


async def put_back(
    conn: HostConnection,
    run_id: str,
    plan: DeployPlan,
    hp: HostPlan,
    intent: HostIntent | None,
    timeouts: Timeouts,
) -> ColoursBack:
    """Traffic, labels and colours of one host back to what they were before run ``run_id`` (see the module)."""
    c = hp.colours
    assert c is not None
    d = c.deploy_to
    looked = await conn.run(bluegreen.probe(d, c.address, c.ports), timeouts.command)
    found = bluegreen.parse_probe(looked.output) if looked.ok else None
    if found is None:
        return ColoursBack(False, None, None, (f"could not read the colours: {looked.describe()}",))
    before = colour_before(found, intent)
    if before is None:
        return await _to_none(conn, hp, found, intent, timeouts)
    other, was = bluegreen.other(before), found.colours[before]
    env = bluegreen.colour_env(hp.env, c, before, was.release or "", was.sha or "")
    did: list[str] = []
    if not was.running:
        if not plan.restart_command or was.release is None:
            return ColoursBack(False, None, None, (f"{before} was live before the run and does not run",))
        start = bluegreen.start(d, before, run_id, env, plan.restart_command)
        started = await conn.run(start, hp.restart.timeout if hp.restart else timeouts.restart)
        if not started.ok:
            return ColoursBack(False, None, None, (f"could not start {before} again: {started.describe()}",))
        if hp.healthcheck and not await _healthy(conn, d, before, env, hp):
            return ColoursBack(False, None, None, (f"{before} was started again but fails its healthcheck",))
        did.append(f"started {before} again")
    content = bluegreen.render_upstream(
        c.upstream, c.address, c.ports[before], before, was.release or "-", was.sha or "-"
    )
    swap = bluegreen.swap(c, content, before, other, True, was.sha or "")
    moved = await conn.run(swap, timeouts.switch + c.drain_timeout + 5)
    if not moved.ok:
        return ColoursBack(False, None, None, (*did, f"could not move traffic back to {before}: {moved.describe()}"))
    did.append(f"traffic back on {before}")
    labels = await conn.run(bluegreen.set_live(d, before, was.release), timeouts.switch)
    if not labels.ok:
        return ColoursBack(False, None, None, (*did, f"could not label {before} live again: {labels.describe()}"))
    leaving = found.colours[other]
    other_env = bluegreen.colour_env(hp.env, c, other, leaving.release or "", leaving.sha or "")
    if c.keep_old <= 0 and bluegreen.drained(moved.output):
        await conn.run(bluegreen.stop(d, other, other_env, c.stop), timeouts.command)
        did.append(f"{other} stopped")
    else:
        workers = bluegreen.parse_workers(moved.output)
        known = bluegreen.known_workers(c.pid_file, workers) if c.pid_file and workers else ""
        drain = f"{known}; {bluegreen.drain_wait(c, other, was.sha or '')}".lstrip("; ")
        after = max(c.keep_old, 0.0)
        await conn.run(bluegreen.schedule_stop(c, other, after, other_env, c.stop, drain), timeouts.command)
        did.append(f"{other} stops in {after:g}s" if after else f"{other} stops once nginx no longer reaches it")
    return ColoursBack(True, was.release, was.sha, tuple(did))


async def _healthy(conn: HostConnection, d: str, colour: str, env: dict[str, str], hp: HostPlan) -> bool:
    hc = hp.healthcheck
    assert hc is not None
    for attempt in range(hc.retries):
        if attempt:
            await asyncio.sleep(hc.interval)
        if (await conn.run(bluegreen.in_colour(d, colour, env, hc.run), hc.timeout)).ok:
            return True
    return False


async def _to_none(
    conn: HostConnection,
    hp: HostPlan,
    found: bluegreen.ColourProbe,
    intent: HostIntent | None,
    timeouts: Timeouts,
) -> ColoursBack:
    """No colour was live before the run: labels cleared, the colour the run started stopped."""
    c = hp.colours
    assert c is not None
    cleared = await conn.run(bluegreen.clear_live(c.deploy_to), timeouts.switch)
    if not cleared.ok:
        return ColoursBack(False, None, None, (f"could not clear the live colour: {cleared.describe()}",))
    target = intent.to_release if intent else None
    stopped = []
    for colour in bluegreen.COLOURS:
        state = found.colours[colour]
        if state.running and (target is None or state.release == target):
            env = bluegreen.colour_env(hp.env, c, colour, state.release or "", state.sha or "")
            await conn.run(bluegreen.stop(c.deploy_to, colour, env, c.stop), timeouts.command)
            stopped.append(colour)
    return ColoursBack(True, None, None, ("no colour was live before: none is now", *(f"{s} stopped" for s in stopped)))
