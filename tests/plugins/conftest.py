"""Fixtures for the plugin tests: a MIDIMON_HOME with a plugins folder, managers that are always
closed, the real daemon over JACK, local HTTP/Spotify servers and a real mosquitto."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from midimon.sandbox import Limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pluginkit import FakeSpotify, LocalServer, free_port
from testkit.jack import wait_for

REPO = Path(__file__).resolve().parents[2]
MIDIMON = str(Path(sys.executable).with_name("midimon"))


@pytest.fixture
def plugins_dir(home: Path) -> Path:
    d = home / "plugins"
    d.mkdir()
    return d


@pytest.fixture
def manager(home: Path, plugins_dir: Path) -> Iterator[Any]:
    """make(watch=False, **kw) -> a started PluginManager with submitted events (as engine events)
    in .events and what it published in .changes."""
    from midimon.config.home import Home
    from midimon.engine import events as E
    from midimon.plugins.manager import PluginManager
    from midimon.sandbox import HostServices

    made = []

    def make(watch: bool = False, **kw: Any) -> PluginManager:
        kw.setdefault("limits", Limits(call_timeout=3.0))
        kw.setdefault("services", HostServices())
        events: list = []
        changes: list = []
        kw.setdefault("publish", lambda kind, data: changes.append((kind, data)))
        kw.setdefault("submit", lambda p, n, d: events.append(E.Event(E.PLUGIN, device=p, name=n, data=d)))
        m = PluginManager(Home.at(home), watch=watch, **kw)
        m.events = events
        m.changes = changes
        m.start()
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


# -- JACK and the daemon -----------------------------------------------------------------------

# jack_env and harness come from tests/conftest.py


@pytest.fixture
def start_daemon(home: Path, jack_env):
    from testkit.daemon import DaemonProcess

    procs = []

    def start(config_text: str, **kw: Any) -> DaemonProcess:
        d = DaemonProcess(home, config_text, env=jack_env, **kw)
        procs.append(d)
        return d

    yield start
    for d in procs:
        d.stop()


# -- local servers -----------------------------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotify]:
    s = FakeSpotify()
    yield s
    s.close()


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """MIDIMON_TEST_MQTT (scripts/test) or our own mosquitto on a free loopback port."""
    given = os.environ.get("MIDIMON_TEST_MQTT")
    if given:
        host, port = given.rsplit(":", 1)
        yield host, int(port)
        return
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if binary is None:
        if os.environ.get("MIDIMON_REQUIRE_REAL"):
            pytest.fail("mosquitto is not installed but MIDIMON_REQUIRE_REAL is set")
        pytest.skip("mosquitto is not installed (scripts/test installs it)")
    port = free_port()
    conf = tmp_path_factory.mktemp("mqtt") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        wait_for(up, 5, what="mosquitto")
        yield "127.0.0.1", port
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
