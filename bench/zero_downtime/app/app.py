"""A tiny web app for deploy demos (stdlib only).

GET /health answers ``ok``; GET /version answers the release's REVISION; anything else a greeting; every answer
carries ``X-Revision``. It listens on 127.0.0.1:$SHIPBOT_PORT (a blue/green colour) or $APP_PORT and writes its
pid to ``<deploy_to>/run/app-<port>.pid``.

On SIGHUP it hands its listening socket over to the app named in ``<deploy_to>/run/app-<port>.next`` (the same
app in a new release): the new process serves from the same socket, and only once it wrote its pid does the old
one stop accepting and exit after its requests are done. No connection is refused meanwhile (a graceful reload).
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # <deploy_to>/releases/<id> -> <deploy_to>
PORT = int(os.environ.get("SHIPBOT_PORT") or os.environ["APP_PORT"])
RUN = os.path.join(ROOT, "run")
PIDFILE = os.path.join(RUN, f"app-{PORT}.pid")
NEXT = os.path.join(RUN, f"app-{PORT}.next")
try:
    with open(os.path.join(HERE, "REVISION")) as f:
        REVISION = f.read().strip()
except OSError:
    REVISION = "unknown"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/health":
            body = b"ok\n"
        elif path == "/version":
            body = (REVISION + "\n").encode()
        else:
            body = f"hello from {REVISION[:12]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Revision", REVISION)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def get_request(self) -> tuple[socket.socket, object]:
        conn, addr = self.socket.accept()  # BlockingIOError when another process took it: skipped by socketserver
        conn.setblocking(True)
        return conn, addr


def listening_socket() -> socket.socket:
    fd = os.environ.get("LISTEN_FD")
    if fd:
        sock = socket.socket(fileno=int(fd))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", PORT))
        sock.listen(1024)
    sock.setblocking(False)  # two processes accept from it during a handover
    return sock


def write_pid() -> None:
    os.makedirs(RUN, exist_ok=True)
    tmp = f"{PIDFILE}.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, PIDFILE)


def read_pid() -> int | None:
    try:
        with open(PIDFILE) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def hand_over(sock: socket.socket) -> bool:
    """Start the next release's app on our socket; True once it serves."""
    try:
        with open(NEXT) as f:
            target = f.read().strip()
    except OSError:
        return False
    child = subprocess.Popen(
        [sys.executable, target],
        pass_fds=(sock.fileno(),),
        env={**os.environ, "LISTEN_FD": str(sock.fileno())},
        cwd=os.path.dirname(target),
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if read_pid() == child.pid:
            return True
        if child.poll() is not None:
            return False
        time.sleep(0.02)
    child.kill()
    return False


def main() -> None:
    sock = listening_socket()
    server = Server(("127.0.0.1", PORT), Handler, bind_and_activate=False)
    server.socket = sock
    hup, stop = threading.Event(), threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: hup.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    write_pid()
    while not stop.is_set():
        if hup.wait(0.1):
            hup.clear()
            if hand_over(sock):
                break
    server.shutdown()  # stop accepting; the socket stays open in the next process, if any
    server.server_close()  # waits for the requests in flight
    if read_pid() == os.getpid():
        os.unlink(PIDFILE)


if __name__ == "__main__":
    main()
