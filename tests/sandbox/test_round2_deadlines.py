"""Issue 10 finding 3, through a real daemon: a deadline is a total, whatever the other side does.

Attacks: ``shell.run`` with 200 KB of ``input`` to a program that never reads (the stdin write
blocked before the timeout started: 26 s against 5 s); an HTTP body trickled one byte every
0.5 s (httpx's timeout is per read: 18 s); headers trickled the same way; a command that leaves
a background child behind (it outlived the call). Each call has the default 5 s deadline; the
bounds (15 s) catch the old behaviour, not jitter."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from .test_round2_kit import (
    RawServer,
    cli,
    config,
    plugins_dir,
    press,
    read_request,
    ready,
    start_daemon,
    timed_status,
    wait_for,
    write,
)

pytestmark = pytest.mark.jack
__all__ = ["plugins_dir", "start_daemon"]

CALLER = '''"""Runs what the mapping asks for and records how it ended."""
capabilities = ["subprocess", "network"]


def execute(params, context):
    what = params["what"]
    if what == "stdin":
        # 60,000 characters, 180 KB: more than a pipe holds, for a program that never reads
        result = shell.run(["sleep", "30.417"], input="\u20ac" * 60000, timeout=30)
        outcome = "timed out" if result["timed_out"] else "finished"
    elif what == "background":
        shell.run(["sh", "-c", "sleep " + params["tag"] + " > /dev/null 2>&1 & echo started"])
        outcome = "finished"
    else:
        try:
            http.get(params["url"], timeout=30)
            outcome = "finished"
        except CapabilityError as exc:
            outcome = str(exc)
    store.set(params.get("key", what), outcome)
'''


def _store(home) -> dict:
    try:
        return json.loads((home / "plugins-data" / "caller" / "store.json").read_text())
    except (OSError, ValueError):
        return {}


def _mapping(note: int, params: str) -> str:
    return f"""
[[modes.mappings]]
trigger = {{ type = "Note", note = {note} }}
action = {{ type = "Plugin", plugin = "caller", params = {{ {params} }} }}
"""


def _trickle_body(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        conn.sendall(b"x")
        time.sleep(0.5)


def _trickle_headers(conn: socket.socket) -> None:
    read_request(conn)
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 200:
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


@pytest.fixture
def servers() -> Iterator[tuple[RawServer, RawServer]]:
    body, headers = RawServer(_trickle_body), RawServer(_trickle_headers)
    yield body, headers
    body.close()
    headers.close()


def test_every_capability_call_ends_within_the_call_deadline(harness, start_daemon, home, plugins_dir, servers):
    body, headers = servers
    write(plugins_dir / "caller.py", CALLER)
    cli("plugins", "grant", "caller", "subprocess", "--scope", "commands=sleep", "--yes", home=home)
    cli(
        "plugins", "grant", "caller", "network",
        "--scope", f"hosts={body.url}", "--scope", f"hosts={headers.url}", home=home,
    )  # fmt: skip
    d = start_daemon(
        config(
            harness,
            _mapping(36, 'what = "stdin"')
            + _mapping(37, f'what = "http", key = "body", url = "{body.url}/slow"')
            + _mapping(38, f'what = "http", key = "headers", url = "{headers.url}/slow"'),
        )
    )
    ready(d, "caller")
    for note, what in ((36, "stdin"), (37, "body"), (38, "headers")):
        n = len(d.lines)
        t0 = time.monotonic()
        press(harness, note)
        # status answers while the call is under way
        took, _doc = timed_status(home)
        assert took < 3.0, took

        def ended(what: str = what, n: int = n) -> str | None:
            # the capability gives up inside the call (the plugin records it), or the call
            # itself ends at its deadline (the daemon logs it): either is the deadline kept
            timeouts = [line for line in d.lines[n:] if "did not finish within" in line]
            return _store(home).get(what) or (timeouts[0] if timeouts else None)

        outcome = wait_for(ended, 25, what=f"the call of note {note} to end")
        elapsed = time.monotonic() - t0
        assert elapsed < 15.0, f"note {note}: the call outlived its 5 s deadline ({elapsed:.1f} s)"
        assert outcome == "timed out" or "did not finish within" in outcome, outcome
        assert not any("Traceback" in line for line in d.lines[n:])
    assert body.connections == 1 and headers.connections == 1
    # no sleep of the stdin attack is left (an odd duration: no other test's sleep matches)
    assert subprocess.run(["pgrep", "-f", "^sleep 30.417$"], capture_output=True).returncode != 0


def test_a_background_child_does_not_outlive_its_call(harness, start_daemon, home, plugins_dir):
    tag = f"{time.time() % 1000 + 100:.3f}"  # a unique duration names our own sleep
    write(plugins_dir / "caller.py", CALLER)
    cli("plugins", "grant", "caller", "subprocess", "--scope", "commands=sh", "--yes", home=home)
    d = start_daemon(config(harness, _mapping(36, f'what = "background", tag = "{tag}"')))
    ready(d, "caller")
    press(harness, 36)
    wait_for(lambda: _store(home).get("background") == "finished", 10, what="the call")

    def gone() -> bool:
        return subprocess.run(["pgrep", "-f", f"sleep {tag}"], capture_output=True).returncode != 0

    wait_for(gone, 5, what="the background sleep to be gone")
