"""The demo app's git repository: a tiny stdlib-only web app with the branches the demo deploys.

``make_demo_repo(path)`` makes a real repository with the git CLI (fixed author and committer, no global or system
git config) and returns its path; when the repository is already there it is left as it is. The app::

    app.py       an HTTP server on 127.0.0.1:$PORT: / (a page naming the version and the feature flag new-login,
                 read through OpenFeature's flagd provider from shipbot's flag file), /health, /version (REVISION)
    VERSION      the version the page shows
    bin/start    starts app.py in the background; its pid goes to run/app.pid (run/ is a shared dir)
    bin/stop     stops the app named in run/app.pid (TERM, then KILL), if it runs
    bin/health   exit 0 when /health answers 200 and /version is this release's REVISION, else 1

Refs::

    main                 v1.0; tagged v1.0.0
    feature/new-login    two commits on main: a login page, then v1.1 linking to it
    broken-health        one commit on main whose /health answers 500, so a deploy of it fails its healthcheck

The scripts run in a release directory, so ``run/``, ``log/`` and ``port`` are the host's shared files linked in by
shipbot; the app never binds anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Demo Dev",
    "GIT_AUTHOR_EMAIL": "dev@shop.example",
    "GIT_COMMITTER_NAME": "Demo Dev",
    "GIT_COMMITTER_EMAIL": "dev@shop.example",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}

BRANCHES = ("main", "feature/new-login", "broken-health")
TAG = "v1.0.0"

APP_PY = '''\
"""The demo shop: a tiny web app that shows which version and commit it runs."""

import html
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEALTHY = True
LOGIN_PAGE = False
LOGIN_LINK = False


def read(name, default="unknown"):
    try:
        return (HERE / name).read_text().strip() or default
    except OSError:
        return default


VERSION = read("VERSION")
REVISION = read("REVISION")
FLAGS = None  # an OpenFeature client, once the flagd provider reads shipbot's flag file


def read_flags():
    """Feature flags as any app reads them: OpenFeature's flagd provider, in-process, on the file shipbot writes
    (``<deploy_to>/shared/flags.json``), polled every second."""
    global FLAGS
    try:
        from openfeature import api
        from openfeature.contrib.provider.flagd import FlagdProvider
        from openfeature.contrib.provider.flagd.config import ResolverType
    except ImportError:
        return
    path = os.environ.get("FLAGD_OFFLINE_FLAG_SOURCE_PATH") or str(HERE.parent.parent / "shared" / "flags.json")
    os.environ.setdefault("FLAGD_OFFLINE_POLL_MS", "1000")
    try:
        api.set_provider(FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=path))
    except Exception as exc:  # the page still answers, saying why it cannot show the flag
        sys.stderr.write(f"feature flags unavailable: {exc!r}\\n")
        return
    FLAGS = api.get_client()


def flag(name):
    if FLAGS is None:
        return "unknown (OpenFeature is not installed)"
    return "on" if FLAGS.get_boolean_value(name, False) else "off"


def index():
    login = '<p><a href="/login">Log in</a></p>' if LOGIN_LINK else ""
    host = html.escape(os.environ.get("SHIPBOT_DEMO_HOST", "localhost"))
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>shop</title></head><body>"
        f"<h1>shop v{html.escape(VERSION)}</h1>"
        f"<p>commit <code>{html.escape(REVISION[:12])}</code> on {host}</p>"
        f"<p>new-login: <b>{html.escape(flag('new-login'))}</b></p>{login}</body></html>"
    )


def login():
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>shop: log in</title></head><body>"
        "<h1>Log in</h1><form method=post action=/login>"
        "<label>Email <input name=email type=email></label> "
        "<label>Password <input name=password type=password></label> "
        "<button>Log in</button></form></body></html>"
    )


class Handler(BaseHTTPRequestHandler):
    server_version = "shop/" + VERSION

    def answer(self, status, body, kind="text/plain; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/":
            self.answer(200, index(), "text/html; charset=utf-8")
        elif path == "/health":
            self.answer(200, "ok\\n") if HEALTHY else self.answer(500, "unhealthy\\n")
        elif path == "/version":
            self.answer(200, REVISION + "\\n")
        elif path == "/login" and LOGIN_PAGE:
            self.answer(200, login(), "text/html; charset=utf-8")
        else:
            self.answer(404, "not found\\n")

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\\n" % (self.log_date_time_string(), format % args))


def main():
    port = int(os.environ.get("PORT") or (sys.argv[1] if len(sys.argv) > 1 else "8000"))
    read_flags()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"shop v{VERSION} ({REVISION[:12]}) on http://127.0.0.1:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
'''

BIN_START = """\
#!/bin/sh
# Start the app in the background on $PORT; its pid goes to run/app.pid, its output to log/app.log.
set -eu
: "${PORT:?set PORT to the port the app listens on}"
cd "$(dirname "$0")/.."
mkdir -p run log
if [ -f run/app.pid ] && kill -0 "$(cat run/app.pid)" 2>/dev/null; then
    echo "the app already runs (pid $(cat run/app.pid)); run bin/stop first" >&2
    exit 1
