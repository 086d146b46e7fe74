"""`restart` over the socket: a real `midimon run` closes its ports and re-executes itself with
the same arguments plus or minus --safe-mode (the same process id, a fresh interpreter)."""

from __future__ import annotations

import os

import pytest
from livekit import modes_config
from testkit.daemon import DaemonProcess
from testkit.jack import wait_for

OK = "def execute(params, context):\n    return 1\n"


def _status(sock):
    from midimon.engine.live.client import Client, NotRunning

    try:
        with Client(sock, timeout=5.0) as c:
            return c.call("status")
    except (NotRunning, OSError):
        return None


def test_restart_re_executes_in_safe_mode_and_back(short_home):
    if os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer; the test runs the daemon without MIDI")
    (short_home / "plugins").mkdir()
    (short_home / "plugins" / "mine.py").write_text(OK)
    d = DaemonProcess(short_home, modes_config("A"), env={"MIDO_BACKEND": "mido.backends.rtmidi/LINUX_ALSA"})
    sock = short_home / "run" / "midimon.sock"
    try:
        d.wait_log("control socket:")
        st = wait_for(lambda: _status(sock), 10, what="status")
        pid = st["pid"]
        mine = next(p for p in st["plugins"]["plugins"] if p["name"] == "mine")
        assert st["safe_mode"] is False and mine["state"] == "running"
        from midimon.engine.live.client import Client

        n = len(d.lines)
        with Client(sock, timeout=5.0) as c:
            assert c.call("restart", {"safe_mode": True})["restarting"] is True
        d.wait_log("SAFE MODE", start=n, timeout=20)
        st = wait_for(lambda: (lambda s: s if s and s["safe_mode"] else None)(_status(sock)), 10, what="safe mode")
        mine = next(p for p in st["plugins"]["plugins"] if p["name"] == "mine")
        assert st["pid"] == pid and mine["state"] == "disabled" and mine["enabled"] is True
        assert d.proc.poll() is None
        n = len(d.lines)
        with Client(sock, timeout=5.0) as c:
            c.call("restart", {"safe_mode": False})
        d.wait_log("midimon is running", start=n, timeout=20)
        st = wait_for(lambda: (lambda s: s if s and not s["safe_mode"] else None)(_status(sock)), 10, what="back")
        assert next(p for p in st["plugins"]["plugins"] if p["name"] == "mine")["state"] == "running"
        assert "Traceback" not in d.log()
    finally:
        assert d.stop() == 0
