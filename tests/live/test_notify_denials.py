"""A denial makes one desktop notification per (plugin, capability, scope), quoting the grant
command from the request exactly (issue 11 point 5); a recorder stands in for notify-send."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from midimon.engine.feed import Feed
from midimon.engine.live.notify import Notifier
from midimon.plugins.record import PermissionRequest
from tests.live.test_notify import _calls, _recorder


def _request(plugin: str, capability: str, scope: str) -> dict[str, object]:
    now = time.time()
    return PermissionRequest(plugin, capability, scope, 1, now, now).to_json()


def test_each_distinct_denial_notifies_once_with_the_exact_command(tmp_path: Path) -> None:
    command, out = _recorder(tmp_path)
    feed = Feed()
    notifier = Notifier(command=command)
    feed.listeners.append(notifier.on_change)
    http = _request("http_request", "network", "hosts=http://127.0.0.1:8080")
    for _ in range(5):  # a trigger polling: denied again and again
        feed.publish("permission_request", http)
    [call] = _calls(out, 1)
    time.sleep(0.3)  # a second notification, if one were wrongly sent, has time to land
    assert len(_calls(out, 1)) == 1
    title, body = call[2], call[3]
    assert "http_request" in title
    expected = str(http["command"])
    assert expected.split() == shlex.split(expected)  # quoted for a shell, runnable as printed
    assert expected in body.splitlines()  # the whole command, on a line of its own
    assert shlex.split(expected) == [
        "midimon", "plugins", "grant", "http_request", "network", "--scope", "hosts=http://127.0.0.1:8080"
    ]  # fmt: skip

    # another scope of the same capability is another request: another notification
    mqtt = _request("http_request", "network", "hosts=http://127.0.0.1:9090")
    feed.publish("permission_request", mqtt)
    calls = _calls(out, 2)
    assert len(calls) == 2 and str(mqtt["command"]) in calls[1][3].splitlines()
    assert notifier.sent == 2


def test_a_dangerous_grant_command_keeps_its_yes_and_quoting(tmp_path: Path) -> None:
    command, out = _recorder(tmp_path)
    notifier = Notifier(command=command)
    req = _request("shellish", "subprocess", "commands=ls -la '/tmp/a b'")
    feed = Feed()
    feed.listeners.append(notifier.on_change)
    feed.publish("permission_request", req)
    [call] = _calls(out, 1)
    line = str(req["command"])
    assert line.endswith("--yes") and line in call[3].splitlines()
    assert shlex.split(line)[-3:-1] == ["--scope", "commands=ls -la '/tmp/a b'"]
