"""Shared pieces of the round-2 sandbox tests (``test_round2_*.py``): the real daemon as a
process over JACK, the plugin test helpers, and a timer for ``midimon status``. No tests here."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from e2ekit import cli, cli_json, config, grant, press, ready, wait_for
from pluginkit import write
from testkit.daemon import DaemonProcess

__all__ = ["cli", "cli_json", "config", "grant", "press", "ready", "wait_for", "write", "start_daemon"]


@pytest.fixture
def start_daemon(home: Path, jack_env: dict[str, str]) -> Iterator[Any]:
    procs: list[DaemonProcess] = []

    def start(config_text: str, **kw: Any) -> DaemonProcess:
        d = DaemonProcess(home, config_text, env=jack_env, **kw)
        procs.append(d)
        return d

    yield start
    for d in procs:
        d.stop()


@pytest.fixture
def plugins_dir(home: Path) -> Path:
    d = home / "plugins"
    d.mkdir(exist_ok=True)
    return d


def timed_status(home: Path) -> tuple[float, dict[str, Any]]:
    """(seconds, document) of one ``midimon status --json``."""
    t0 = time.monotonic()
    proc = cli("status", "--json", home=home)
    return time.monotonic() - t0, json.loads(proc.stdout)


def host_state(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The plugin's live counters in a status document (``host`` before the record rework,
    ``counters`` after it), or None when the plugin is not listed."""
    plugins = doc.get("plugins", {})
    for p in plugins.get("plugins", []) if isinstance(plugins, dict) else plugins:
        if p.get("name") == name:
            return {**(p.get("counters") or {}), **(p.get("host") or {})}
    return None


def rss_mb(pid: int) -> float:
    """Resident size of a process, MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def written(pid: int) -> int:
    """Bytes the process has passed to write() so far (disk, pipes and sockets alike)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


TRIGGER_ONLY = """
[[modes.mappings]]
description = "fires on an event the plugin never sends"
trigger = {{ type = "Plugin", plugin = "{name}", event = "never" }}
action = {{ type = "Shell", shell = true, command = "true" }}
"""


class RawServer:
    """A loopback TCP server whose every connection is handed to ``serve(conn)`` on its own
    thread: the misbehaving peers (trickling, bombing, not reading) of the deadline and budget
    tests. ``connections`` counts what reached it."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.serve = serve
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass

    def stopped(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
