"""Builders for every command shipbot runs on a host (pure).

Each function returns one POSIX ``sh`` command line. Every value that did not come from the operator's own config
commands (paths, SHAs, release ids, user names, JSON lines) is quoted with :func:`shlex.quote`, so nothing a person
types in chat reaches a shell unquoted. The operator's own commands (``build``, ``restart``, ``healthcheck``, tasks)
are theirs to write and run as written, in the release directory, with ``SHIPBOT_*`` variables exported.

Host layout (Capistrano's)::

    <deploy_to>/releases/<release-id>/   REVISION holds the full SHA
    <deploy_to>/current -> releases/<release-id>
    <deploy_to>/shared/                  linked files and dirs
    <deploy_to>/.shipbot/journal.jsonl   one JSON line per deploy or rollback
    <deploy_to>/.shipbot/repo            the host's git cache (transfer: git)
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deploy.hosts import framing

q = shlex.quote

# The marker the runner parses from a probe's output (sections are framed: :mod:`deploy.hosts.framing`).
NO_CURRENT = "-"


def releases_dir(deploy_to: str) -> str:
    return posixpath.join(deploy_to, "releases")


def release_dir(deploy_to: str, release: str) -> str:
    if not release or "/" in release or release in (".", ".."):
        raise ValueError(f"{release!r} is not a release id")
    return posixpath.join(deploy_to, "releases", release)


def journal_path(deploy_to: str) -> str:
    return posixpath.join(deploy_to, ".shipbot", "journal.jsonl")


SECRET = "\0on stdin"  # noqa: S105 (a placeholder, not a password)
"""The value of a secret variable in a command's environment: a placeholder no real value can be (a NUL byte).
:func:`exports` never writes it; the command reads the real value from its standard input instead."""

READ_SECRETS = ': shipbot-secrets-on-stdin; eval "$(cat)"; '
"""What a command whose environment holds :data:`SECRET` variables runs before the operator's command: it reads
``export NAME='value'`` lines (:func:`secrets_input`) from standard input, so no secret is ever on a command line
(where ``ps`` shows it to every user of the host) or in the SSH session's environment."""


def exports(env: Mapping[str, str]) -> str:
    """``export A='x' B='y';`` for the given variables (names are validated by the config), then
    :data:`READ_SECRETS` when any of them is a :data:`SECRET`."""
    plain = {k: v for k, v in env.items() if v != SECRET}
    out = "export " + " ".join(f"{k}={q(v)}" for k, v in plain.items()) + "; " if plain else ""
    return out + (READ_SECRETS if len(plain) < len(env) else "")


def secrets_input(secrets: Mapping[str, str]) -> bytes:
    """The standard input of a command that runs :data:`READ_SECRETS`: one ``export NAME='value'`` line each."""
    for name in secrets:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not a shell variable name")
    return "".join(f"export {name}={q(value)}\n" for name, value in secrets.items()).encode()


def probe(deploy_to: str) -> str:
    """Print two lines: the release ``current`` points to (or ``-``) and its REVISION (or ``-``)."""
    cur = q(posixpath.join(deploy_to, "current"))
    return (
        f"t=$(readlink {cur} 2>/dev/null) && t=${{t%/}} && printf '%s\\n' \"${{t##*/}}\" || echo {NO_CURRENT}; "
        f"cat {cur}/REVISION 2>/dev/null || echo {NO_CURRENT}"
    )


@dataclass(frozen=True)
class Current:
    """What :func:`probe` found: the release ``current`` points to and its REVISION (None: there is none)."""

    release: str | None
    sha: str | None


def parse_probe(output: str) -> Current | None:
    """:func:`probe`'s two lines (the last two: a login shell may print lines of its own first), or None when
    there are fewer."""
    lines = output.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        return None
    release, sha = (None if v in (NO_CURRENT, "") else v for v in lines[-2:])
    return Current(release, sha)


def sections(frame: framing.Frame, *commands: str) -> str:
    """Run commands one after the other in one session, ``frame``'s section marker line between their outputs."""
    return f"; echo {frame.section}; ".join(commands)


