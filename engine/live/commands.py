"""What the control socket can be asked (docs/control-protocol.md lists them all)."""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any

from midimon.engine import events as E
from midimon.engine.live.control import STREAMED, CommandError, Connection, ControlServer
from midimon.engine.live.notify import first_problem

PROTOCOL = 1  # bumped when a command changes incompatibly; `hello` says it


def install(server: ControlServer, daemon, live) -> None:
    """Register every command on ``server``. ``live`` is the Live extension (watcher, state...)."""

    def ping(c, rid, args):
        return {"pong": True, "pid": os.getpid(), "time": time.time()}

    def status(c, rid, args):
        st = daemon.status()
        stats = st.get("stats", {})
        st.update(
            pid=os.getpid(),
            socket=str(server.path),
            home=str(daemon.home.root),
            events_per_second=stats.get("events_per_second", 0.0),
            recent_errors=stats.get("recent_errors", []),
            watcher=live.watcher.to_json() if live.watcher else None,
            state=live.state.to_json() if live.state else None,
            control={"clients": server.client_count, "requests": server.served},
        )
        return st

    def reload(c, rid, args):
        outcome = daemon.reload(source=str(args.get("source") or "midimon reload"), scope="all")
        if not outcome.get("ok"):
            raise CommandError("reload_failed", first_problem(outcome), outcome=outcome)
        return outcome

    def stop(c, rid, args):
        c.send({"id": rid, "ok": True, "result": {"stopping": True, "pid": os.getpid()}})
        threading.Thread(target=daemon.stop, name="midimon-stop", daemon=True).start()
        return STREAMED

    def mode(c, rid, args):
        eng = daemon.engine
        name = args.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise CommandError("bad_args", "name must be a string")
            old = eng.mode
            try:
                eng.set_mode(name)
            except ValueError as exc:
                raise CommandError("no_such_mode", str(exc), modes=list(eng.table.mode_order)) from None
            return {"mode": eng.mode, "previous": old, "modes": list(eng.table.mode_order)}
        return {"mode": eng.mode, "modes": list(eng.table.mode_order)}

    def send(c, rid, args):
        fields = dict(args)
        kind = fields.pop("type", None)
        if not isinstance(kind, str):
            raise CommandError("bad_args", "send needs args.type, e.g. note_on, control_change, pitchwheel")
        try:
            ev = E.from_fields(kind, fields)
        except ValueError as exc:
            raise CommandError("bad_args", str(exc)) from None
        daemon.engine.submit(ev)
        return {"sent": ev.to_json()}

    def validate(c, rid, args):
        from midimon.config import ConfigError
        from midimon.engine.daemon import build_table

        path = args.get("path") or daemon.config_path
        try:
            table, result = build_table(path, daemon.home)
        except ConfigError as exc:
            return {"valid": False, "path": str(path), "diagnostics": [d.to_json() for d in exc.diagnostics]}
        return {
            "valid": True,
            "path": str(path),
            "mappings": table.mapping_count,
            "modes": list(table.mode_order),
            "warnings": [w.to_json() for w in result.warnings],
        }

    def devices(c, rid, args):
        b = daemon.backend
        problem = b.problem()
        return {
            "backend": getattr(b, "name", None),
            "problem": problem,
            "inputs": [] if problem else b.input_names(),
            "outputs": [] if problem else b.output_names(),
            "connections": daemon.devices.to_json() if daemon.devices else [],
        }

    def monitor(c, rid, args):
        return _monitor(daemon, c, rid, args)

    def learn(c, rid, args):
        return _learn(daemon, c, args)

    def commands(c, rid, args):
        return sorted(server.commands)

    def hello(c, rid, args):
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = version("midimon")
        except PackageNotFoundError:
            ver = None
        return {"protocol": PROTOCOL, "version": ver, "pid": os.getpid(), "commands": sorted(server.commands)}

    def watch(c, rid, args):
        return _watch(daemon, c, rid, args)

    def restart(c, rid, args):
        safe = args.get("safe_mode", daemon.safe_mode)
        if not isinstance(safe, bool):
            raise CommandError("bad_args", "safe_mode must be true or false")
        c.send({"id": rid, "ok": True, "result": {"restarting": True, "safe_mode": safe, "pid": os.getpid()}})
        threading.Thread(target=daemon.restart, args=(safe,), name="midimon-restart", daemon=True).start()
        return STREAMED

    server.commands.update(
        ping=ping,
        status=status,
        reload=reload,
        stop=stop,
        mode=mode,
        send=send,
        validate=validate,
        devices=devices,
        monitor=monitor,
        learn=learn,
        commands=commands,
        hello=hello,
        watch=watch,
        restart=restart,
    )
    from midimon.engine.live.plugin_commands import install as install_plugins

    install_plugins(server, daemon)


