"""A real DNS server for tests: dnsmasq on 127.0.0.1 and its own free port, answering only the records a test
gives it (``srv-host`` and ``host-record`` lines, dnsmasq's own syntax); ``restart`` serves new records on the same
port (dnsmasq re-reads its config only on a restart)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.ports import free_port

DNSMASQ = Path("/usr/sbin/dnsmasq")


class PortTaken(RuntimeError):
    """dnsmasq could not listen: something else took the port."""


class Dnsmasq:
    def __init__(self, folder: Path, domain: str = "test") -> None:
        self.folder = folder
        self.domain = domain
        self.port = free_port(udp=True)
        self._proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, records: Sequence[str], *, new_port: bool = True) -> None:
        """Serve ``records`` (lines such as ``srv-host=_web._tcp.shop.test,h1.shop.test,2201`` or
        ``host-record=h1.shop.test,127.0.1.1``); every other name under the domain does not exist. The port can be
        taken between choosing it and dnsmasq binding it (a busy machine): a first start then moves to another
        port, a restart (which must keep its port) tries the same one again."""
        for attempt in range(10):
            try:
                self._start(records)
                return
            except PortTaken:
                if attempt == 9:
                    raise
                if new_port:
                    self.port = free_port(udp=True)
                else:
                    time.sleep(0.5)

    def _start(self, records: Sequence[str]) -> None:
        conf = self.folder / "dnsmasq.conf"
        lines = [f"port={self.port}", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts",
                 f"local=/{self.domain}/", *records]  # fmt: skip
        if os.geteuid() == 0:
            lines.append("user=root")  # stay root instead of dropping to nobody, so the config stays readable
        conf.write_text("\n".join(lines) + "\n")
        with (self.folder / "dnsmasq.log").open("ab") as log:
            self._proc = subprocess.Popen(
                [str(DNSMASQ), "--keep-in-foreground", f"--conf-file={conf}", "--pid-file="],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        query = bytes.fromhex("12340100000100000000000004746573740000010001")  # "test" A
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                said = (self.folder / "dnsmasq.log").read_text()
                self._proc = None
                if "Address already in use" in said:
                    (self.folder / "dnsmasq.log").write_text("")
                    raise PortTaken(said)
                raise RuntimeError(f"dnsmasq exited: {said}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                s.sendto(query, ("127.0.0.1", self.port))
                try:
                    s.recv(512)
                    return
                except OSError:
                    continue
        raise RuntimeError("dnsmasq did not answer within 5s")

    def restart(self, records: Sequence[str]) -> None:
        self.stop()
        self.start(records, new_port=False)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
