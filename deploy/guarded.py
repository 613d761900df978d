"""Host commands that decide on the host, from where ``current`` really points, and fold bookkeeping into the
steps a run makes anyway (pure builders, every value quoted).

- :func:`prepare` is the first exec of a deploy on a host: it prints a bookkeeping preamble (the release listing,
  then the probe of ``current``) between :data:`PREAMBLE_START` and :data:`PREAMBLE_END`, then creates the
  layout, unpacks or fetches the release and links it (setup, upload|fetch and link in one session; a refusal
  of setup exits :data:`REFUSED`, so the run knows it created nothing).
- :func:`switch` checks REVISION, appends the write-ahead intent line to the host's journal, then renames
  ``current``: one exec.
- :func:`switch_back` is the revert of a host whose switch outcome may be unknown: only when ``current`` points
  at the run's release is it pointed back; it prints :data:`SWITCHED_BACK` or :data:`UNCHANGED`.
- :func:`finish` appends the run's journal line and removes releases in the same exec; removal never deletes the
  release ``current`` resolves to (:func:`deploy.remote.remove_releases` is guarded on the host).
"""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Sequence

from deploy import listing, remote
from deploy.ids import utc_iso

q = shlex.quote

PREAMBLE_START = "--- shipbot-preamble"
PREAMBLE_END = "--- shipbot-preamble-end"
NOT_VERIFIED = 4  # the switch's REVISION check failed: nothing was switched
REFUSED = 3  # setup refused (a missing shared file, the release already there): nothing was created
SWITCHED_BACK = "shipbot-switched-back"
UNCHANGED = "shipbot-unchanged"


def intent_line(run_id: str, from_release: str | None, to_release: str) -> str:
    """The journal's write-ahead line (the journal parser skips it: it is not a run's outcome)."""
    data = {"time": utc_iso(), "intent": "switch", "run": run_id, "from": from_release, "to": to_release}
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def prepare(deploy_to: str, body: Sequence[str]) -> str:
    """:data:`PREAMBLE_START`, the release listing, the probe (last, so a cut output still has it),
    :data:`PREAMBLE_END`, then ``body`` joined with ``&&``."""
    preamble = remote.sections(listing.command(deploy_to), remote.probe(deploy_to))
    return f"echo {q(PREAMBLE_START)}; {{ {preamble}; }}; echo {q(PREAMBLE_END)}; " + " && ".join(body)


def body_of(command: str) -> str:
    """What :func:`prepare` does besides its bookkeeping preamble (for ``--dry-run``)."""
    return command.partition(f"echo {q(PREAMBLE_END)}; ")[2] or command


def split_preamble(output: str) -> tuple[str | None, str]:
    """(the preamble, the rest) of :func:`prepare`'s output; (None, output) when it has no preamble."""
    head, mark, rest = output.partition(PREAMBLE_END)
    if not mark or (rest and not rest.startswith("\n")):
        return None, output
    return head, rest.removeprefix("\n")


def parse_preamble(preamble: str) -> tuple[remote.Current | None, listing.ReleaseListing | None]:
    """``current`` and the release listing; the listing is None when it is not whole (:func:`deploy.listing.parse`)."""
    listing_text, _, probe_text = preamble.rpartition(remote.SECTION + "\n")
    return remote.parse_probe(probe_text), listing.parse(listing_text)


def switch(deploy_to: str, run_id: str, from_release: str | None, release: str, sha: str) -> str:
    """Verify REVISION, write the intent line, rename ``current``: one session."""
    return " && ".join(
        (
            f"{{ {remote.verify(deploy_to, release, sha)} || exit {NOT_VERIFIED}; }}",
            remote.append_journal(deploy_to, intent_line(run_id, from_release, release)),
            remote.switch(deploy_to, release),
        )
    )


def points_at(deploy_to: str, release: str) -> str:
    """A test that ``current`` points at ``release``."""
    cur = q(posixpath.join(deploy_to, "current"))
    return f'test "$(readlink {cur} 2>/dev/null)" = {q("releases/" + release)}'


def switch_back(deploy_to: str, release: str, previous: str | None) -> str:
    """If ``current`` points at ``release``, point it at ``previous`` (None: remove it); say which happened."""
    return (
        f"if {points_at(deploy_to, release)}; then {remote.switch(deploy_to, previous)} && "
        f"echo {SWITCHED_BACK}; else echo {UNCHANGED}; fi"
    )


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
