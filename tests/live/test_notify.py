"""Desktop notifications: one helper runs notify-send; plugin errors arrive through the feed."""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path

from midimon.engine.feed import Feed
from midimon.engine.live.notify import Notifier, notify

RECORDER = """#!{python}
import json, sys
with open({out!r}, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def _recorder(tmp_path: Path) -> tuple[str, Path]:
    out = tmp_path / "calls.jsonl"
    script = tmp_path / "notify-send"
    script.write_text(RECORDER.format(python=sys.executable, out=str(out)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), out


def _calls(out: Path, n: int, timeout: float = 10.0) -> list[list[str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists():
            lines = out.read_text().splitlines()
            if len(lines) >= n:
                return [json.loads(line) for line in lines]
        time.sleep(0.02)
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_notify_runs_the_command_with_title_body_and_urgency(tmp_path: Path) -> None:
    command, out = _recorder(tmp_path)
    assert notify("T", "B", urgency="critical", command=command)
    assert _calls(out, 1) == [["--app-name=midimon", "--urgency=critical", "T", "B"]]


def test_without_notify_send_nothing_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert notify("T", "B") is False


def test_a_plugin_error_on_the_feed_notifies_once_with_its_text_escaped(tmp_path: Path) -> None:
    command, out = _recorder(tmp_path)
    feed = Feed()
    notifier = Notifier(command=command)
    feed.listeners.append(notifier.on_change)
    error = {
        "file": "p.py",
        "line": 3,
        "message": "boom",
        "text": "p.py:3: boom \x1b[2J",
        "keeps_previous_version": True,
    }
    feed.publish("plugin_error", {"plugin": "evil\u202e", "error": error})
    feed.publish("plugin_error", {"plugin": "evil\u202e", "error": error})  # the same save again
    feed.publish("mode", {"from": "A", "to": "B"})
    [call] = _calls(out, 1)
    time.sleep(0.3)  # a second notification, if one were wrongly sent, has time to land
    assert len(_calls(out, 1)) == 1
    title, body = call[2], call[3]
    assert title == "midimon: plugin evil\\u202e not loaded"
    assert "\x1b" not in body and "\\x1b[2J" in body and body.startswith("The previous version keeps running.")
    # fixed, then broken the same way again: that is news
    feed.publish("plugin", {"name": "evil\u202e", "error": None, "failed_version": None})
    feed.publish("plugin_error", {"plugin": "evil\u202e", "error": error})
    assert len(_calls(out, 2)) == 2
    assert notifier.sent == 2


def test_the_daemon_notifies_a_plugin_error_from_its_feed(tmp_path: Path) -> None:
    """Wired for real: Live puts its notifier on the daemon's feed, and takes it off at close."""
    from midimon.engine.backends.memory import MemoryBackend
    from midimon.engine.daemon import Daemon
    from midimon.engine.desktop.base import Unavailable
    from midimon.engine.live import attach

    command, out = _recorder(tmp_path)
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.toml").write_text('[[modes]]\nname = "A"\n')
    daemon = Daemon(home / "config.toml", backend=MemoryBackend(["pads"]), desktop=Unavailable("tests"), home=home)
    live = attach(daemon, watch=False, notifier=Notifier(command=command))
    try:
        daemon.feed.publish("plugin_error", {"plugin": "p", "error": {"text": "p.py:1: boom"}})
        [call] = _calls(out, 1)
        assert call[2] == "midimon: plugin p not loaded" and "p.py:1: boom" in call[3]
    finally:
        live.close()
    assert live.notifier.on_change not in daemon.feed.listeners
