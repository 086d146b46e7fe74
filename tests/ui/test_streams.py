"""The change-feed forwarder: changes pass through in order, a daemon going away is said once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json

from midimon.engine.ui.context import UIContext
from midimon.engine.ui.streams import feed


def test_feed_forwards_changes_and_reports_the_daemon_gone(ui_home, daemon):
    ctx = UIContext.build(ui_home, "t" * 40, 8737)
    daemon.changes.put({"seq": 7, "time": 1.0, "kind": "plugin", "data": {"name": "hello", "enabled": False}})
    daemon.changes.put({"seq": 8, "time": 1.1, "kind": "mode", "data": {"from": "A", "to": "B"}})

    async def take() -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        gen = feed(ctx, since=6)
        async for ev in gen:
            out.append(ev)
            if len(out) == 3:
                daemon.close()  # the daemon stops while the page watches
                daemon.changes.put({"end": True})
            if ev["event"] == "daemon":
                break
        await gen.aclose()
        return out

    # its own thread and loop: Playwright's sync API may hold this thread's loop in a session
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        events = pool.submit(asyncio.run, asyncio.wait_for(take(), 10)).result()
    assert [e["event"] for e in events] == ["hello", "change", "change", "daemon"]
    assert [e.get("id") for e in events[1:3]] == ["7", "8"]
    assert json.loads(events[1]["data"])["data"]["name"] == "hello"
    assert json.loads(events[3]["data"])["up"] is False
    watch = [r for r in daemon.requests if r["command"] == "watch"]
    assert watch[0]["args"] == {"since": 6}
