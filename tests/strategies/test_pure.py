"""The pure parts: batch ramps, pause values, strategy config errors, and the blue/green command builders (by
exact string, and by running them with sh against a local HTTP server)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deploy.config.models import parse_config
from deploy.errors import ConfigError
from deploy.hosts import bluegreen
from deploy.run import batches
from deploy.run.plan import plan_deploy

HOSTS = [f"h{i}" for i in range(1, 51)]


@pytest.mark.parametrize(
    ("entries", "n", "sizes"),
    [
        ([1, "10%", "100%"], 50, [1, 4, 45]),
        ([1, "10%", "100%"], 3, [1, 2]),  # 10% of 3 rounds to the canary: that step is skipped
        ([1, "100%"], 1, [1]),
        (["100%"], 5, [5]),
        ([2, 5, 10], 10, [2, 3, 5]),
        ([1, 2, 1000], 4, [1, 1, 2]),  # a count over the host count means every host
        (["25%", "50%", "100%"], 8, [2, 2, 4]),
        (["33%", "100%"], 10, [4, 6]),  # percentages round up
    ],
)
def test_a_ramp_cuts_the_hosts_into_batches(entries: list[Any], n: int, sizes: list[int]) -> None:
    cut, problems = batches.split(HOSTS[:n], entries)
    assert [] == problems
    assert sizes == [len(b) for b in cut]
    assert HOSTS[:n] == [h for b in cut for h in b]


@pytest.mark.parametrize(
    ("entries", "n", "index", "message"),
    [
        ([10, 5, "100%"], 20, 1, "goes down"),
        (["50%", "10%", "100%"], 20, 1, "goes down"),
        ([1, "10%"], 20, 1, "ends at 10%"),
        (["100%", 5], 20, 1, "nothing is left after a 100% batch"),
        ([1, 3], 10, 1, "ends at 3 = 3 of 10 hosts"),
        ([30, "10%", "100%"], 50, 1, "10% is 5 of 50 hosts, fewer than the 30 already done"),
        ([], 3, 0, "empty"),
    ],
)
def test_a_ramp_that_does_not_add_up_names_its_entry(entries: list[Any], n: int, index: int, message: str) -> None:
    cut, problems = batches.split(HOSTS[:n], entries)
    assert [] == cut
    assert index == problems[0].index
    assert message in problems[0].message


@pytest.mark.parametrize(
    ("value", "parsed"), [(1, 1), ("3", 3), ("10%", "10%"), (" 12.5% ", "12.5%"), ("100%", "100%")]
)
def test_batch_entries(value: object, parsed: object) -> None:
    assert parsed == batches.parse_entry(value)


@pytest.mark.parametrize("value", [0, -1, "0%", "101%", "ten", True, 1.5, None, "10 %%"])
def test_bad_batch_entries(value: object) -> None:
    with pytest.raises(ValueError):
        batches.parse_entry(value)


@pytest.mark.parametrize(
    ("value", "parsed"), [(False, False), (True, True), ("5m", 300.0), ("30s", 30.0), (0, False), ("yes", True)]
)
def test_pause_values(value: object, parsed: object) -> None:
    assert parsed == batches.parse_pause(value)


BASE: dict[str, Any] = {"app": "shop", "repo": "/r", "deploy_to": "/srv/shop", "pipeline": {"restart": "./start.sh"}}
BG: dict[str, Any] = {
    "ports": {"blue": 8001, "green": 8002},
    "stop": "./stop.sh",
    "nginx": {"upstream_file": "/etc/nginx/shipbot/shop.conf"},
    "verify": {"url": "http://127.0.0.1/version"},
}


def config_with(**env: Any) -> dict[str, Any]:
    hosts = [{"address": f"web{i}"} for i in range(1, 4)]
    return {**BASE, "environments": {"production": {"hosts": hosts, **env}}}


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"strategy": "rolling", "batches": [1, "150%"]},
            "environments.production.batches[1]: a percentage batch may not be over 100%",
        ),
        ({"strategy": "rolling", "batches": [5, 2, "100%"]}, "environments.production.batches[1]: the ramp goes down"),
        ({"strategy": "rolling", "batches": [1, "x"]}, "environments.production.batches[1]: expected a host count"),
        (
            {"strategy": "rolling", "batches": [0, "100%"]},
            "environments.production.batches[0]: a batch needs at least 1 host",
        ),
        ({"strategy": "rolling", "max_failures": -1}, "environments.production.max_failures"),
        ({"strategy": "rolling", "pause": "soon"}, "environments.production.pause: expected true, false or a duration"),
        ({"strategy": "canary"}, "environments.production.strategy"),
        ({"batches": [1, "100%"]}, "batches only apply with strategy rolling or blue_green"),
        ({"strategy": "blue_green"}, "strategy blue_green needs a blue_green block"),
        ({"strategy": "rolling", "blue_green": BG}, "a blue_green block needs strategy: blue_green"),
        (
            {"strategy": "blue_green", "blue_green": {**BG, "ports": {"blue": 8001, "green": 8001}}},
            "blue_green.ports: blue and green must listen on different ports",
        ),
        (
            {"strategy": "blue_green", "blue_green": {**BG, "ports": {"blue": 0, "green": 8001}}},
            "blue_green.ports.blue",
        ),
        ({"strategy": "blue_green", "blue_green": {**BG, "verify": {"url": "ftp://x"}}}, "blue_green.verify.url"),
        (
            {"strategy": "blue_green", "blue_green": {**BG, "nginx": {"upstream_file": "../x"}}},
            "blue_green.nginx.upstream_file",
        ),
        ({"strategy": "blue_green", "blue_green": {**BG, "colour": "red"}}, "blue_green.colour: unknown key"),
    ],
)
def test_strategy_config_errors_name_the_key(env: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(config_with(**env), "shipbot.yml")
    assert problem in str(err.value)


def test_blue_green_needs_a_start_command() -> None:
    data = {**config_with(strategy="blue_green", blue_green=BG), "pipeline": {}}
    with pytest.raises(ConfigError, match="pipeline.restart must start the app of a colour"):
        parse_config(data)


def test_a_ramp_that_does_not_add_up_for_this_many_hosts_fails_planning() -> None:
    config = parse_config(config_with(strategy="rolling", batches=[1, 2]))
    with pytest.raises(ConfigError, match=r"environments.production.batches\[1\]: the ramp ends at 2 = 2 of 3 hosts"):
        plan_deploy(config, "production", "a" * 40, "20260101000000", "U1")


def test_the_plan_carries_batches_budget_pause_and_per_host_colours() -> None:
    hosts = [{"address": "web1", "blue_green": {"ports": {"blue": 9001, "green": 9002}}}, {"address": "web2"}]
    data = {
        **BASE,
        "environments": {
            "production": {
                "hosts": hosts,
                "strategy": "blue_green",
                "blue_green": BG,
                "batches": [1, "100%"],
                "max_failures": 1,
                "pause": "2m",
            }
        },
    }
    plan = plan_deploy(parse_config(data), "production", "a" * 40, "20260101000000", "U1")
    assert (("web1",), ("web2",)) == plan.batches
    assert (1, 120.0, "blue_green") == (plan.max_failures, plan.pause, plan.strategy)
    assert [{"blue": 9001, "green": 9002}, {"blue": 8001, "green": 8002}] == [
        dict(hp.colours.ports) for hp in plan.hosts if hp.colours
    ]
    assert "blue/green: blue on port 9001, green on 9002" in plan.describe()


# -- the builders ------------------------------------------------------------------------------------------


def colours(tmp: Path, **over: Any) -> bluegreen.HostColours:
    values: dict[str, Any] = {
        "deploy_to": str(tmp), "ports": {"blue": 8001, "green": 8002}, "address": "127.0.0.1", "upstream": "shop",
        "upstream_file": str(tmp / "nginx" / "upstream.conf"), "nginx_test": "true", "nginx_reload": "true",
        "stop": "./stop.sh", "verify_url": "http://127.0.0.1:1/version", "verify_expect": "body",
        "verify_header": "X-Revision", "verify_retries": 2, "verify_interval": 0.05, "verify_timeout": 2.0,
        "keep_old": 600.0,
    }  # fmt: skip
    return bluegreen.HostColours(**{**values, **over})


def sh(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)


def test_exact_commands() -> None:
    assert (
        "test -d '/srv/my app/releases/r1' && ln -sfn releases/r1 '/srv/my app/.green.r1.tmp' && mv -Tf '/srv/my app/.green.r1.tmp' '/srv/my app/green'"
        == bluegreen.point("/srv/my app", "green", "r1")
    )
    assert "cd /srv/app/blue && export SHIPBOT_PORT=8001 SHIPBOT_COLOUR=blue; ./start.sh" == bluegreen.in_colour(
        "/srv/app", "blue", {"SHIPBOT_PORT": "8001", "SHIPBOT_COLOUR": "blue"}, "./start.sh"
    )
    assert (
        "# written by shipbot: green is live (release r2, abcdefabcdef); do not edit\nupstream shop {\n    server 127.0.0.1:8002;\n}\n"
        == bluegreen.render_upstream("shop", "127.0.0.1", 8002, "green", "r2", "abcdef" * 7)
    )
    assert (
        "mkdir -p /srv/app/.shipbot && printf '%s\\n' green > /srv/app/.shipbot/live.tmp && mv -f /srv/app/.shipbot/live.tmp /srv/app/.shipbot/live && test -d /srv/app/releases/r2 && ln -sfn releases/r2 /srv/app/.current.r2.tmp && mv -Tf /srv/app/.current.r2.tmp /srv/app/current"
        == bluegreen.set_live("/srv/app", "green", "r2")
    )
    assert "'; rm -rf /'" in bluegreen.verify(colours(Path("/x"), verify_url="http://h/'; rm -rf /'"), "a" * 40)


def test_swap_renames_the_new_upstream_over_the_live_one(tmp_path: Path) -> None:
    c = colours(tmp_path)
    result = sh(bluegreen.swap(c, "upstream shop { server 127.0.0.1:8002; }\n", "green", "blue"))
    assert (0, "traffic now goes to green\n") == (result.returncode, result.stdout)
    assert "server 127.0.0.1:8002" in (tmp_path / "nginx" / "upstream.conf").read_text()
    assert ["upstream.conf"] == [p.name for p in (tmp_path / "nginx").iterdir()]


def test_a_failing_config_test_puts_the_previous_upstream_back_with_one_message(tmp_path: Path) -> None:
    live = tmp_path / "nginx" / "upstream.conf"
    live.parent.mkdir()
    live.write_text("the live one\n")
    test = "echo 'nginx: [emerg] unknown directive \"x\" in /etc/nginx/x.conf:1' >&2; echo 'nginx: configuration file test failed' >&2; false"
    result = sh(bluegreen.swap(colours(tmp_path, nginx_test=test), "new\n", "green", "blue"))
    assert 4 == result.returncode
    assert (
        'nginx config test failed, traffic stays on blue: nginx: [emerg] unknown directive "x" in /etc/nginx/x.conf:1\n'
        == result.stderr
    )
    assert "the live one\n" == live.read_text()
    assert ["upstream.conf"] == [p.name for p in live.parent.iterdir()]


def test_a_failing_reload_also_puts_the_previous_upstream_back(tmp_path: Path) -> None:
    result = sh(bluegreen.swap(colours(tmp_path, nginx_reload="echo no master >&2; false"), "new\n", "green", None))
    assert (5, "nginx reload failed, traffic was not moved: no master\n") == (result.returncode, result.stderr)
    assert not (tmp_path / "nginx" / "upstream.conf").exists()


@pytest.fixture
def version_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"a" * 40 + b"\n"
            self.send_response(200)
            self.send_header("X-Revision", "b" * 40)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/version"
    server.shutdown()
    server.server_close()


def test_verify_asks_until_the_sha_answers(tmp_path: Path, version_server: str) -> None:
    assert 0 == sh(bluegreen.verify(colours(tmp_path, verify_url=version_server), "a" * 40)).returncode
    header = colours(tmp_path, verify_url=version_server, verify_expect="header")
    assert 0 == sh(bluegreen.verify(header, "b" * 40)).returncode
    wrong = sh(bluegreen.verify(colours(tmp_path, verify_url=version_server), "c" * 40))
    assert 1 == wrong.returncode
    assert (
        f"{version_server} did not answer with cccccccccccc after 2 tries; last answer: {'a' * 40}"
        == wrong.stderr.strip()
    )


def test_port_free_names_a_port_in_use(version_server: str) -> None:
    port = int(version_server.split(":")[2].split("/", maxsplit=1)[0])
    result = sh(bluegreen.port_free("127.0.0.1", port, "green", tries=2, interval=0.05))
    assert 3 == result.returncode and f"port {port} (green) is still in use" in result.stderr
    assert 0 == sh(bluegreen.port_free("127.0.0.1", 1, "blue", tries=2)).returncode


def test_probe_reads_the_layout(tmp_path: Path) -> None:
    (tmp_path / "releases" / "r1").mkdir(parents=True)
    (tmp_path / "releases" / "r1" / "REVISION").write_text("a" * 40 + "\n")
    assert 0 == sh(bluegreen.point(str(tmp_path), "blue", "r1")).returncode
    assert 0 == sh(bluegreen.set_live(str(tmp_path), "blue", "r1")).returncode
    out = sh(bluegreen.probe(str(tmp_path), "127.0.0.1", {"blue": 1, "green": 2})).stdout
    assert bluegreen.ColourProbe(
        "blue",
        {"blue": bluegreen.ColourState("r1", "a" * 40, False), "green": bluegreen.ColourState(None, None, False)},
    ) == bluegreen.parse_probe(out)


# -- draining: a colour leaves traffic only once nginx sends it nothing more ---------------------------------


@pytest.fixture
def fake_nginx(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A 'master' whose one child (its 'worker') lives 1 s (or the seconds the test asks for), and its pid file."""
    lifetime = getattr(request, "param", 1)
    master = subprocess.Popen(["sh", "-c", f"sleep {lifetime} & wait"])
    pid_file = tmp_path / "nginx.pid"
    pid_file.write_text(f"{master.pid}\n")
    deadline = time.monotonic() + 5
    while not bluegreen.parse_workers(
        sh(f"{bluegreen.nginx_workers(str(pid_file))}; echo {bluegreen.WORKERS}$old").stdout
    ):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield pid_file, master
    master.kill()
    master.wait()


