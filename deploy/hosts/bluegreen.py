"""Blue/green on one host: the layout, and a builder for every command it runs (pure, quoted with shlex).

Host layout, on top of Capistrano's (releases are made exactly as for the other strategies)::

    <deploy_to>/releases/<release-id>/   as before
    <deploy_to>/blue  -> releases/<id>   the blue colour: a release-style folder; its app listens on ports.blue
    <deploy_to>/green -> releases/<id>   the green colour, on ports.green
    <deploy_to>/current -> releases/<id> the live colour's release (status, journal and rollback read it)
    <deploy_to>/.shipbot/live            "blue" or "green": which colour nginx sends traffic to
    <deploy_to>/.shipbot/<colour>.run    the run that last started that colour's app
    <upstream_file>                      ``upstream <app> { server <address>:<live port>; }``, rendered by shipbot

A deploy goes to the idle colour: its old app is stopped, its port must then be free, its link moves to the new
release, ``pipeline.restart`` starts it and ``pipeline.healthcheck`` checks it on its own port, while the live
colour keeps serving. Then traffic moves (:func:`swap`): the upstream is rendered to a temporary file and renamed
over the live include (the previous file kept aside), ``nginx -t`` checks the whole config with it, and only then
``nginx -s reload`` (nginx reloads gracefully: old workers finish their requests). If the test fails, the previous
file is renamed back before anything reloaded: the live colour is untouched. :func:`verify` then asks through
nginx that the new SHA answers; the labels swap (``.shipbot/live``, ``current``), and the old colour's app keeps
running for ``keep_old`` (:func:`schedule_stop` stops it later unless it became live again or was restarted), so
a rollback is a swap back with no rebuild and no restart.

Commands in a colour (start, stop, healthcheck) run in ``<deploy_to>/<colour>`` with the run's ``SHIPBOT_*``
variables and ``SHIPBOT_COLOUR`` (blue|green), ``SHIPBOT_PORT`` (the colour's port), ``SHIPBOT_DEPLOY_TO`` and
that colour's ``SHIPBOT_RELEASE`` / ``SHIPBOT_SHA``. The nginx test and reload commands get ``SHIPBOT_DEPLOY_TO``.
"""

from __future__ import annotations

import math
import posixpath
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from deploy.hosts import remote

q = shlex.quote
COLOURS = ("blue", "green")
NONE = "-"


def other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"


@dataclass(frozen=True)
class HostColours:
    """Everything blue/green needs to know about one host (built by the planner from the config)."""

    deploy_to: str
    ports: Mapping[str, int]  # colour -> port
    address: str
    upstream: str
    upstream_file: str  # absolute
    nginx_test: str
    nginx_reload: str
    stop: str
    verify_url: str
    verify_expect: str  # body | header
    verify_header: str
    verify_retries: int
    verify_interval: float
    verify_timeout: float
    keep_old: float
    pid_file: str = ""  # nginx master's pid file, absolute ("": none; drained is then asked through nginx)
    drain_timeout: float = 30.0  # how long a colour leaving traffic waits for nginx to stop sending it any


def colour_dir(deploy_to: str, colour: str) -> str:
    return posixpath.join(deploy_to, colour)


def live_file(deploy_to: str) -> str:
    return posixpath.join(deploy_to, ".shipbot", "live")


def run_file(deploy_to: str, colour: str) -> str:
    return posixpath.join(deploy_to, ".shipbot", f"{colour}.run")


def upstream_path(deploy_to: str, upstream_file: str) -> str:
    """The upstream file as an absolute path (a relative one is below the host's deploy_to)."""
    return upstream_file if upstream_file.startswith("/") else posixpath.join(deploy_to, upstream_file)


def probe(deploy_to: str, address: str, ports: Mapping[str, int]) -> str:
    """Print one line per item: the live colour, then for blue and green: release, REVISION, app answering (1/0).

    Whether an app answers is asked with curl: exit status 7 is "could not connect" (nothing listens).
    """
    live = q(live_file(deploy_to))
    parts = [f"{{ cat {live} 2>/dev/null || echo {NONE}; }}"]
    for colour in COLOURS:
        link = q(colour_dir(deploy_to, colour))
        url = q(f"http://{address}:{ports[colour]}/")
        parts.append(
            f"{{ t=$(readlink {link} 2>/dev/null) && printf '%s\\n' \"${{t##*/}}\" || echo {NONE}; }}; "
            f"{{ cat {link}/REVISION 2>/dev/null || echo {NONE}; }}; "
            f"{{ curl -s -o /dev/null --max-time 2 {url}; test $? -eq 7 && echo 0 || echo 1; }}"
        )
    return "; ".join(parts)


