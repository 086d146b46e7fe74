"""Server-sent events: the daemon's change feed (``watch``) and its MIDI ``monitor``.

The browser keeps one EventSource to this server; this server keeps the socket stream and, when
the daemon goes away, says so (``daemon`` event) and reconnects by itself, resuming the feed
after the last sequence number it passed on. A daemon that restarted (another pid) starts a new
feed: the page is told to re-read everything (``hello`` with ``reset``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from midimon.engine.ui.context import UIContext
from midimon.engine.ui.daemon import DaemonDown, DaemonRefused

RETRY_S = 1.0
PING_S = 10


def _event(kind: str, data: Any, event_id: int | None = None) -> dict[str, str]:
    out = {"event": kind, "data": json.dumps(data, ensure_ascii=False, default=str)}
    if event_id is not None:
        out["id"] = str(event_id)
    return out


async def _daemon_pid(ctx: UIContext) -> int | None:
    try:
        ping = await ctx.daemon.call("ping", {}, timeout=5.0)
    except (DaemonDown, DaemonRefused):
        return None
    return ping.get("pid") if isinstance(ping, dict) else None


async def feed(ctx: UIContext, since: int | None) -> AsyncIterator[dict[str, str]]:
    last, pid, was_down = since, None, False
    while True:
        try:
            now_pid = await _daemon_pid(ctx)
            reset = pid is not None and now_pid != pid
            if reset:
                last = None  # a new daemon, a new feed: its numbers start again
            pid = now_pid
            async for item in ctx.daemon.stream("watch", {} if last is None else {"since": last}):
                if "result" in item:
                    head = item["result"] if isinstance(item["result"], dict) else {}
                    yield _event("hello", {"up": True, "reset": reset or was_down, "pid": pid, **head})
                    was_down = False
                    continue
                change = item.get("change")
                if isinstance(change, dict):
                    seq = change.get("seq")
                    last = seq if isinstance(seq, int) else last
                    yield _event("change", change, last)
        except DaemonDown as exc:
            if not was_down:
                yield _event("daemon", {"up": False, "message": str(exc)})
            was_down = True
        except DaemonRefused as exc:
            # a daemon without `watch`: the page polls instead of following the feed
            yield _event("daemon", {"up": True, "watch": False, "message": str(exc)})
            await asyncio.sleep(5 * RETRY_S)
            continue
        else:
            # the stream ended: the daemon stopped or restarted
            yield _event("daemon", {"up": False, "message": ctx.daemon.down_message()})
            was_down = True
        await asyncio.sleep(RETRY_S)


async def monitor(ctx: UIContext) -> AsyncIterator[dict[str, str]]:
    was_down = False
    while True:
        try:
            async for item in ctx.daemon.stream("monitor", {"fired": True}):
                if "result" in item:
                    yield _event("hello", {"up": True, **(item["result"] or {})})
                    was_down = False
                    continue
                item.pop("id", None)
                yield _event("midi", item)
        except DaemonDown as exc:
            if not was_down:
                yield _event("daemon", {"up": False, "message": str(exc)})
            was_down = True
        except DaemonRefused as exc:
            yield _event("daemon", {"up": True, "message": str(exc)})
        await asyncio.sleep(RETRY_S)


async def events_route(request: Request) -> Response:
    ctx: UIContext = request.app.state.ctx
    raw = request.query_params.get("since") or request.headers.get("last-event-id")
    since = int(raw) if raw and raw.isdigit() else None
    return EventSourceResponse(feed(ctx, since), ping=PING_S, headers={"cache-control": "no-store"})


async def monitor_route(request: Request) -> Response:
    ctx: UIContext = request.app.state.ctx
    return EventSourceResponse(monitor(ctx), ping=PING_S, headers={"cache-control": "no-store"})


routes = [
    Route("/api/events", events_route, methods=["GET"]),
    Route("/api/monitor", monitor_route, methods=["GET"]),
]