@pytest.mark.parametrize(
    ("fake_nginx", "pid_file", "drain_timeout", "drained", "least", "most"),
    [
        (1, "ours", 5.0, True, 0.5, 3.0),  # waits until the worker from before the reload exited
        (30, "ours", 0.2, False, 0.0, 2.5),  # bounded: gives up, says so, exit status 0 (traffic did move)
        (1, "missing", 1.0, False, 0.0, 2.5),  # no pid: asked through nginx, which here never answers
        (1, "", 1.0, False, 0.0, 2.5),
    ],
    indirect=["fake_nginx"],
)
def test_a_swap_that_drains_waits_for_nginx_workers_from_before_the_reload(
    tmp_path: Path,
    fake_nginx: tuple[Path, subprocess.Popen[bytes]],
    pid_file: str,
    drain_timeout: float,
    drained: bool,
    least: float,
    most: float,
) -> None:
    ours, _master = fake_nginx
    path = {"ours": str(ours), "missing": str(tmp_path / "none.pid"), "": ""}[pid_file]
    c = colours(tmp_path, pid_file=path, drain_timeout=drain_timeout)
    began = time.monotonic()
    result = sh(bluegreen.swap(c, "new\n", "blue", "green", drain=True, sha="a" * 40))
    took = time.monotonic() - began
    assert 0 == result.returncode, result.stderr
    assert drained == bluegreen.drained(result.stdout), result.stdout
    assert least <= took <= most
    if not drained:
        assert "nginx still sent traffic to green after" in result.stdout
    workers = bluegreen.parse_workers(result.stdout)
    assert (len(workers) == 1) == (pid_file == "ours")