@dataclass(frozen=True)
class ColourState:
    release: str | None
    sha: str | None
    running: bool


@dataclass(frozen=True)
class ColourProbe:
    """What :func:`probe` found on a host: the live colour (None: none yet) and each colour's state."""

    live: str | None
    colours: Mapping[str, ColourState]


def parse_probe(output: str) -> ColourProbe | None:
    """The live colour and each colour's state from :func:`probe`'s output (its last seven lines), or None when
    it is garbled (fewer lines)."""
    lines = output.splitlines()[-7:]
    if len(lines) != 7:
        return None
    live = lines[0] if lines[0] in COLOURS else None
    states = {}
    for i, colour in enumerate(COLOURS):
        rel, sha, up = lines[1 + 3 * i : 4 + 3 * i]
        states[colour] = ColourState(None if rel == NONE else rel, None if sha == NONE else sha, up == "1")
    return ColourProbe(live, states)


def colour_env(base: Mapping[str, str], hc: HostColours, colour: str, release: str, sha: str) -> dict[str, str]:
    return {
        **base,
        "SHIPBOT_RELEASE": release,
        "SHIPBOT_SHA": sha,
        "SHIPBOT_DEPLOY_TO": hc.deploy_to,
        "SHIPBOT_COLOUR": colour,
        "SHIPBOT_PORT": str(hc.ports[colour]),
    }


def in_colour(deploy_to: str, colour: str, env: Mapping[str, str], command: str) -> str:
    """Run an operator command in the colour's folder with the given variables exported."""
    return f"cd {q(colour_dir(deploy_to, colour))} && {remote.exports(env)}{command}"


def point(deploy_to: str, colour: str, release: str | None) -> str:
    """Point the colour's link at a release atomically (``None`` removes the link)."""
    return remote.point_link(deploy_to, colour, release)


def start(deploy_to: str, colour: str, run_id: str, env: Mapping[str, str], command: str) -> str:
    """Record which run starts the colour, then run the operator's start (``pipeline.restart``) in it."""
    path = run_file(deploy_to, colour)
    return f"mkdir -p {q(posixpath.dirname(path))} && printf '%s\\n' {q(run_id)} > {q(path)} && " + in_colour(
        deploy_to, colour, env, command
    )


def stop(deploy_to: str, colour: str, env: Mapping[str, str], command: str) -> str:
    """Stop the colour's app (a colour that was never set up has nothing to stop)."""
    d = q(colour_dir(deploy_to, colour))
    return f"if test -d {d}; then {in_colour(deploy_to, colour, env, command)}; fi"


def port_free(address: str, port: int, colour: str, tries: int = 10, interval: float = 0.5) -> str:
    """Wait until nothing answers on the colour's port (curl exit status 7); fail naming the port."""
    url = q(f"http://{address}:{port}/")
    msg = q(
        f"port {port} ({colour}) is still in use after {colour} was stopped: another process listens there; "
        f"stop it or give {colour} another port (blue_green.ports.{colour})"
    )
    return (
        f"i=0; while curl -s -o /dev/null --max-time 2 {url}; test $? -ne 7; do "
        f"i=$((i+1)); if [ $i -ge {int(tries)} ]; then echo {msg} >&2; exit 3; fi; sleep {interval:g}; done"
    )


def render_upstream(upstream: str, address: str, port: int, colour: str, release: str, sha: str) -> str:
    """The nginx include shipbot owns: one upstream block sending traffic to one colour."""
    return (
        f"# written by shipbot: {colour} is live (release {release}, {sha[:12]}); do not edit\n"
        f"upstream {upstream} {{\n    server {address}:{port};\n}}\n"
    )