fi
PORT="$PORT" python3 app.py >>log/app.log 2>&1 </dev/null &
pid=$!
echo "$pid" >run/app.pid
# wait (up to 10s) until the app accepts connections, so whoever runs this next finds it serving
i=0
until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
        "$PORT" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f run/app.pid
        echo "the app exited at start; the end of log/app.log:" >&2
        tail -n 5 log/app.log >&2
        exit 1
    fi
    i=$((i + 1))
    [ "$i" -lt 100 ] || { echo "the app does not accept connections on port $PORT after 10s" >&2; exit 1; }
    sleep 0.1
done
echo "started pid $pid on port $PORT"
"""

BIN_STOP = """\
#!/bin/sh
# Stop the app named in run/app.pid: TERM, then KILL after 5 seconds. Not running is fine.
set -u
cd "$(dirname "$0")/.."
[ -f run/app.pid ] || { echo "not running"; exit 0; }
pid=$(cat run/app.pid)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "stopped pid $pid"
fi
rm -f run/app.pid
"""

BIN_HEALTH = """\
#!/bin/sh
# Exit 0 when the app on $PORT answers /health with 200 and serves this release's REVISION; else exit 1.
set -eu
: "${PORT:?set PORT to the port the app listens on}"
cd "$(dirname "$0")/.."
exec python3 - "$PORT" <<'EOF'
import sys
import urllib.request
from pathlib import Path

base = f"http://127.0.0.1:{sys.argv[1]}"
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(base + "/health", timeout=3) as answer:
        if answer.status != 200:
            sys.exit(f"unhealthy: /health answered {answer.status}")
    with opener.open(base + "/version", timeout=3) as answer:
        serving = answer.read().decode().strip()
except Exception as exc:
    sys.exit(f"unhealthy: {exc}")
wanted = Path("REVISION").read_text().strip() if Path("REVISION").exists() else serving
if serving != wanted:
    sys.exit(f"unhealthy: port {sys.argv[1]} serves {serving[:12]}, not this release ({wanted[:12]})")
print("healthy")
EOF
"""

README = """\
# shop

The demo app shipbot deploys. `PORT=8000 bin/start` runs it on http://127.0.0.1:8000/, `bin/stop` stops it,
`PORT=8000 bin/health` checks it.
"""

GITIGNORE = "__pycache__/\n*.pyc\nrun/\nlog/\nport\nREVISION\n"


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _commit(repo: Path, message: str, files: dict[str, str]) -> None:
    for name, content in files.items():
        file = repo / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(content)
        file.chmod(0o755 if name.startswith("bin/") else 0o644)
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", message)


def _app(*, login_page: bool = False, login_link: bool = False, healthy: bool = True) -> str:
    text = APP_PY
    if login_page:
        text = text.replace("LOGIN_PAGE = False", "LOGIN_PAGE = True")
    if login_link:
        text = text.replace("LOGIN_LINK = False", "LOGIN_LINK = True")
    if not healthy:
        text = text.replace("HEALTHY = True", "HEALTHY = False  # the new health check wiring is not finished")
    return text


def _complete(repo: Path) -> bool:
    if not (repo / ".git").exists():
        return False
    try:
        for ref in [*(f"refs/heads/{b}" for b in BRANCHES), f"refs/tags/{TAG}"]:
            _git(repo, "rev-parse", "--verify", "--quiet", ref)
    except subprocess.CalledProcessError:
        return False
    return True


def make_demo_repo(path: str | os.PathLike[str]) -> Path:
    """The demo app's repository at ``path`` (made when missing or incomplete); returns its absolute path."""
    repo = Path(path).expanduser().resolve()
    if _complete(repo):
        return repo
    if repo.exists() and any(repo.iterdir()):
        if not (repo / ".git").exists():
            raise FileExistsError(f"{repo} exists and is not a git repository; pick another folder for the demo repo")
        raise FileExistsError(f"{repo} is a git repository without the demo branches; remove it to have it remade")
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _commit(
        repo,
        "shop 1.0: index, health and version pages, start/stop/health scripts",
        {
            "README.md": README,
            ".gitignore": GITIGNORE,
            "VERSION": "1.0\n",
            "app.py": _app(),
            "bin/start": BIN_START,
            "bin/stop": BIN_STOP,
            "bin/health": BIN_HEALTH,
        },
    )
    _git(repo, "tag", "--annotate", "--message", "shop 1.0.0", TAG)

    _git(repo, "checkout", "--quiet", "-b", "feature/new-login", "main")
    _commit(repo, "Add a login page", {"app.py": _app(login_page=True)})
    _commit(
        repo,
        "shop 1.1: link the login page from the index",
        {"app.py": _app(login_page=True, login_link=True), "VERSION": "1.1\n"},
    )

    _git(repo, "checkout", "--quiet", "-b", "broken-health", "main")
    _commit(repo, "Rewire the health check (work in progress)", {"app.py": _app(healthy=False), "VERSION": "1.0.1\n"})

    _git(repo, "checkout", "--quiet", "main")
    return repo