def _watch(daemon, c: Connection, rid, args) -> Any:
    """Stream the change feed: a header, then one ``{"id", "change"}`` line per change."""
    since = args.get("since")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
        raise CommandError("bad_args", "since must be a sequence number (an integer >= 0)")
    sub = daemon.feed.subscribe(since)
    try:
        header = {"streaming": True, "seq": daemon.feed.seq, "gap": sub.gap}
        if not c.send({"id": rid, "ok": True, "result": header}):
            return STREAMED
        limit = args.get("count")
        sent = 0
        dropped = 0
        while not c.server.closing:
            change = sub.get(timeout=0.25)
            if change is None:
                if c.peer_gone():
                    break
                continue
            line: dict[str, Any] = {"id": rid, "change": change.to_json()}
            if sub.dropped != dropped:  # this subscriber was too slow: say so, the client re-reads status
                line["gap"] = True
                line["dropped"] = sub.dropped
                dropped = sub.dropped
            if not c.send(line):
                break
            sent += 1
            if isinstance(limit, int) and sent >= limit:
                break
    finally:
        sub.close()
    c.closed = True  # a watch connection ends with its stream
    return STREAMED


def _listen(daemon, on_event=None, on_mode=None, on_fire=None):
    """Attach listeners on the loop (so the lists never change under its feet); returns detach()."""
    eng = daemon.engine
    pairs = [
        (lst, fn)
        for lst, fn in ((eng.event_listeners, on_event), (eng.mode_listeners, on_mode), (eng.fire_listeners, on_fire))
        if fn is not None
    ]

    def add():
        for lst, fn in pairs:
            lst.append(fn)

    def remove():
        for lst, fn in pairs:
            if fn in lst:
                lst.remove(fn)

    eng.call_and_wait(add)

    def detach():
        try:
            eng.call_and_wait(remove)
        except Exception:
            eng.call_soon(remove)

    return detach


def _monitor(daemon, c: Connection, rid, args) -> Any:
    q: queue.Queue = queue.Queue(maxsize=10000)
    dropped = [0]

    def put(item):
        try:
            q.put_nowait(item)
        except queue.Full:
            dropped[0] += 1

    def on_event(ev):
        put({"event": ev.to_json(), "time": time.time(), "mode": daemon.engine.mode})

    def on_mode(old, new):
        put({"mode_change": {"from": old, "to": new}, "time": time.time()})

    def on_fire(b, ev, ctx):  # the engine does not guard fire listeners: this one never raises
        try:
            put(
                {
                    "fired": {
                        "mapping": b.path,
                        "description": b.description,
                        "trigger": b.trigger.type,
                        "action": b.action.type,
                    },
                    "time": time.time(),
                }
            )
        except Exception:
            pass

    detach = _listen(daemon, on_event, on_mode, on_fire if args.get("fired", True) else None)
    try:
        if not c.send({"id": rid, "ok": True, "result": {"streaming": True, "mode": daemon.engine.mode}}):
            return STREAMED
        limit = args.get("count")
        sent = 0
        while not c.server.closing:
            try:
                item = q.get(timeout=0.25)
            except queue.Empty:
                if c.peer_gone():
                    break
                continue
            if dropped[0]:
                item["dropped"], dropped[0] = dropped[0], 0
            item["id"] = rid
            if not c.send(item):
                break
            sent += 1
            if isinstance(limit, int) and sent >= limit:
                break
    finally:
        detach()
    c.closed = True  # a monitor connection ends with its stream
    return STREAMED


def _learn(daemon, c: Connection, args) -> Any:
    from midimon.engine.live.learn import analyse

    timeout = float(args.get("timeout", 30.0))
    settle = float(args.get("settle", 0.6))
    longest = float(args.get("window", 3.0))
    got: list[E.Event] = []
    first = threading.Event()
    lock = threading.Lock()
    last = [0.0]

    def on_event(ev):
        with lock:
            got.append(ev)
            last[0] = time.monotonic()
        first.set()

    detach = _listen(daemon, on_event)
    try:
        deadline = time.monotonic() + timeout
        while not first.wait(0.25):
            if time.monotonic() > deadline:
                raise CommandError(
                    "timeout", f"no MIDI message arrived in {timeout:g} s; press a control while learning"
                )
            if c.peer_gone():
                raise CommandError("cancelled", "the client went away")
        start = time.monotonic()
        while True:
            time.sleep(0.05)
            with lock:
                quiet = time.monotonic() - last[0]
            if quiet >= settle or time.monotonic() - start >= longest:
                break
    finally:
        detach()
    with lock:
        captured = list(got)
    return {"events": [e.to_json() for e in captured], "candidates": analyse(captured)}
