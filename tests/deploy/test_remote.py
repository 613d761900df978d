"""deploy.hosts.remote: the exact command lines run on hosts, and that hostile values reach the shell only quoted.

The quoting tests run the built commands with the real ``/bin/sh`` in a temporary directory and look at the files,
symlinks and output they leave; any unquoted ``$(touch pwned)``, backtick, ``;``, ``&&`` or ``>`` would leave a
file named ``pwned`` behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.hosts import journal, remote
from tests.support.gitrepo import make_app_repo

SHA = "0123456789abcdef0123456789abcdef01234567"

# Values that would run a command, split a word or expand if they reached the shell unquoted. Each is usable as a
# single path component (no '/' and no NUL).
HOSTILE = [
    pytest.param("my app", id="space"),
    pytest.param("it's", id="single-quote"),
    pytest.param('say "hi"', id="double-quote"),
    pytest.param("$(touch pwned)", id="command-substitution"),
    pytest.param("`touch pwned`", id="backticks"),
    pytest.param("x;touch pwned", id="semicolon"),
    pytest.param("a\nb;touch pwned", id="newline"),
    pytest.param("a&&touch pwned||b", id="and-or"),
    pytest.param("x > pwned", id="redirect"),
    pytest.param("$HOME", id="variable"),
    pytest.param("*", id="glob"),
    pytest.param("-rf", id="option-like"),
    pytest.param("#comment", id="comment"),
    pytest.param("tab\there", id="tab"),
]


def run_sh(
    command: str, cwd: Path, stdin: bytes | None = None, shell: str = "/bin/sh"
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` with /bin/sh in ``cwd``; HOME points into the sandbox so ``$HOME`` expands harmlessly."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "LC_ALL": "C",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run([shell, "-c", command], cwd=cwd, env=env, input=stdin, capture_output=True, check=False)


def ok(result: subprocess.CompletedProcess[bytes]) -> tuple[int, str]:
    return result.returncode, result.stderr.decode()


def pwned(root: Path) -> list[Path]:
    """Files a command injection would have created."""
    return sorted(p for p in root.rglob("*") if p.name == "pwned")


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    return path


def tar_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# -- exact command lines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        pytest.param(remote.releases_dir("/srv/shop"), "/srv/shop/releases", id="releases-dir"),
        pytest.param(
            remote.release_dir("/srv/shop", "20261123090000"), "/srv/shop/releases/20261123090000", id="release-dir"
        ),
        pytest.param(remote.journal_path("/srv/shop"), "/srv/shop/.shipbot/journal.jsonl", id="journal-path"),
        pytest.param(remote.exports({}), "", id="exports-nothing"),
        pytest.param(
            remote.exports({"A": "x y", "B": "$(id)", "C": "it's"}),
            "export A='x y' B='$(id)' C='it'\"'\"'s'; ",
            id="exports-quoted",
        ),
        pytest.param(
            remote.probe("/srv/shop"),
            "t=$(readlink /srv/shop/current 2>/dev/null) && t=${t%/} && printf '%s\\n' \"${t##*/}\" || echo -; "
            "cat /srv/shop/current/REVISION 2>/dev/null || echo -",
            id="probe",
        ),
        pytest.param(
            remote.probe("/srv/my app"),
            "t=$(readlink '/srv/my app/current' 2>/dev/null) && t=${t%/} && printf '%s\\n' \"${t##*/}\" || echo -; "
            "cat '/srv/my app/current'/REVISION 2>/dev/null || echo -",
            id="probe-quoted",
        ),
        pytest.param(
            remote.setup("/srv/shop", "r1", [], []),
            "mkdir -p /srv/shop/releases /srv/shop/shared /srv/shop/.shipbot && "
            "{ test ! -e /srv/shop/releases/r1 || { printf '%s\\n' 'release /srv/shop/releases/r1 already exists' >&2; exit 3; }; }",
            id="setup",
        ),
        pytest.param(
            remote.setup("/srv/my app", "r1", ["log"], [".env"]),
            "mkdir -p '/srv/my app/releases' '/srv/my app/shared' '/srv/my app/.shipbot' '/srv/my app/shared/log' && "
            "{ test -e '/srv/my app/shared/.env' || "
            "{ printf '%s\\n' 'shared file /srv/my app/shared/.env is missing: create it on the host' >&2; exit 3; }; } && "
            "{ test ! -e '/srv/my app/releases/r1' || "
            "{ printf '%s\\n' 'release /srv/my app/releases/r1 already exists' >&2; exit 3; }; }",
            id="setup-with-shared",
        ),
        pytest.param(
            remote.unpack("/srv/shop", "r1"),
            "mkdir -p /srv/shop/releases/r1 && tar -x -f - -C /srv/shop/releases/r1",
            id="unpack",
        ),
        pytest.param(
            remote.git_fetch("/srv/shop", "r1", "git@example.com:acme/shop.git", SHA),
            "{ test -d /srv/shop/.shipbot/repo || "
            "git clone --quiet --mirror git@example.com:acme/shop.git /srv/shop/.shipbot/repo; } && "
            "git -C /srv/shop/.shipbot/repo remote set-url origin git@example.com:acme/shop.git && "
            "git -C /srv/shop/.shipbot/repo fetch --quiet --prune origin "
            "'+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' && "
            f"test \"$(git -C /srv/shop/.shipbot/repo rev-parse --verify --quiet '{SHA}^{{commit}}')\" = {SHA} && "
            "mkdir -p /srv/shop/releases/r1 && "
            f"git -C /srv/shop/.shipbot/repo archive --format=tar {SHA} | tar -x -f - -C /srv/shop/releases/r1",
            id="git-fetch",
        ),
        pytest.param(
            remote.finish_release("/srv/shop", "r1", SHA, [], []),
            f"printf '%s\\n' {SHA} > /srv/shop/releases/r1/REVISION && "
            f'test "$(cat /srv/shop/releases/r1/REVISION)" = {SHA}',
            id="finish-release",
        ),
        pytest.param(
            remote.finish_release("/srv/shop", "r1", SHA, ["log"], ["config/db.yml"]),
            f"printf '%s\\n' {SHA} > /srv/shop/releases/r1/REVISION && "
            "mkdir -p /srv/shop/releases/r1 && rm -rf /srv/shop/releases/r1/log && "
            "ln -s /srv/shop/shared/log /srv/shop/releases/r1/log && "
            "mkdir -p /srv/shop/releases/r1/config && rm -rf /srv/shop/releases/r1/config/db.yml && "
            "ln -s /srv/shop/shared/config/db.yml /srv/shop/releases/r1/config/db.yml && "
            f'test "$(cat /srv/shop/releases/r1/REVISION)" = {SHA}',
            id="finish-release-with-shared",
        ),
        pytest.param(
            remote.in_release("/srv/shop", "r1", {"SHIPBOT_USER": "U0 'A'"}, "make && make install"),
            "cd /srv/shop/releases/r1 && export SHIPBOT_USER='U0 '\"'\"'A'\"'\"''; make && make install",
            id="in-release",
        ),
        pytest.param(
            remote.in_release("/srv/shop", "r1", {}, "make"), "cd /srv/shop/releases/r1 && make", id="in-release-no-env"
        ),
        pytest.param(
            remote.in_current("/srv/shop", {"X": "1"}, "./task"),
            "{ cd /srv/shop/current 2>/dev/null || cd /srv/shop; } && export X=1; ./task",
            id="in-current",
        ),
        pytest.param(
            remote.verify("/srv/shop", "r1", SHA),
            f'test "$(cat /srv/shop/releases/r1/REVISION 2>/dev/null)" = {SHA}',
            id="verify",
        ),
        pytest.param(
            remote.switch("/srv/shop", "r1"),
            "test -d /srv/shop/releases/r1 && ln -sfn releases/r1 /srv/shop/.current.r1.tmp && "
            "mv -Tf /srv/shop/.current.r1.tmp /srv/shop/current",
            id="switch",
        ),
        pytest.param(remote.switch("/srv/shop", None), "rm -f /srv/shop/current", id="switch-to-nothing"),
        pytest.param(
            remote.append_journal("/srv/shop", '{"a":"b c"}'),
            "mkdir -p /srv/shop/.shipbot && printf '%s\\n' '{\"a\":\"b c\"}' >> /srv/shop/.shipbot/journal.jsonl",
            id="append-journal",
        ),
        pytest.param(
            remote.read_journal("/srv/shop"),
            "cat /srv/shop/.shipbot/journal.jsonl 2>/dev/null || true",
            id="read-journal",
        ),
        pytest.param(
            remote.list_releases("/srv/shop"), "ls -1 /srv/shop/releases 2>/dev/null || true", id="list-releases"
        ),
        pytest.param(remote.remove_releases("/srv/shop", []), "true", id="remove-nothing"),
        pytest.param(
            remote.remove_releases("/srv/shop", ["r1", "r 2"]),
            "live=$(readlink -f /srv/shop/current 2>/dev/null || true); "
            "for r in /srv/shop/releases/r1 '/srv/shop/releases/r 2'; do "
            'if [ -n "$live" ] && [ "$(readlink -f "$r" 2>/dev/null)" = "$live" ]; then continue; fi; rm -rf "$r"; done',
            id="remove-releases",
        ),
        pytest.param(
            remote.mark_failed("/srv/shop", "r1"),
            "touch /srv/shop/releases/r1/.shipbot-failed 2>/dev/null || true",
            id="mark-failed",
        ),
        pytest.param(remote.kill_group(4242), "kill -s TERM -- -4242 2>/dev/null || true", id="kill-group"),
        pytest.param(
            remote.kill_group(4242, "KILL"), "kill -s KILL -- -4242 2>/dev/null || true", id="kill-group-signal"
        ),
        pytest.param(
            remote.with_pgid("echo 'hi'", posix_login_shell=False),
            "echo shipbot-pgid:$$; exec sh -c 'read -r shipbot_go || exit 1; echo '\"'\"'hi'\"'\"''",
            id="with-pgid-other-shell",
        ),
        pytest.param(
            remote.with_pgid("echo 'hi'"),
            "echo shipbot-pgid:$$; read -r shipbot_go || exit 1; echo 'hi'",
            id="with-pgid",
        ),
    ],
)
def test_commands_are_exactly_these_lines(built: str, expected: str) -> None:
    assert expected == built


_ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
# Release ids come from new_release_id or from `ls -1 releases`, so never start with '/' (posixpath.join would then
# drop deploy_to: see the report on release_dir).
_RELEASE_TEXT = _ANY_TEXT.filter(lambda r: r not in ("", ".", "..") and "/" not in r)


@given(_RELEASE_TEXT)
def test_any_release_id_is_one_shell_word_in_switch(release: str) -> None:
    rel = f"/srv/shop/releases/{release}"
    tmp = f"/srv/shop/.current.{release}.tmp"
    expected = [
        "test",
        "-d",
        rel,
        "&&",
        "ln",
        "-sfn",
        f"releases/{release}",
        tmp,
        "&&",
        "mv",
        "-Tf",
        tmp,
        "/srv/shop/current",
    ]
    assert expected == shlex.split(remote.switch("/srv/shop", release))


@given(st.lists(_RELEASE_TEXT.filter(bool), max_size=4))
def test_any_release_ids_are_separate_shell_words_when_removed(releases: list[str]) -> None:
    command = remote.remove_releases("/srv/shop", releases)
    words = shlex.split(command.partition(" for r in ")[2].partition("; do ")[0]) if releases else [command]
    assert ([f"/srv/shop/releases/{r}" for r in releases] or ["true"]) == words


@settings(max_examples=40, deadline=None)
@given(_ANY_TEXT)
def test_any_exported_value_reaches_the_command_unchanged(tmp_path_factory: pytest.TempPathFactory, value: str) -> None:
    cwd = tmp_path_factory.mktemp("exports")
    result = run_sh(remote.exports({"V": value}) + "printf '%s' \"$V\"", cwd)
    assert (0, value, []) == (result.returncode, result.stdout.decode(), pwned(cwd))


@settings(max_examples=40, deadline=None)
@given(_ANY_TEXT)
def test_any_secret_reaches_the_command_from_standard_input_and_never_its_command_line(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    cwd = tmp_path_factory.mktemp("secrets")
    command = remote.exports({"RUN": "r1", "TOKEN": remote.SECRET}) + 'printf \'%s|%s\' "$RUN" "$TOKEN"'
    result = run_sh(command, cwd, stdin=remote.secrets_input({"TOKEN": value}))
    assert (0, f"r1|{value}", []) == (result.returncode, result.stdout.decode(), pwned(cwd))
    assert "\0" not in command and remote.READ_SECRETS in command


def test_secret_input_refuses_a_name_that_is_not_a_shell_variable() -> None:
    with pytest.raises(ValueError, match="is not a shell variable name"):
        remote.secrets_input({"A;touch pwned": "x"})


# -- setup ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_setup_creates_the_layout_and_shared_dirs_under_any_path(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    result = run_sh(remote.setup(str(deploy_to), "r1", [name, f"nested/{name}"], []), cwd)
    made = sorted(str(p.relative_to(deploy_to)) for p in deploy_to.rglob("*"))
    expected = sorted([".shipbot", "releases", "shared", f"shared/{name}", "shared/nested", f"shared/nested/{name}"])
    assert ((0, ""), expected, []) == (ok(result), made, pwned(cwd.parent))


@pytest.mark.parametrize("name", HOSTILE)
def test_setup_fails_naming_a_missing_shared_file(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    (deploy_to / "shared").mkdir(parents=True)
    (deploy_to / "shared" / "present.yml").touch()
    result = run_sh(remote.setup(str(deploy_to), "r1", [], ["present.yml", f"config/{name}"]), cwd)
    missing = f"{deploy_to}/shared/config/{name}"
    expected = (3, f"shared file {missing} is missing: create it on the host\n")
    assert (expected, False, []) == (ok(result), (deploy_to / "releases" / "r1").exists(), pwned(cwd.parent))


def test_setup_passes_when_every_shared_file_exists(cwd: Path) -> None:
    deploy_to = cwd.parent / "srv"
    (deploy_to / "shared" / "config").mkdir(parents=True)
    (deploy_to / "shared" / "config" / "db.yml").touch()
    (deploy_to / "shared" / ".env").symlink_to("config/db.yml")
    assert (0, "") == ok(run_sh(remote.setup(str(deploy_to), "r1", [], ["config/db.yml", ".env"]), cwd))


def test_setup_names_a_missing_shared_file_whose_path_holds_a_backslash(cwd: Path) -> None:
    deploy_to = cwd.parent / "srv" / "a\\cb"
    result = run_sh(remote.setup(str(deploy_to), "r1", [], ["x\\ny"]), cwd)
    assert (3, f"shared file {deploy_to}/shared/x\\ny is missing: create it on the host\n") == ok(result)


@pytest.mark.parametrize("name", HOSTILE)
def test_setup_refuses_a_release_that_already_exists(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    (deploy_to / "releases" / name).mkdir(parents=True)
    result = run_sh(remote.setup(str(deploy_to), name, [], []), cwd)
    assert ((3, f"release {deploy_to}/releases/{name} already exists\n"), []) == (ok(result), pwned(cwd.parent))


# -- unpack and git fetch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_unpack_extracts_the_archive_from_stdin_into_the_release(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    result = run_sh(remote.unpack(str(deploy_to), name), cwd, stdin=tar_of({"VERSION": "v1\n", "bin/run": "go"}))
    rel = deploy_to / "releases" / name
    files = {str(p.relative_to(rel)): p.read_text() for p in rel.rglob("*") if p.is_file()}
    assert ((0, ""), {"VERSION": "v1\n", "bin/run": "go"}, []) == (ok(result), files, pwned(cwd.parent))


@pytest.mark.parametrize(
    "name",
    [pytest.param("my app $(touch pwned)", id="substitution"), pytest.param("it's;touch pwned", id="quote-semicolon")],
)
def test_git_fetch_exports_exactly_the_pinned_commit_from_the_hosts_cache(cwd: Path, name: str) -> None:
    repo = make_app_repo(cwd.parent / f"repo {name}")
    deploy_to = cwd.parent / "srv" / name
    v1, v2 = repo.sha("main"), repo.sha("feature/new-login")
    first = run_sh(remote.git_fetch(str(deploy_to), "r1", str(repo.path), v1), cwd)
    second = run_sh(remote.git_fetch(str(deploy_to), "r2", str(repo.path), v2), cwd)
    versions = [(deploy_to / "releases" / r / "VERSION").read_text() for r in ("r1", "r2")]
    assert ((0, ""), (0, ""), ["v1\n", "v2\n"], []) == (ok(first), ok(second), versions, pwned(cwd.parent))


@pytest.mark.parametrize(
    "wanted",
    [
        pytest.param("main", id="branch-name"),
        pytest.param("short", id="abbreviated-sha"),
        pytest.param("0" * 40, id="unknown-sha"),
    ],
)
def test_git_fetch_refuses_anything_but_a_full_known_sha(cwd: Path, wanted: str) -> None:
    repo = make_app_repo(cwd.parent / "repo")
    if wanted == "short":
        wanted = repo.sha("main")[:10]
    deploy_to = cwd.parent / "srv"
    if wanted != "0" * 40:  # not a full commit id: refused before any command is built
        with pytest.raises(ValueError, match="is not a full commit id"):
            remote.git_fetch(str(deploy_to), "r1", str(repo.path), wanted)
        return
    result = run_sh(remote.git_fetch(str(deploy_to), "r1", str(repo.path), wanted), cwd)
    assert (1, False) == (result.returncode, (deploy_to / "releases" / "r1").exists())


@pytest.mark.parametrize("wanted", ["--upload-pack=touch /tmp/x", "-o", "HEAD", "main..x", "A" * 40])
def test_git_fetch_builds_nothing_for_an_option_or_revision_syntax(cwd: Path, wanted: str) -> None:
    with pytest.raises(ValueError, match="is not a full commit id"):
        remote.git_fetch(str(cwd), "r1", "/repo", wanted)


# -- finish_release and verify ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_finish_release_writes_the_revision_and_links_shared_files_and_dirs(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    rel = deploy_to / "releases" / name
    (rel / name).mkdir(parents=True)  # the archive shipped a directory where a shared dir is linked
    (rel / name / "old.log").touch()
    command = remote.finish_release(str(deploy_to), name, name, [name], [f"config/{name}"])
    first = run_sh(command, cwd)
    again = run_sh(command, cwd)
    links = {p: os.readlink(rel / p) for p in (name, f"config/{name}")}
    expected_links = {name: f"{deploy_to}/shared/{name}", f"config/{name}": f"{deploy_to}/shared/config/{name}"}
    assert ((0, ""), (0, ""), f"{name}\n", expected_links, []) == (
        ok(first),
        ok(again),
        (rel / "REVISION").read_text(),
        links,
        pwned(cwd.parent),
    )


@pytest.mark.parametrize(
    ("revision", "wanted", "status"),
    [
        pytest.param(f"{SHA}\n", SHA, 0, id="same-sha"),
        pytest.param(f"{SHA}\n", SHA[:12], 1, id="abbreviated-sha-is-not-enough"),
        pytest.param("fedcba9876543210fedcba9876543210fedcba98\n", SHA, 1, id="other-sha"),
        pytest.param("", SHA, 1, id="empty-revision"),
        pytest.param(None, SHA, 1, id="no-revision-file"),
        pytest.param("$(touch pwned)\n", "$(touch pwned)", 0, id="hostile-value-compared-literally"),
    ],
)
def test_verify_passes_only_when_the_release_holds_exactly_the_sha(
    cwd: Path, revision: str | None, wanted: str, status: int
) -> None:
    deploy_to = cwd.parent / "srv" / "my app"
    rel = deploy_to / "releases" / "r1"
    rel.mkdir(parents=True)
    if revision is not None:
        (rel / "REVISION").write_text(revision)
    result = run_sh(remote.verify(str(deploy_to), "r1", wanted), cwd)
    assert ((status, ""), []) == (ok(result), pwned(cwd.parent))


def test_verify_fails_for_a_release_that_does_not_exist(cwd: Path) -> None:
    assert (1, "") == ok(run_sh(remote.verify(str(cwd.parent / "srv"), "r1", SHA), cwd))


# -- switch -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_switch_points_current_at_the_release_and_leaves_nothing_behind(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    for release in ("20261122170000", name):
        (deploy_to / "releases" / release).mkdir(parents=True)
    first = run_sh(remote.switch(str(deploy_to), "20261122170000"), cwd)
    second = run_sh(remote.switch(str(deploy_to), name), cwd)
    assert ((0, ""), (0, ""), f"releases/{name}", ["current", "releases"], []) == (
        ok(first),
        ok(second),
        os.readlink(deploy_to / "current"),
        sorted(os.listdir(deploy_to)),
        pwned(cwd.parent),
    )


def test_switch_to_a_missing_release_fails_and_keeps_current(cwd: Path) -> None:
    deploy_to = cwd.parent / "srv"
    (deploy_to / "releases" / "r1").mkdir(parents=True)
    run_sh(remote.switch(str(deploy_to), "r1"), cwd)
    result = run_sh(remote.switch(str(deploy_to), "r2"), cwd)
    assert ((1, ""), "releases/r1", ["current", "releases"]) == (
        ok(result),
        os.readlink(deploy_to / "current"),
        sorted(os.listdir(deploy_to)),
    )


@pytest.mark.parametrize("had_current", [pytest.param(True, id="had-current"), pytest.param(False, id="had-none")])
def test_switch_to_no_release_removes_current(cwd: Path, had_current: bool) -> None:
    deploy_to = cwd.parent / "srv" / "my app"
    (deploy_to / "releases" / "r1").mkdir(parents=True)
    if had_current:
        (deploy_to / "current").symlink_to("releases/r1")
    result = run_sh(remote.switch(str(deploy_to), None), cwd)
    assert ((0, ""), ["releases"]) == (ok(result), sorted(os.listdir(deploy_to)))


def test_switching_back_and_forth_never_leaves_current_missing(cwd: Path) -> None:
    deploy_to = cwd.parent / "srv" / "my app"
    for release in ("r1", "r2"):
        (deploy_to / "releases" / release).mkdir(parents=True)
    run_sh(remote.switch(str(deploy_to), "r1"), cwd)
    to_r1, to_r2 = remote.switch(str(deploy_to), "r1"), remote.switch(str(deploy_to), "r2")
    loop = f"i=0; while [ $i -lt 150 ]; do {{ {to_r2}; }} && {{ {to_r1}; }} || exit 1; i=$((i+1)); done"
    proc = subprocess.Popen(["/bin/sh", "-c", loop], cwd=cwd)
    current = deploy_to / "current"
    seen: set[str] = set()
    missing = 0
    while proc.poll() is None:
        try:
            seen.add(os.readlink(current))
        except FileNotFoundError:
            missing += 1
    assert (0, 0, {"releases/r1", "releases/r2"}) == (proc.returncode, missing, seen)


_MUTATING = {"unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2", "symlink", "symlinkat", "link", "linkat"}


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_switch_replaces_current_with_one_rename_and_never_unlinks_it(cwd: Path) -> None:
    deploy_to = cwd.parent / "srv"
    for release in ("r1", "r2"):
        (deploy_to / "releases" / release).mkdir(parents=True)
    (deploy_to / "current").symlink_to("releases/r1")
    trace = cwd.parent / "trace"
    result = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=%file",
            "-o",
            str(trace),
            "/bin/sh",
            "-c",
            remote.switch(str(deploy_to), "r2"),
        ],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 and b"ptrace" in result.stderr:
        pytest.skip("ptrace is not permitted here")
    cur, tmp = f'"{deploy_to}/current"', f'"{deploy_to}/.current.r2.tmp"'
    changes = []
    for line in trace.read_text().splitlines():
        match = re.match(r"\d+\s+(\w+)\((.*)\)\s+= 0$", line)
        if match and match.group(1) in _MUTATING and cur in match.group(2):
            changes.append((match.group(1).removesuffix("2").removesuffix("at"), match.group(2).index(tmp) >= 0))
    assert ((0, ""), [("rename", True)], "releases/r2") == (ok(result), changes, os.readlink(deploy_to / "current"))


# -- probe ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_probe_prints_the_current_release_and_its_revision(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    rel = deploy_to / "releases" / name
    rel.mkdir(parents=True)
    before = run_sh(remote.probe(str(deploy_to)), cwd)
    (deploy_to / "current").symlink_to(f"releases/{name}")
    without_revision = run_sh(remote.probe(str(deploy_to)), cwd)
    (rel / "REVISION").write_text(f"{SHA}\n")
    after = run_sh(remote.probe(str(deploy_to)), cwd)
    assert (b"-\n-\n", f"{name}\n-\n".encode(), f"{name}\n{SHA}\n".encode(), []) == (
        before.stdout,
        without_revision.stdout,
        after.stdout,
        pwned(cwd.parent),
    )


def test_probe_of_a_host_never_deployed_to_says_nothing_is_current(cwd: Path) -> None:
    result = run_sh(remote.probe(str(cwd.parent / "nowhere")), cwd)
    assert (0, b"-\n-\n", b"") == (result.returncode, result.stdout, result.stderr)


# -- journal ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_journal_lines_are_appended_verbatim_and_read_back(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    first = journal.Entry("2026-11-23T09:00:00Z", "deploy", "r1", name, SHA, "20261123090000", None, "success")
    second = journal.Entry(
        "2026-11-23T10:00:00Z", "deploy", "r2", "100% \\n %s 'x'", SHA, "20261123100000", "20261123090000", "failed"
    )
    empty = run_sh(remote.read_journal(str(deploy_to)), cwd)
    results = [run_sh(remote.append_journal(str(deploy_to), e.to_line()), cwd) for e in (first, second)]
    read = run_sh(remote.read_journal(str(deploy_to)), cwd)
    assert (
        (0, b""),
        [(0, ""), (0, "")],
        f"{first.to_line()}\n{second.to_line()}\n",
        [first, second],
        [],
    ) == (
        (empty.returncode, empty.stdout),
        [ok(r) for r in results],
        (deploy_to / ".shipbot" / "journal.jsonl").read_text(),
        journal.parse(read.stdout.decode()),
        pwned(cwd.parent),
    )


# -- releases ---------------------------------------------------------------------------------------------


def test_listing_releases_of_a_fresh_host_is_empty_not_an_error(cwd: Path) -> None:
    result = run_sh(remote.list_releases(str(cwd.parent / "nowhere")), cwd)
    assert (0, b"", b"") == (result.returncode, result.stdout, result.stderr)


@pytest.mark.parametrize("name", [p for p in HOSTILE if "\n" not in p.values[0]])
def test_removing_releases_removes_exactly_those_named(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    keep = ["20261123090000", "20261123100000"]
    for release in [*keep, name, "20261120000000"]:
        (deploy_to / "releases" / release).mkdir(parents=True)
    result = run_sh(remote.remove_releases(str(deploy_to), [name, "20261120000000"]), cwd)
    listing = run_sh(remote.list_releases(str(deploy_to)), cwd)
    assert ((0, ""), keep, []) == (ok(result), listing.stdout.decode().splitlines(), pwned(cwd.parent))


def test_removing_releases_never_removes_the_one_current_points_to(cwd: Path) -> None:
    deploy_to = cwd.parent / "srv"
    for release in ("r1", "r2", "r3"):
        (deploy_to / "releases" / release).mkdir(parents=True)
    (deploy_to / "current").symlink_to("releases/r2")
    result = run_sh(remote.remove_releases(str(deploy_to), ["r1", "r2", "r3"]), cwd)
    listing = run_sh(remote.list_releases(str(deploy_to)), cwd)
    assert ((0, ""), ["r2"]) == (ok(result), listing.stdout.decode().splitlines())


@pytest.mark.parametrize("name", HOSTILE)
def test_a_failed_release_is_marked_and_a_missing_one_is_ignored(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    (deploy_to / "releases" / name).mkdir(parents=True)
    marked = run_sh(remote.mark_failed(str(deploy_to), name), cwd)
    absent = run_sh(remote.mark_failed(str(deploy_to), "gone"), cwd)
    assert ((0, ""), (0, b""), True, []) == (
        ok(marked),
        (absent.returncode, absent.stderr),
        (deploy_to / "releases" / name / ".shipbot-failed").is_file(),
        pwned(cwd.parent),
    )


# -- operator commands ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_operator_commands_run_in_the_release_with_variables_exported_verbatim(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    rel = deploy_to / "releases" / name
    rel.mkdir(parents=True)
    command = 'printf \'%s|%s\' "$(pwd -P)" "$SHIPBOT_USER"'
    result = run_sh(remote.in_release(str(deploy_to), name, {"SHIPBOT_USER": name}, command), cwd)
    assert ((0, ""), f"{rel.resolve()}|{name}", []) == (ok(result), result.stdout.decode(), pwned(cwd.parent))


@pytest.mark.parametrize("name", HOSTILE)
def test_tasks_run_in_current_or_in_deploy_to_before_the_first_deploy(cwd: Path, name: str) -> None:
    deploy_to = cwd.parent / "srv" / name
    (deploy_to / "releases" / "r1").mkdir(parents=True)
    command = remote.in_current(str(deploy_to), {"TASK_ARG": name}, 'printf \'%s|%s\' "$(pwd -P)" "$TASK_ARG"')
    before = run_sh(command, cwd)
    (deploy_to / "current").symlink_to("releases/r1")
    after = run_sh(command, cwd)
    assert (
        (0, "", f"{deploy_to.resolve()}|{name}"),
        (0, "", f"{(deploy_to / 'releases' / 'r1').resolve()}|{name}"),
        [],
    ) == (
        (*ok(before), before.stdout.decode()),
        (*ok(after), after.stdout.decode()),
        pwned(cwd.parent),
    )


@pytest.mark.parametrize("name", HOSTILE)
def test_a_wrapped_command_prints_its_process_group_first_then_runs_unchanged(cwd: Path, name: str) -> None:
    inner = f"printf '%s\\n' {shlex.quote(name)}"
    proc = subprocess.Popen(
        ["/bin/sh", "-c", remote.with_pgid(inner)],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    stdout, _ = proc.communicate(remote.GO, timeout=10)
    assert (0, f"{remote.PGID_MARK}{proc.pid}\n{name}\n", []) == (proc.returncode, stdout.decode(), pwned(cwd.parent))


def test_a_wrapped_command_whose_controller_goes_before_recording_its_process_group_never_runs(cwd: Path) -> None:
    """The controller died after the group line and before it recorded it: its channel closes, the line the
    command waits for never comes, and the command does not run (nothing is left that a repair could not kill)."""
    for posix in (True, False):
        proc = subprocess.Popen(
            ["/bin/sh", "-c", remote.with_pgid("touch ran", posix)],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdout is not None
        assert f"{remote.PGID_MARK}{proc.pid}\n" == proc.stdout.readline().decode()
        stdout, _ = proc.communicate(b"", timeout=10)  # closed without the go-ahead
        assert (1, b"", False) == (proc.returncode, stdout, (cwd / "ran").exists())


@pytest.mark.parametrize(
    "shell",
    [
        pytest.param(
            "/bin/sh",
            id="sh",
        ),
        pytest.param("/bin/bash", id="bash"),
    ],
)
def test_killing_a_process_group_stops_the_whole_command_tree(cwd: Path, shell: str) -> None:
    proc = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & sleep 60; wait"], cwd=cwd, start_new_session=True)
    try:
        result = run_sh(remote.kill_group(proc.pid), cwd, shell=shell)
        status = proc.wait(timeout=3)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert ((0, ""), -15) == (ok(result), status)


def test_killing_a_process_group_that_is_gone_is_not_an_error(cwd: Path) -> None:
    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()
    assert (0, "") == ok(run_sh(remote.kill_group(gone.pid, "KILL"), cwd))


@pytest.mark.parametrize("release", ["", "/", "..", ".", "a/b", "../../etc"])
def test_a_release_id_that_could_escape_releases_is_refused(release: str) -> None:
    with pytest.raises(ValueError, match="is not a release id"):
        remote.remove_releases("/srv/shop", [release])
