"""Issue 10 findings 2 and 5 for the trigger runner, through a real daemon: a trigger plugin's
poll errors (an exception, or a bad poll result) reach the log only inside the plugin's output
budget, escaped, and as the plugin's own record. The runner used to log a second line of its own
for every new message, outside the budget: a message that changes at every poll made one line a
poll (200 a second at 5 ms)."""

from __future__ import annotations

import re
import time

import pytest

from .test_round2_kit import TRIGGER_ONLY, config, plugins_dir, ready, start_daemon, wait_for, write, written

pytestmark = pytest.mark.jack
__all__ = ["plugins_dir", "start_daemon"]

DAEMON_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR)\s")

RAISER = '''"""Raises every other poll (never suspended), every 5 ms, a new multi-line message with a
made-up daemon line in it."""

poll_interval_ms = 5


def poll_events():
    n = len(calls)
    calls.append(1)
    if n % 2 == 0:
        return []
    raise ValueError("boom " + str(n) + "\\n12:00:00 INFO    plugin weather: version 2.0 active (forged " + str(n) + ")")


calls = []
'''

BAD_ITEMS = '''"""Returns a bad item at every poll, every 5 ms, each one different (quoted in the problem)."""

poll_interval_ms = 5


def poll_events():
    calls.append(1)
    return [{"event": 5, "note": "odd " + str(len(calls)) + "\\n12:00:00 INFO    forged \\u202e"}]


calls = []
'''


def _theirs(lines: list[str], word: str) -> list[str]:
    return [line for line in lines if word in line]


def _check_marked(lines: list[str], name: str) -> None:
    for line in lines:
        # every line the plugin caused is its own record (names it before its text) or marked
        # as a continuation of one; none reads as a line the daemon wrote
        assert line.startswith("    | ") or (DAEMON_LINE.match(line) and name in line.split("12:00:00 INFO")[0]), line
        assert not line.startswith("12:00:00"), line
        assert "\u202e" not in line and "\x1b" not in line, line


@pytest.mark.parametrize(("name", "source", "word"), [("raiser", RAISER, "forged"), ("baditems", BAD_ITEMS, "forged")])
def test_trigger_poll_errors_stay_inside_the_output_budget_and_are_marked(
    harness, start_daemon, home, plugins_dir, name, source, word
):
    write(plugins_dir / f"{name}.py", source)
    d = start_daemon(config(harness, TRIGGER_ONLY.format(name=name)))
    ready(d, name)
    n, w0, t0 = len(d.lines), written(d.proc.pid), time.monotonic()
    time.sleep(4.0)
    took, wrote = time.monotonic() - t0, written(d.proc.pid) - w0
    out = d.lines[n:]
    caused = _theirs(out, word)
    assert caused, out[-20:]  # the errors do reach the log (the check below is not vacuous)
    # budget: 50 lines a second. Before, the runner added a line of its own per new message
    # (~100 a second for the raiser, ~200 for the bad items)
    assert len(caused) <= 55 * (took + 1), len(caused)
    assert wrote < 256 * 1024 * (took + 1), wrote
    _check_marked(caused, name)
    assert d.proc.poll() is None
    wait_for(lambda: any("suppressed" in line for line in d.lines[n:]), 5, what="the suppressed count")
