"""Issue 10 finding 9, through a real daemon: ``midimon status`` never waits on a plugin call.

A trigger plugin whose poll sleeps 4.5 s held the host's call lock, and ``status`` read the
host's counters under that lock: every ``midimon status`` took up to 4.5 s."""

from __future__ import annotations

import pytest

from .test_round2_kit import config, host_state, plugins_dir, ready, start_daemon, timed_status, wait_for, write

pytestmark = pytest.mark.jack
__all__ = ["plugins_dir", "start_daemon"]

SLEEPER = '''"""A trigger whose poll takes 4.5 s and says when it started."""
import time

poll_interval_ms = 100


def poll_events():
    store.set("polls", store.get("polls", 0) + 1)
    time.sleep(4.5)
    return []
'''


def test_status_answers_while_a_poll_sleeps(harness, start_daemon, home, plugins_dir):
    write(plugins_dir / "sleeper.py", SLEEPER)
    d = start_daemon(
        config(
            harness,
            """
[[modes.mappings]]
description = "fires on the sleeper's event"
trigger = { type = "Plugin", plugin = "sleeper", event = "never" }
action = { type = "Shell", shell = true, command = "true" }
""",
        )
    )
    ready(d, "sleeper")
    # wait until a poll is under way (the host holds its call lock), then time status calls
    wait_for(lambda: (host_state(timed_status(home)[1], "sleeper") or {}).get("calls", 0) >= 2, 20, what="polls")
    times = []
    for _ in range(6):
        took, doc = timed_status(home)
        times.append(took)
        assert host_state(doc, "sleeper") is not None
    # each status is a CLI process start (~0.3 s here); a wait on the poll would add up to 4.5 s
    # to most of them. The bound is generous: a regression makes the median several seconds.
    times.sort()
    assert times[len(times) // 2] < 2.0, times
