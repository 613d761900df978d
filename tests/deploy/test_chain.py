"""Several steps in one session (deploy.hosts.chain), parsed from the output a POSIX shell really prints for the chained
command: each step's own output (exactly, whether or not it ends with a newline), exit status, and the first failure
ending the chain; a line that only looks like a marker is output."""

from __future__ import annotations

import subprocess

from deploy.hosts import chain, framing


def run_locally(links: list[chain.Link], frame: framing.Frame) -> tuple[chain.Progress, list[chain.Section], int]:
    done = subprocess.run(
        ["sh", "-c", chain.command(links, frame)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    progress = chain.Progress(links, frame)
    ended = [s for line in done.stdout.split("\n") if (s := progress.line(line)) is not None]
    return progress, ended, done.returncode


def test_each_step_gets_its_own_output_and_exit_status() -> None:
    frame = framing.new()
    links = [
        chain.Link("upload", "echo one; echo two", 10),
        chain.Link("build", "printf 'no newline at the end'", 10),
        chain.Link("quiet", "true", 10),
        chain.Link("blank lines", "echo a; echo; echo b; echo", 10),
    ]
    progress, ended, status = run_locally(links, frame)

    assert 0 == status
    assert [0, 1, 2, 3] == [s.index for s in ended]
    assert [0, 0, 0, 0] == [s.exit_status for s in ended]
    assert ["one\ntwo", "no newline at the end", "", "a\n\nb\n"] == [s.output for s in ended]
    assert progress.running is None


def test_the_first_failure_ends_the_chain_with_its_status() -> None:
    frame = framing.new()
    links = [
        chain.Link("setup", "echo made", 10),
        chain.Link("build", "echo broken >&2; exit 7", 10),
        chain.Link("never", "echo must not run", 10),
    ]
    progress, ended, status = run_locally(links, frame)

    assert 7 == status
    assert [(0, "made"), (7, "broken")] == [(s.exit_status, s.output) for s in ended]
    assert 2 == len(progress.sections), "the step after the failure never started"


def test_a_step_exit_or_cd_does_not_reach_the_next_and_only_the_first_reads_stdin() -> None:
    frame = framing.new()
    links = [
        chain.Link("first", "cd /; cat", 10),
        chain.Link("second", "pwd; cat; echo read-nothing", 10),
    ]
    done = subprocess.run(
        ["sh", "-c", f"cd /tmp && {chain.command(links, frame)}"], input="the archive\n", capture_output=True, text=True
    )
    progress = chain.Progress(links, frame)
    ended = [s for line in done.stdout.split("\n") if (s := progress.line(line)) is not None]

    assert ["the archive", "/tmp\nread-nothing"] == [s.output for s in ended]


def test_lines_that_look_like_markers_are_output_and_deadlines_follow_the_running_step() -> None:
    frame, other = framing.new(), framing.new()
    links = [chain.Link("a", "true", 5), chain.Link("b", "true", 60)]
    progress = chain.Progress(links, frame)
    assert progress.deadline() is None
    progress.line(f"{frame.marker('step')} 0")
    first = progress.deadline()
    assert first is not None
    for fake in (f"{other.marker('end')} 0", f"{frame.marker('end')} zero", f"{frame.marker('step')} 1"):
        assert progress.line(fake) is None
    assert progress.line("") is None
    ended = progress.line(f"{frame.marker('end')} 0")
    assert ended is not None
    assert [f"{other.marker('end')} 0", f"{frame.marker('end')} zero", f"{frame.marker('step')} 1"] == ended.lines
    progress.line(f"{frame.marker('step')} 1")
    second = progress.deadline()
    assert second is not None and second - first > 50
