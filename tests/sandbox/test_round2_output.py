"""Issue 10 findings 2 and 5, through a real daemon: what a plugin writes cannot forge a line
of the daemon's log, and cannot fill the disk.

Attacks: an exception message carrying a newline and a made-up log line (it was logged raw,
twice); print and log output carrying ESC, the 8-bit CSI 0x9B, a carriage return and a bidi
override; a trigger that prints 64 KiB every 5 ms (12.5 MB/s of log before)."""

from __future__ import annotations

import re
import time

import pytest

from .test_round2_kit import TRIGGER_ONLY, config, plugins_dir, press, ready, start_daemon, wait_for, write, written

pytestmark = pytest.mark.jack
__all__ = ["plugins_dir", "start_daemon"]

# the daemon's own line format starts with a time and a level
DAEMON_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR)\s")

FORGER = '''"""Raises with a forged log line in its message, and prints control characters."""
version = "1.0\\n12:00:00 INFO    plugin weather: version 2.0 active (declared)"


def execute(params, context):
    print("fine\\n12:00:00 INFO    plugin weather: version 9.9 active (print)")
    log.warning("esc \\x1b[2J csi \\x9b31m cr \\rover bidi \\u202egnp.exe")
    raise ValueError("x\\n12:00:00 INFO    plugin weather: version 2.0 active (forged)")
'''


def test_plugin_text_never_forges_a_daemon_log_line(harness, start_daemon, home, plugins_dir):
    write(plugins_dir / "forger.py", FORGER)
    d = start_daemon(
        config(
            harness,
            """
[[modes.mappings]]
trigger = { type = "Note", note = 36 }
action = { type = "Plugin", plugin = "forger" }
""",
        )
    )
    ready(d, "forger")
    declared = [line for line in d.lines if "(declared)" in line]
    assert declared and all("\\x0a12:00:00" in line for line in declared), declared
    n = len(d.lines)
    press(harness, 36)
    d.wait_log("ValueError", start=n)
    time.sleep(0.5)  # the runner logs the failure too
    out = d.lines[n:]
    for line in out:
        if "version 2.0 active" in line or "version 9.9 active" in line:
            # the made-up text is inside a record the plugin owns, never a line of its own
            assert not DAEMON_LINE.match(line) or "forger" in line.split("version")[0], line
            assert not line.startswith("12:00:00"), line
    assert not any(line.startswith("12:00:00") for line in out), out
    forged = [line for line in out if "(forged)" in line]
    assert forged and all("\\x0a12:00:00" in line for line in forged), forged
    printed = [line for line in out if "(print)" in line]
    assert printed and all(line.startswith("    | ") for line in printed), printed
    joined = "\n".join(out)
    for raw in ("\x1b", "\x9b", "\r", "\u202e"):
        assert raw not in joined, repr(raw)
    assert "\\x1b[2J" in joined and "\\x9b31m" in joined and "\\u202e" in joined


FLOODER = '''"""Prints 64 KiB of short lines at every poll, every 5 ms."""

poll_interval_ms = 5
BLOCK = ("spam " * 12 + "\\n") * 1000


def poll_events():
    print(BLOCK)
    return []
'''


def test_output_over_time_is_budgeted_and_suppressed_lines_are_counted(harness, start_daemon, home, plugins_dir):
    write(plugins_dir / "flooder.py", FLOODER)
    d = start_daemon(config(harness, TRIGGER_ONLY.format(name="flooder")))
    ready(d, "flooder")
    n, w0, t0 = len(d.lines), written(d.proc.pid), time.monotonic()
    time.sleep(4.0)
    lines, wrote, took = d.lines[n:], written(d.proc.pid) - w0, time.monotonic() - t0
    spam = [line for line in lines if "spam" in line]
    # budget: 50 lines and 32 KiB a second. Before, this was ~12 MB/s and ~200,000 lines/s.
    assert len(spam) <= 60 * (took + 1), len(spam)
    assert wrote < 256 * 1024 * (took + 1), wrote
    wait_for(lambda: any("lines" in line and "suppressed" in line for line in d.lines[n:]), 5, what="the count")
    assert d.proc.poll() is None


FAILER = '''"""Fails every other poll, every 5 ms, each time with a new message (never suspended)."""

poll_interval_ms = 5


def poll_events():
    n = len(calls)
    calls.append(1)
    if n % 2:
        raise ValueError("failure number " + str(n) + " " + "x" * 1500)
    return []


calls = []
'''


def test_error_texts_count_against_the_output_budget(harness, start_daemon, home, plugins_dir):
    write(plugins_dir / "failer.py", FAILER)
    d = start_daemon(config(harness, TRIGGER_ONLY.format(name="failer")))
    ready(d, "failer")
    n, t0 = len(d.lines), time.monotonic()
    time.sleep(4.0)
    took = time.monotonic() - t0
    # the host's line per failure is budgeted (32 KiB a second: about 21 of these 1.5 KB texts);
    # the trigger runner's own second line per new message is its room, not counted here
    failures = [line for line in d.lines[n:] if "failure number" in line and "trigger plugin" not in line]
    assert len(failures) < 30 * (took + 1), len(failures)
    wait_for(lambda: any("suppressed" in line for line in d.lines[n:]), 5, what="the count")