def test_drained_through_nginx_needs_answers_in_a_row_from_the_colour_that_stays(
    tmp_path: Path, version_server: str
) -> None:
    c = colours(tmp_path, verify_url=version_server, drain_timeout=3.0)
    assert bluegreen.drained(sh(bluegreen.swap(c, "x\n", "blue", "green", drain=True, sha="a" * 40)).stdout)
    assert bluegreen.drained(sh(bluegreen.swap(c, "x\n", "blue", "green", drain=True, sha="b" * 40)).stdout)
    c = colours(tmp_path, verify_url=version_server, drain_timeout=1.0)
    assert not bluegreen.drained(sh(bluegreen.swap(c, "x\n", "blue", "green", drain=True, sha="c" * 40)).stdout)


def test_drain_values_are_quoted() -> None:
    c = colours(Path("/x"), pid_file="/run/my nginx.pid", verify_url="http://h/'; rm -rf /'")
    command = bluegreen.swap(c, "x\n", "blue", "green", drain=True, sha="$(reboot)")
    assert (
        "'/run/my nginx.pid'" in command
        and "'$(reboot)'" in command
        and "'http://h/'\"'\"'; rm -rf /'\"'\"''" in command
    )
    assert "old=' 12 34'" in bluegreen.known_workers("/run/n.pid", (12, 34))
    assert bluegreen.WORKERS not in bluegreen.swap(colours(Path("/x")), "x\n", "blue", "green")
    assert "draining" not in bluegreen.swap(c, "x\n", "blue", None, drain=True)


def test_a_scheduled_stop_waits_for_the_drain(tmp_path: Path) -> None:
    c = colours(tmp_path)
    stop = bluegreen.schedule_stop(c, "blue", 0, {}, "./stop.sh", drain="left=busy")
    assert '{ left=busy; } && test -z "$left" && ' in stop
    assert "test -z" not in bluegreen.schedule_stop(c, "blue", 0, {}, "./stop.sh")
