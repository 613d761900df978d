"""Previews per branch, the pure parts: a branch's preview name, the port it gets, its nginx server block, and the
plan of one preview (pure).

A preview of branch ``demo/xyz`` is named ``demo-xyz``: the branch lowercased, every run of characters other than
``a-z``/``0-9`` turned into one ``-``, ``-`` trimmed from both ends. The name is a host name label and a folder
name, so it is at most :data:`MAX_NAME` characters: a longer one is cut and gets ``-`` and a short hash of the full
branch name appended, and so does a name another branch's preview already has. A branch that could not make a safe
name is refused before anything runs (:func:`branch_problem`).

Hosts hold a preview in ``<deploy_to>/previews/<name>/`` with the release layout of a deploy (``releases/``,
``current``, ``shared/``), and nginx gets ``<sites_dir>/<app>.<name>.conf``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from deploy.config.models import Config, Previews
from deploy.config.preview_section import listen_address
from deploy.delivery.refs import ref_problem
from deploy.errors import UsageError
from deploy.hosts import remote
from deploy.run.plan import Host

q = remote.q
MAX_NAME = 63  # one DNS label
HASH_LENGTH = 8
NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_OTHER = re.compile(r"[^a-z0-9]+")
_URL_PATH = re.compile(r"https?://[^/\s'\"]+(/[A-Za-z0-9._~/?=&%+-]*)")


class PreviewRefused(UsageError):
    """The preview cannot be made or changed; ``str()`` says why and what to do. Nothing changed on any host."""


def branch_problem(branch: str) -> str | None:
    """Why ``branch`` cannot get a preview (its name would make an unsafe host name or path), or None."""
    problem = ref_problem(branch)
    if problem is None and not _OTHER.sub("", branch.lower()):
        problem = "it has no letter or digit to name the preview after"
    if problem is None:
        return None
    shown = branch if branch.isascii() and branch.isprintable() and len(branch) <= 80 else repr(branch[:80])
    return (
        f"branch `{shown}` cannot get a preview: {problem}. Its name becomes a host name and a folder on the preview "
        "hosts; push a branch named like `demo/my-change`"
    )


def preview_name(branch: str, taken: Mapping[str, str] | None = None) -> str:
    """The preview name of ``branch``; ``taken`` maps the names of other previews (of the same app) to their
    branch, so two branches never share one. Raises :class:`PreviewRefused` for a branch :func:`branch_problem`
    refuses."""
    problem = branch_problem(branch)
    if problem:
        raise PreviewRefused(problem)
    base = _OTHER.sub("-", branch.lower()).strip("-")
    digest = hashlib.sha256(branch.encode()).hexdigest()[:HASH_LENGTH]
    hashed = f"{base[: MAX_NAME - HASH_LENGTH - 1].rstrip('-')}-{digest}"
    others = {n: b for n, b in (taken or {}).items() if b != branch}
    name = base if len(base) <= MAX_NAME and base not in others else hashed
    if name in others:
        raise PreviewRefused(f"branch `{branch}` would get the preview name {name}, which {others[name]} has")
    return name


def matches_branches(previews: Previews, branch: str) -> bool:
    """Does a push of ``branch`` make a preview (``previews.branches`` globs; ``*`` matches across ``/``)?"""
    return any(fnmatch.fnmatchcase(branch, glob) for glob in previews.branches)


def choose_port(first: int, last: int, used: Collection[int]) -> int | None:
    """The lowest port of ``first``-``last`` no preview uses, or None when every one is taken."""
    return next((p for p in range(first, last + 1) if p not in used), None)


def host_name(name: str, domain: str) -> str:
    return f"{name}.{domain}"


def url(name: str, domain: str) -> str:
    return f"http://{host_name(name, domain)}/"


def server_block(app: str, name: str, domain: str, listen: str, port: int, extra: Sequence[str] = ()) -> str:
    """The nginx server block of one preview: ``<name>.<domain>`` proxied to its app on 127.0.0.1:``port``."""
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a preview name")
    lines = [
        f"# shipbot preview {name} of {app}: written and removed by shipbot, do not edit",
        "server {",
        f"    listen {listen};",
        f"    server_name {host_name(name, domain)};",
        "    location / {",
        f"        proxy_pass http://127.0.0.1:{int(port)};",
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "    }",
        *(f"    {line}" for line in extra),
        "}",
    ]
    return "\n".join(lines) + "\n"


def health_path(config: Config) -> str:
    """``previews.health_path``, else the path of the URL in ``pipeline.healthcheck.run``, else ``/``."""
    assert config.previews is not None
    if config.previews.health_path:
        return config.previews.health_path
    run = config.pipeline.healthcheck.run if config.pipeline.healthcheck else ""
    found = _URL_PATH.search(run)
    return found.group(1) if found else "/"


# -- the plan ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewPlan:
    """What making or updating one preview does on its hosts (commands built by the functions below)."""

    app: str
    name: str
    branch: str
    sha: str
    release: str
    port: int
    hosts: tuple[Host, ...]
    host_name: str
    block: str
    env: Mapping[str, str] = field(default_factory=dict)

    def folder(self, host: Host) -> str:
        return preview_dir(host.deploy_to, self.name)


def preview_hosts(config: Config) -> tuple[Host, ...]:
    assert config.previews is not None
    ssh = config.ssh
    return tuple(
        Host(h.address, h.port or ssh.port, h.user or ssh.user, h.deploy_to or config.deploy_to, tuple(h.roles))
        for h in config.previews.hosts
    )


def plan_preview(
    config: Config, name: str, branch: str, sha: str, release: str, port: int, user: str, secrets: Collection[str] = ()
) -> PreviewPlan:
    previews = config.previews
    assert previews is not None
    env = {
        **config.env,
        **dict.fromkeys(secrets, remote.SECRET),
        "SHIPBOT_APP": config.app,
        "SHIPBOT_ENV": "preview",
        "SHIPBOT_PREVIEW": name,
        "SHIPBOT_BRANCH": branch,
        "SHIPBOT_RELEASE": release,
        "SHIPBOT_SHA": sha,
        "SHIPBOT_USER": user,
        "SHIPBOT_PORT": str(port),
    }
    block = server_block(config.app, name, previews.domain, previews.nginx.listen, port, previews.nginx.extra)
    hosts, site = preview_hosts(config), host_name(name, previews.domain)
    return PreviewPlan(config.app, name, branch, sha, release, port, hosts, site, block, env)


# -- commands on a preview host (every value quoted; the operator's own commands run as written) -----------------

REJECTED = 4  # the exit status of :func:`write_site` when nginx's test refused the new block
REJECTED_MARK = "shipbot: nginx rejected the preview's server block"


def preview_dir(deploy_to: str, name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a preview name")
    return posixpath.join(deploy_to, "previews", name)


def site_path(sites_dir: str, app: str, name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a preview name")
    return posixpath.join(sites_dir, f"{app}.{name}.conf")


def write_site(path: str, block: str, test: str, env: Mapping[str, str]) -> str:
    """Write the server block (the old one kept aside), run nginx's test; when the test fails, put the old block
    back (or remove the new one), print nginx's words and exit :data:`REJECTED`."""
    f, old, new = q(path), q(path + ".shipbot-old"), q(path + ".shipbot-new")
    return (
        f"mkdir -p {q(posixpath.dirname(path))} && rm -f {old} && {{ test ! -e {f} || cp -p {f} {old}; }} && "
        f"printf '%s' {q(block)} > {new} && mv -f {new} {f} && "
        f"if out=$({{ {remote.exports(env)}{test}; }} 2>&1); then rm -f {old}; else "
        f"{{ test -e {old} && mv -f {old} {f}; }} || rm -f {f}; "
        f"printf '%s\\n%s\\n' {q(REJECTED_MARK)} \"$out\" >&2; exit {REJECTED}; fi"
    )