def swap(
    hc: HostColours, content: str, to_colour: str, from_colour: str | None, drain: bool = False, sha: str = ""
) -> str:
    """Move traffic: new upstream renamed over the live include, ``nginx -t``, then reload; the previous file is
    put back (and nothing reloads) when the test or the reload fails, with one clear message (exit 3, 4, 5:
    nothing was moved).

    With a pid file, nginx's workers from before the reload are listed (:func:`nginx_workers`) and printed as
    ``shipbot-nginx-workers: <pids>``. With ``drain`` the command then waits until nginx no longer sends
    ``from_colour`` anything (:func:`drain_wait`, ``sha``: what ``to_colour`` answers), bounded by
    ``drain_timeout``, and prints :data:`DRAINED` or :data:`NOT_DRAINED` (the exit status stays 0: traffic moved).
    """
    f = upstream_path(hc.deploy_to, hc.upstream_file)
    staying = f"traffic stays on {from_colour}" if from_colour else "traffic was not moved"
    env = remote.exports({"SHIPBOT_DEPLOY_TO": hc.deploy_to})
    restore = 'if [ -e "$bak" ]; then mv -f "$bak" "$f"; else rm -f "$f"; fi'
    why = (
        "why=$(printf '%s\\n' \"$out\" | grep -m 1 -E '\\[(emerg|alert|crit|error)\\]' "
        "|| printf '%s\\n' \"$out\" | tail -n 1)"
    )
    return (
        f'{env}f={q(f)}; tmp="$f.shipbot-new"; bak="$f.shipbot-old"; '
        f'mkdir -p "$(dirname "$f")" && printf \'%s\' {q(content)} > "$tmp" && '
        f'{{ if [ -e "$f" ]; then cp -p "$f" "$bak"; else rm -f "$bak"; fi; }} && mv -f "$tmp" "$f" || exit 3; '
        f"if ! out=$({{ {hc.nginx_test}\n}} 2>&1); then {restore}; {why}; "
        f'echo {q(f"nginx config test failed, {staying}:")} "$why" >&2; exit 4; fi; '
        + (f'{nginx_workers(hc.pid_file)}; echo "{WORKERS}$old"; ' if hc.pid_file else "")
        + f"if ! out=$({{ {hc.nginx_reload}\n}} 2>&1); then {restore}; {why}; "
        f'echo {q(f"nginx reload failed, {staying}:")} "$why" >&2; exit 5; fi; '
        f'rm -f "$bak"; echo {q(f"traffic now goes to {to_colour}")}'
        + (f"; {drain_wait(hc, from_colour, sha)}" if drain and from_colour else "")
    )


WORKERS = "shipbot-nginx-workers:"
DRAINED = "shipbot-drained"
NOT_DRAINED = "shipbot-not-drained:"
DRAIN_ANSWERS = 5  # consecutive answers from the colour that stays, when no pid file shows nginx's workers


def nginx_workers(pid_file: str) -> str:
    """Shell that sets ``master`` (the pid in nginx's pid file, or empty) and ``old`` (its children now, read
    from ``/proc/<pid>/stat``: the workers a reload will replace)."""
    return (
        f"master=$(cat {q(pid_file)} 2>/dev/null); case \"$master\" in ''|*[!0-9]*) master='';; esac; old=''; "
        'if [ -n "$master" ]; then for s in /proc/[0-9]*/stat; do '
        '{ read -r l < "$s"; } 2>/dev/null || continue; set -f; set -- ${l##*) }; set +f; '
        'if [ "$2" = "$master" ]; then p=${s#/proc/}; old="$old ${p%/stat}"; fi; done; fi'
    )


def known_workers(pid_file: str, pids: tuple[int, ...]) -> str:
    """Shell that sets ``master`` and ``old`` as :func:`nginx_workers` found them earlier (a scheduled stop)."""
    listed = "".join(f" {int(p)}" for p in pids)
    return f"master=$(cat {q(pid_file)} 2>/dev/null); old={q(listed)}"


def drain_wait(hc: HostColours, leaving: str, sha: str) -> str:
    """Shell that waits until nginx sends ``leaving`` nothing more, at most ``drain_timeout`` seconds, then prints
    :data:`DRAINED` (``left`` empty) or :data:`NOT_DRAINED` and why (``left`` set). Runs after a reload.

    With ``master`` and ``old`` set (:func:`nginx_workers` before the reload): until none of ``old`` is still a
    child of ``master`` (a worker lingers while it holds connections; once it exited, nothing it accepted can
    reach the old upstream). Otherwise: until :data:`DRAIN_ANSWERS` answers in a row through nginx
    (``verify_url``, headers and body) contain ``sha``, the version of the colour that stays.
    """
    timeout = max(1, math.ceil(hc.drain_timeout))
    url, t = q(hc.verify_url), f"{hc.verify_timeout:g}"
    gone = q(f"nginx still sent traffic to {leaving} after {timeout}s ({leaving} left running):")
    return (
        'draining() { for p in $old; do { read -r l < "/proc/$p/stat"; } 2>/dev/null || continue; '
        'set -f; set -- ${l##*) }; set +f; if [ "$2" = "$master" ]; then return 0; fi; done; return 1; }; '
        f'end=$(( $(date +%s) + {timeout} )); left=""; '
        'if [ -n "$master" ] && [ -n "$old" ]; then '
        'while draining && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done; '
        'if draining; then left="workers$old of nginx $master are still running"; fi; '
        f"else n=0; left={q(f'fewer than {DRAIN_ANSWERS} answers in a row from the colour that stays')}; "
        'while [ "$(date +%s)" -lt "$end" ]; do '
        f"if got=$(curl -fsS --max-time {t} -D - {url} 2>/dev/null); then "
        f'case "$got" in *{q(sha)}*) n=$((n+1));; *) n=0;; esac; else n=0; fi; '
        f'if [ "$n" -ge {DRAIN_ANSWERS} ]; then left=""; break; fi; sleep 0.05; done; fi; '
        f'if [ -z "$left" ]; then echo {DRAINED}; else echo {NOT_DRAINED} {gone} "$left"; fi'
    )


