"""Host commands that decide on the host, from where ``current`` really points, and fold bookkeeping into the
steps a run makes anyway (pure builders, every value quoted).

- :func:`prepare` is the first exec of a deploy on a host: it prints a bookkeeping preamble (the release listing,
  then the probe of ``current``, then on a blue/green host the colour probe after a colour marker of its own,
  :func:`split_colours`) between the run's :class:`deploy.hosts.framing.Frame` preamble markers (a nonce no
  journal line, author name or folder can hold), then creates the layout, unpacks or fetches the release and
  links it (setup, upload|fetch and link in one session; a refusal of setup exits :data:`REFUSED`, so the run
  knows it created nothing). A preamble that does not parse fails the host: nothing is guessed.
- :func:`switch` checks REVISION, checks ``current`` is still where the run found it (so the intent line's
  ``from`` is what the host really had; else it exits :data:`MOVED`), appends the write-ahead intent line to the
  host's journal, then renames ``current``: one exec.
- :func:`switch_back` is the revert of a host whose switch outcome may be unknown: only when ``current`` points
  at the run's release is it pointed back; it prints :data:`SWITCHED_BACK` or :data:`UNCHANGED`. Going back to
  no release at all (removing ``current``) happens only when the host's own journal holds this run's intent line
  saying it had none (:func:`had_none`); otherwise it exits :data:`NOT_KNOWN` and changes nothing.
- :func:`finish` appends the run's journal line and removes releases in the same exec; removal never deletes the
  release ``current`` resolves to (:func:`deploy.hosts.remote.remove_releases` is guarded on the host).
"""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Sequence

from deploy.hosts import framing, listing, remote
from deploy.ids import utc_iso

q = shlex.quote

NOT_VERIFIED = 4  # the switch's REVISION check failed: nothing was switched
REFUSED = 3  # setup refused (a missing shared file, the release already there): nothing was created
MOVED = 6  # the switch: current is no longer where the run found it: nothing was switched
NOT_KNOWN = 5  # switch_back: the host's journal does not say it had no release before the run: nothing changed
SWITCHED_BACK = "shipbot-switched-back"
UNCHANGED = "shipbot-unchanged"


def intent_line(run_id: str, from_release: str | None, to_release: str) -> str:
    """The journal's write-ahead line (the journal parser skips it: it is not a run's outcome)."""
    data = {"time": utc_iso(), "intent": "switch", "run": run_id, "from": from_release, "to": to_release}
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def had_none(run_id: str) -> str:
    """The start of :func:`intent_line` for a host that had no release before ``run_id`` (keys are sorted, so
    ``from`` comes first and ``run`` right after ``intent``)."""
    return json.dumps({"from": None, "intent": "switch", "run": run_id}, sort_keys=True, separators=(",", ":"))[:-1]


def prepare(deploy_to: str, body: Sequence[str], frame: framing.Frame, colours: str = "") -> str:
    """``frame``'s preamble start, the release listing, the probe (last, so a cut output still has it; a blue/green
    host's ``colours`` probe, :func:`deploy.hosts.bluegreen.probe`, follows it after ``frame``'s colour marker),
    the preamble end, then ``body`` joined with ``&&``."""
    preamble = remote.sections(frame, listing.command(deploy_to, frame), remote.probe(deploy_to))
    if colours:
        preamble += f"; echo {frame.marker('colours')}; {colours}"
    return f"echo {frame.preamble_start}; {{ {preamble}; }}; echo {frame.preamble_end}; " + " && ".join(body)


def split_colours(preamble: str, frame: framing.Frame) -> tuple[str, str | None]:
    """(the listing and probe, the colour probe's output) of a whole preamble; None: it has no colour section (the
    host is not blue/green). The colour section is what follows ``frame``'s colour marker line."""
    lines = preamble.split("\n")
    marker = frame.marker("colours")
    if marker not in lines:
        return preamble, None
    at = lines.index(marker)
    return "\n".join([*lines[:at], ""]), "\n".join(lines[at + 1 :])


def body_of(command: str) -> str:
    """What :func:`prepare` does besides its bookkeeping preamble (for ``--dry-run``)."""
    frame = framing.of(command)
    return command.partition(f"echo {frame.preamble_end}; ")[2] if frame else command