def split_sections(output: str, frame: framing.Frame, count: int) -> list[str]:
    """The outputs of :func:`sections`' ``count`` commands (split at whole marker lines only); a section cut off
    (a torn output) is empty."""
    pieces = output.split("\n")
    lines = [p + "\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    parts: list[list[str]] = [[]]
    for line in lines:
        if line.removesuffix("\n") == frame.section and len(parts) < count:
            parts.append([])
        else:
            parts[-1].append(line)
    return ["".join(p) for p in parts] + [""] * (count - len(parts))


def setup(deploy_to: str, release: str, shared_dirs: Sequence[str], shared_files: Sequence[str]) -> str:
    """Create the layout and check that every linked shared file exists; fails naming the missing file."""
    dirs = [
        releases_dir(deploy_to),
        posixpath.join(deploy_to, "shared"),
        posixpath.join(deploy_to, ".shipbot"),
    ]
    dirs += [posixpath.join(deploy_to, "shared", d) for d in shared_dirs]
    parts = [f"mkdir -p {' '.join(q(d) for d in dirs)}"]
    for f in shared_files:
        path = posixpath.join(deploy_to, "shared", f)
        missing = q(f"shared file {path} is missing: create it on the host")
        parts.append(f"{{ test -e {q(path)} || {{ printf '%s\\n' {missing} >&2; exit 3; }}; }}")
    rel = release_dir(deploy_to, release)
    parts.append(f"{{ test ! -e {q(rel)} || {{ printf '%s\\n' {q(f'release {rel} already exists')} >&2; exit 3; }}; }}")
    return " && ".join(parts)


def unpack(deploy_to: str, release: str) -> str:
    """Unpack a tar archive read from standard input into the new release."""
    rel = q(release_dir(deploy_to, release))
    return f"mkdir -p {rel} && tar -x -f - -C {rel}"


def git_fetch(deploy_to: str, release: str, repo: str, sha: str) -> str:
    """The host fetches the repository into its cache and exports exactly ``sha`` (a full commit id, checked here:
    the host's git may predate ``--end-of-options``) into the new release."""
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
        raise ValueError(f"{sha[:80]!r} is not a full commit id")
    cache = q(posixpath.join(deploy_to, ".shipbot", "repo"))
    rel = q(release_dir(deploy_to, release))
    return (
        f"{{ test -d {cache} || git clone --quiet --mirror {q(repo)} {cache}; }} && "
        f"git -C {cache} remote set-url origin {q(repo)} && "
        f"git -C {cache} fetch --quiet --prune origin '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' && "
        f'test "$(git -C {cache} rev-parse --verify --quiet {q(sha + "^{commit}")})" = {q(sha)} && '
        f"mkdir -p {rel} && git -C {cache} archive --format=tar {q(sha)} | tar -x -f - -C {rel}"
    )


def finish_release(
    deploy_to: str, release: str, sha: str, shared_dirs: Sequence[str], shared_files: Sequence[str]
) -> str:
    """Write REVISION, link shared files and dirs into the release, and read REVISION back."""
    rel = release_dir(deploy_to, release)
    parts = [f"printf '%s\\n' {q(sha)} > {q(rel + '/REVISION')}"]
    for item in [*shared_dirs, *shared_files]:
        target = posixpath.join(deploy_to, "shared", item)
        link = posixpath.join(rel, item)
        parts.append(f"mkdir -p {q(posixpath.dirname(link))} && rm -rf {q(link)} && ln -s {q(target)} {q(link)}")
    parts.append(f'test "$(cat {q(rel + "/REVISION")})" = {q(sha)}')
    return " && ".join(parts)


def in_release(deploy_to: str, release: str, env: Mapping[str, str], command: str) -> str:
    """Run an operator command in the release dir with the SHIPBOT_* variables exported."""
    return f"cd {q(release_dir(deploy_to, release))} && {exports(env)}{command}"


def in_current(deploy_to: str, env: Mapping[str, str], command: str) -> str:
    """Run an operator command (a task) in ``current`` (or ``deploy_to`` before the first deploy)."""
    cur = q(posixpath.join(deploy_to, "current"))
    return f"{{ cd {cur} 2>/dev/null || cd {q(deploy_to)}; }} && {exports(env)}{command}"


def verify(deploy_to: str, release: str, sha: str) -> str:
    """Check the release holds exactly ``sha`` before it may be switched to."""
    rel = release_dir(deploy_to, release)
    return f'test "$(cat {q(rel + "/REVISION")} 2>/dev/null)" = {q(sha)}'


def point_link(deploy_to: str, link: str, release: str | None) -> str:
    """Point ``<deploy_to>/<link>`` at a release atomically: a new symlink renamed over the old one (one
    rename(2)); ``release=None`` removes the link."""
    path = posixpath.join(deploy_to, link)
    if release is None:
        return f"rm -f {q(path)}"
    tmp = posixpath.join(deploy_to, f".{link}.{release}.tmp")
    return (
        f"test -d {q(release_dir(deploy_to, release))} && "
        f"ln -sfn {q('releases/' + release)} {q(tmp)} && mv -Tf {q(tmp)} {q(path)}"
    )


def switch(deploy_to: str, release: str | None) -> str:
    """Point ``current`` at ``release`` atomically.

    ``release=None`` removes ``current`` (a host that had no release before the run goes back to having none).
    """
    return point_link(deploy_to, "current", release)


def append_journal(deploy_to: str, line: str) -> str:
    path = journal_path(deploy_to)
    return f"mkdir -p {q(posixpath.dirname(path))} && printf '%s\\n' {q(line)} >> {q(path)}"


def read_journal(deploy_to: str) -> str:
    return f"cat {q(journal_path(deploy_to))} 2>/dev/null || true"


def list_releases(deploy_to: str) -> str:
    return f"ls -1 {q(releases_dir(deploy_to))} 2>/dev/null || true"


def remove_releases(deploy_to: str, releases: Sequence[str]) -> str:
    """Remove releases, but never the one ``current`` resolves to, whoever asks and whatever they believe."""
    if not releases:
        return "true"
    cur = q(posixpath.join(deploy_to, "current"))
    dirs = " ".join(q(release_dir(deploy_to, r)) for r in releases)
    return (
        f"live=$(readlink -f {cur} 2>/dev/null || true); for r in {dirs}; do "
        f'if [ -n "$live" ] && [ "$(readlink -f "$r" 2>/dev/null)" = "$live" ]; then continue; fi; rm -rf "$r"; done'
    )


def mark_failed(deploy_to: str, release: str) -> str:
    return f"touch {q(release_dir(deploy_to, release) + '/.shipbot-failed')} 2>/dev/null || true"


def kill_group(pgid: int, signal: str = "TERM") -> str:
    """Signal a whole remote process group (a step that timed out or was cancelled)."""
    # "-s SIG --" is the form both dash's and bash's built-in kill read the same way ("kill -SIG -- -PGID" is not)
    return f"kill -s {signal} -- -{int(pgid)} 2>/dev/null || true"


PGID_MARK = "shipbot-pgid:"
GO = b"\n"  # the line the controller sends once the step's process group is recorded: only then does the step run
_WAIT_FOR_GO = "read -r shipbot_go || exit 1"


def with_pgid(command: str, posix_login_shell: bool = True) -> str:
    """Wrap ``command`` so it first prints ``shipbot-pgid:<pgid>``, for killing it on timeout or cancel, then
    waits for one line on its standard input (:data:`GO`, sent before the step's own input) and only then runs.
    The controller records the process group before it sends that line, so a repair can always find and kill what
    a dead controller started: a controller that dies before recording it closes the channel, the line never comes
    and the command never runs.

    sshd starts every session in a new session (setsid), so the login shell's pid is the process group of the
    whole command tree. The line is tagged because a login shell may print things of its own before it. A POSIX
    login shell (sh, dash, bash, ksh, zsh) runs the command itself; any other gets it through ``sh -c``, which
    costs one more process per step.
    """
    if posix_login_shell:
        return f"echo {PGID_MARK}$$; {_WAIT_FOR_GO}; {command}"
    return f"echo {PGID_MARK}$$; exec sh -c {q(f'{_WAIT_FOR_GO}; {command}')}"