def parse_workers(output: str) -> tuple[int, ...]:
    """The nginx worker pids :func:`swap` listed before its reload (none without a pid file)."""
    for line in output.splitlines():
        if line.startswith(WORKERS):
            return tuple(int(p) for p in line[len(WORKERS) :].split() if p.isdigit())
    return ()


def drained(output: str) -> bool:
    """Whether :func:`swap` with ``drain`` (or :func:`schedule_stop`) saw nginx stop sending the colour traffic."""
    return DRAINED in output.splitlines()


def verify(hc: HostColours, sha: str) -> str:
    """Ask through nginx until the new SHA answers (in the body, or in the configured header)
    :data:`DRAIN_ANSWERS` times in a row, asked at once one after another: right after a reload nginx's old
    workers may still take a connection to the colour that was live (and that keeps running with ``keep_old``),
    so one answer is not yet what every visitor gets. An answer of anything else starts the count again after
    ``verify_interval``; ``verify_retries`` such answers fail the step."""
    url = q(hc.verify_url)
    t = f"{hc.verify_timeout:g}"
    if hc.verify_expect == "header":
        ask = (
            f"got=$(curl -sS --max-time {t} -o /dev/null -D - {url} 2>&1 | tr -d '\\r' "
            f"| grep -i -m 1 {q('^' + hc.verify_header + ':')} || true)"
        )
        what = f"header {hc.verify_header} of {hc.verify_url}"
    else:
        ask = f"got=$(curl -sS --max-time {t} {url} 2>&1 | head -c 300)"
        what = hc.verify_url
    msg = q(f"{what} did not answer with {sha[:12]} after {hc.verify_retries} tries; last answer:")
    return (
        f'i=0; n=0; while :; do {ask}; case "$got" in *{q(sha)}*) n=$((n+1)); '
        f"if [ $n -ge {DRAIN_ANSWERS} ]; then exit 0; fi; continue;; esac; n=0; "
        f"i=$((i+1)); if [ $i -ge {int(hc.verify_retries)} ]; then "
        f"echo {msg} \"$(printf '%s' \"$got\" | tr '\\n' ' ' | head -c 200)\" >&2; exit 1; fi; "
        f"sleep {hc.verify_interval:g}; done"
    )


def set_live(deploy_to: str, colour: str, release: str | None) -> str:
    """Swap the labels: ``.shipbot/live`` names the colour, ``current`` points at its release (both atomic)."""
    path = live_file(deploy_to)
    tmp = path + ".tmp"
    return (
        f"mkdir -p {q(posixpath.dirname(path))} && printf '%s\\n' {q(colour)} > {q(tmp)} && mv -f {q(tmp)} {q(path)}"
        f" && {remote.switch(deploy_to, release)}"
    )


def clear_live(deploy_to: str) -> str:
    """Back to no live colour (a host that had none before a failed first deploy)."""
    return f"rm -f {q(live_file(deploy_to))} && {remote.switch(deploy_to, None)}"


def schedule_stop(
    hc: HostColours, colour: str, after: float, env: Mapping[str, str], command: str, drain: str = ""
) -> str:
    """After ``after`` seconds, stop the colour's app on the host itself, unless by then it is live again or
    another run started it (its ``.shipbot/<colour>.run`` changed), and (``drain``: a :func:`drain_wait` with its
    ``master``/``old`` set) only once nginx sends it nothing more. Detached: the SSH session ends at once."""
    deploy_to = hc.deploy_to
    live, run = q(live_file(deploy_to)), q(run_file(deploy_to, colour))
    body = (
        f"token=$(cat {run} 2>/dev/null); sleep {after:g}; "
        f'test "$(cat {live} 2>/dev/null)" != {q(colour)} && test "$(cat {run} 2>/dev/null)" = "$token" && '
        + (f'{{ {drain}; }} && test -z "$left" && ' if drain else "")
        + f"{{ {stop(deploy_to, colour, env, command)}; }}"
    )
    return f"nohup sh -c {q(body)} </dev/null >/dev/null 2>&1 &"
