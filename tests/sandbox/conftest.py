"""Fixtures for the sandbox tests: hosts that are always stopped, real local servers."""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from midimon.sandbox import AuditLog, Grants, HostServices, Limits, PluginHost


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "home" / "logs" / "audit.jsonl")


@pytest.fixture
def make_host(tmp_path: Path, audit: AuditLog) -> Iterator[Callable[..., PluginHost]]:
    hosts: list[PluginHost] = []

    def make(
        source: str,
        grants: Grants | dict[str, Any] | None = None,
        *,
        name: str = "testplug",
        limits: Limits | None = None,
        services: HostServices | None = None,
        start: bool = True,
        data_dir: Path | None = None,
        **kw: Any,
    ) -> PluginHost:
        if isinstance(grants, dict):
            grants = Grants.from_dict(grants)
        host = PluginHost(
            name,
            source,
            f"{name}.py",
            grants=grants or Grants(),
            limits=limits or Limits(call_timeout=3.0),
            services=services or HostServices(),
            data_dir=data_dir or tmp_path / "data" / name,
            audit=audit,
            **kw,
        )
        hosts.append(host)
        if start:
            host.start()
        return host

    yield make
    for host in hosts:
        host.stop()


class CountingHandler(http.server.BaseHTTPRequestHandler):
    """Answers by path; counts every request so a test can prove a server was never contacted."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hits: list[str] = []

    def _serve(self) -> None:
        self.hits.append(self.path)
        status, headers, body = self.routes.get(self.path.split("?")[0], (200, {}, f"hello from {self.path}".encode()))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


class LocalServer:
    def __init__(self) -> None:
        handler = type("Handler", (CountingHandler,), {"routes": {}, "hits": []})
        self.handler = handler
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def hits(self) -> list[str]:
        return self.handler.hits

    def route(self, path: str, status: int = 200, body: bytes = b"", **headers: str) -> None:
        self.handler.routes[path] = (status, {k.replace("_", "-"): v for k, v in headers.items()}, body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture
def evil_server() -> Iterator[LocalServer]:
    s = LocalServer()
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if binary is None:
        pytest.skip("mosquitto binary not installed (apt-get install mosquitto)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("mosquitto did not start")
    yield port
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


class Heartbeat:
    """A host thread that ticks every 10 ms; the largest gap shows whether the host stalled."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.01):
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