def remove_site(path: str) -> str:
    return f"rm -f {q(path)} {q(path + '.shipbot-new')} {q(path + '.shipbot-old')}"


def in_dir(directory: str, env: Mapping[str, str], command: str) -> str:
    """An operator command (restart, reload, ...) run in ``directory`` with ``env`` exported."""
    return f"cd {q(directory)} && {remote.exports(env)}{command}"


def prepare(plan: PreviewPlan, host: Host, config: Config) -> str:
    """The layout, the shared files seeded from the app's own ``shared/`` (first time only), and an empty release
    ready for the code (``upload``: unpacked from standard input; ``git``: fetched by the host)."""
    base = plan.folder(host)
    files = config.shared.files
    seed = []
    for f in files:
        ours, theirs = posixpath.join(base, "shared", f), posixpath.join(host.deploy_to, "shared", f)
        seed.append(
            f"{{ test -e {q(ours)} || {{ mkdir -p {q(posixpath.dirname(ours))} && "
            f"cp -p {q(theirs)} {q(ours)} 2>/dev/null; }} || true; }}"
        )
    setup = remote.setup(base, plan.release, config.shared.dirs, files)
    code = (
        remote.unpack(base, plan.release)
        if config.pipeline.transfer == "upload"
        else remote.git_fetch(base, plan.release, config.repo, plan.sha)
    )
    finish = remote.finish_release(base, plan.release, plan.sha, config.shared.dirs, files)
    return " && ".join([f"mkdir -p {q(posixpath.join(base, 'shared'))}", *seed, setup, code, finish])