def split_preamble(output: str, frame: framing.Frame) -> tuple[str | None, str]:
    """(the preamble, the rest) of :func:`prepare`'s output, cut at ``frame``'s whole marker lines; (None, output)
    when it has no whole preamble."""
    lines = output.split("\n")
    body = framing.lines_between(lines, frame.preamble_start, frame.preamble_end)
    if body is None:
        return None, output
    rest = lines[lines.index(frame.preamble_end) + 1 :]
    return "\n".join([*body, ""]), "\n".join(rest)


def parse_preamble(preamble: str, frame: framing.Frame) -> tuple[remote.Current | None, listing.ReleaseListing | None]:
    """``current`` and the release listing; the listing is None when it is not whole
    (:func:`deploy.hosts.listing.parse`)."""
    listing_text, probe_text = remote.split_sections(preamble, frame, 2)
    return remote.parse_probe(probe_text), listing.parse(listing_text, frame)


def still_at(deploy_to: str, release: str | None) -> str:
    """A test that ``current`` is where the run found it: the link's last part is ``release`` (as the probe reads
    it, trailing slash or absolute target alike), or (None) there is no link."""
    cur = q(posixpath.join(deploy_to, "current"))
    if release is None:
        return f"! readlink {cur} >/dev/null 2>&1"
    return f'{{ t=$(readlink {cur} 2>/dev/null) && t=${{t%/}} && test "${{t##*/}}" = {q(release)}; }}'


def switch(deploy_to: str, run_id: str, from_release: str | None, release: str, sha: str) -> str:
    """Verify REVISION, check ``current`` is still at ``from_release``, write the intent line, rename ``current``:
    one session."""
    moved = q(
        f"current on this host is no longer where this run found it ({from_release or 'no release'}): "
        "someone else changed it; nothing was switched"
    )
    return " && ".join(
        (
            f"{{ {remote.verify(deploy_to, release, sha)} || exit {NOT_VERIFIED}; }}",
            f"{{ {still_at(deploy_to, from_release)} || {{ printf '%s\\n' {moved} >&2; exit {MOVED}; }}; }}",
            remote.append_journal(deploy_to, intent_line(run_id, from_release, release)),
            remote.switch(deploy_to, release),
        )
    )


def points_at(deploy_to: str, release: str) -> str:
    """A test that ``current`` points at ``release``."""
    cur = q(posixpath.join(deploy_to, "current"))
    return f'test "$(readlink {cur} 2>/dev/null)" = {q("releases/" + release)}'


def switch_back(deploy_to: str, release: str, previous: str | None, run_id: str) -> str:
    """If ``current`` points at ``release``, point it at ``previous``; say which happened. ``previous=None``
    removes ``current`` only when the host's journal holds ``run_id``'s intent line saying it had no release
    before (else exit :data:`NOT_KNOWN`, naming why, with nothing changed)."""
    back = remote.switch(deploy_to, previous)
    if previous is None:
        log = q(remote.journal_path(deploy_to))
        refuse = q(
            f"current points at {release}, but the journal {remote.journal_path(deploy_to)} does not say this host "
            f"had no release before run {run_id}: current is left as it is; point it back by hand"
        )
        said = f"grep -qF -e {q(had_none(run_id))} {log} 2>/dev/null"
        back = f"{{ {said} || {{ printf '%s\\n' {refuse} >&2; exit {NOT_KNOWN}; }}; }} && {back}"
    return f"if {points_at(deploy_to, release)}; then {back} && echo {SWITCHED_BACK}; else echo {UNCHANGED}; fi"


def finish(deploy_to: str, journal_line: str | None, doomed: Sequence[str], mark_failed: str | None = None) -> str:
    """Append the journal line, mark a kept failed release, and remove ``doomed`` releases (never ``current``)."""
    parts = []
    if journal_line:
        parts.append(remote.append_journal(deploy_to, journal_line))
    if mark_failed:
        parts.append(remote.mark_failed(deploy_to, mark_failed))
    if doomed:
        parts.append(remote.remove_releases(deploy_to, doomed))
    return "; ".join(parts) or "true"


def with_last(commands: list[str], last: str | None, timeout: float) -> tuple[str, float]:
    """``commands`` then ``last`` (in braces: it may end in ``&``) as one command, and its timeout: ``timeout``,
    and ``timeout`` more for ``last``."""
    if last is None:
        return "; ".join(commands), timeout
    return "; ".join([*commands, f"{{ {last}\n}}"]), 2 * timeout