def stop(base: str, env: Mapping[str, str], stop_command: str | None, grace: float = 5.0) -> str:
    """Stop the preview's app: the operator's ``stop`` (if any) in ``current``, then TERM, and after ``grace``
    seconds KILL, every process of this user whose working directory is inside ``base``."""
    d = q(base)
    own = ""
    if stop_command:
        # in a subshell: the scan below must not find this shell inside the folder
        own = f"( cd {q(base + '/current')} 2>/dev/null && {remote.exports(env)}{stop_command} ) || true; "
    # one find lists every process's working directory (a readlink per process costs a fork each: seconds)
    scan = (
        "pids() { find /proc -mindepth 2 -maxdepth 2 -name cwd -path '/proc/[0-9]*/cwd' -printf '%h %l\\n' "
        f'2>/dev/null | while read -r p c; do case "$c" in {d}|{d}/*) echo "${{p#/proc/}}";; esac; done; }}; '
    )
    tries = max(1, int(grace / 0.1))
    return (
        f"cd / && {own}{scan}"
        'for pid in $(pids); do kill -s TERM "$pid" 2>/dev/null; done; '
        f'n=0; while [ -n "$(pids)" ] && [ $n -lt {tries} ]; do sleep 0.1; n=$((n+1)); done; '
        'for pid in $(pids); do kill -s KILL "$pid" 2>/dev/null; done; true'
    )


def switch(base: str, release: str) -> str:
    return remote.switch(base, release)


def health(listen: str, host: str, path: str) -> str:
    """One HTTP request to nginx on the preview host with the preview's Host header; fails unless it answers 2xx/3xx."""
    address, port = listen_address(listen)
    target = q(f"http://{address}:{port}{path}")
    return (
        "command -v curl >/dev/null || { echo 'curl is missing on the preview host: previews are checked through "
        "nginx with curl' >&2; exit 127; }; "
        f"curl -sS -o /dev/null --max-time 5 -w '%{{http_code}}' -H {q('Host: ' + host)} {target} "
        '| { read -r code; echo "HTTP $code"; case $code in 2??|3??) exit 0;; *) exit 1;; esac; }'
    )


def keep_releases(base: str, keep: int = 2) -> str:
    """Remove all but the newest ``keep`` releases of a preview, never the one ``current`` points to."""
    rel = q(posixpath.join(base, "releases"))
    cur = q(posixpath.join(base, "current"))
    return (
        f"cd {rel} 2>/dev/null || exit 0; live=$(readlink -f {cur} 2>/dev/null || true); "
        f"ls -1 | sort -r | tail -n +{int(keep) + 1} | while read -r r; do "
        '[ "$(readlink -f "$r")" = "$live" ] || rm -rf -- "$r"; done'
    )


def remove_release(base: str, release: str) -> str:
    return f"rm -rf {q(remote.release_dir(base, release))}"


def remove_folder(base: str) -> str:
    """Delete the whole preview folder (only ever a ``.../previews/<name>`` path)."""
    if posixpath.basename(posixpath.dirname(base)) != "previews" or not NAME.fullmatch(posixpath.basename(base)):
        raise ValueError(f"{base!r} is not a preview folder")
    return f"rm -rf {q(base)}"
