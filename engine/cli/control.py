"""Commands that talk to the running daemon over its control socket.

`midimon status`, `reload`, `stop`, `mode [NAME]`, `send TYPE key=value...`, `monitor`, `learn`.
Each exits non-zero when the daemon is not running or says no. (`validate` and `devices`
work without a daemon and live in their own modules.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from midimon.engine.cli import add_json, fail, print_json


def _common(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
    p.add_argument("--socket", metavar="PATH", help="control socket (default: $XDG_RUNTIME_DIR/midimon/midimon.sock)")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait for the answer")
    if json_flag:
        add_json(p)


def register(sub) -> None:
    p = sub.add_parser("status", help="what the running daemon is doing")
    _common(p)
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("reload", help="reload the config now (the same as SIGHUP); prints the outcome")
    _common(p)
    p.set_defaults(handler=cmd_reload)

    p = sub.add_parser("stop", help="stop the running daemon")
    _common(p)
    p.set_defaults(handler=cmd_stop)

    p = sub.add_parser("mode", help="show the current mode, or switch to NAME (or next / previous)")
    p.add_argument("name", nargs="?")
    _common(p)
    p.set_defaults(handler=cmd_mode)

    p = sub.add_parser(
        "send",
        help="inject a MIDI event as if the device sent it",
        description="Example: midimon send note_on note=36 velocity=100 channel=0. Types: note_on, "
        "note_off, control_change (cc), pitchwheel, aftertouch, polytouch, program_change, sysex "
        "(data=240,1,2). Channels are 0-15.",
    )
    p.add_argument("type")
    p.add_argument("fields", nargs="*", metavar="KEY=VALUE")
    _common(p)
    p.set_defaults(handler=cmd_send)

    p = sub.add_parser("monitor", help="a live console of decoded events (--json: one event per line)")
    p.add_argument("--count", type=int, help="stop after this many lines")
    p.add_argument("--no-fired", action="store_true", help="do not show which mappings fired")
    _common(p)
    p.set_defaults(handler=cmd_monitor)

    p = sub.add_parser("watch", help="the change feed: plugin records, reloads, modes, errors (--json: one per line)")
    p.add_argument("--since", type=int, help="replay the changes after this sequence number first")
    p.add_argument("--count", type=int, help="stop after this many changes")
    _common(p)
    p.set_defaults(handler=cmd_watch)

    p = sub.add_parser("learn", help="press a control: get its trigger as a TOML snippet")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the first message (default 30)")
    _common(p)
    p.set_defaults(handler=cmd_learn)


def _client(args):
    from midimon.engine.live.client import Client

    return Client(args.socket or args.home.socket, timeout=args.timeout or 10.0)


def _call(args, command: str, payload: dict | None = None, timeout: float | None = None):
    """(answer, exit code) -- prints the failure itself."""
    from midimon.engine.live.client import NotRunning

    try:
        with _client(args) as c:
            answer = c.request(command, payload, timeout=timeout or args.timeout)
    except NotRunning as exc:
        return None, fail(str(exc), as_json=getattr(args, "json", False))
    except (OSError, TimeoutError) as exc:
        return None, fail(f"no answer from midimon: {exc}", as_json=getattr(args, "json", False))
    return answer, 0


def _result(args, command: str, payload: dict | None = None, timeout: float | None = None):
    """(result, None) when the daemon answered ok; (None, exit code) after saying why not."""
    answer, code = _call(args, command, payload, timeout)
    if answer is None:
        return None, code
    if not answer.get("ok"):
        return None, _failed(args, answer)
    return answer["result"], None


def _failed(args, answer) -> int:
    err = answer.get("error") or {}
    if getattr(args, "json", False):
        print_json(answer)
    else:
        print(f"midimon: error: {err.get('message', 'failed')}", file=sys.stderr)
    return 1


def _ago(t) -> str:
    if not t:
        return "never"
    s = max(0.0, time.time() - float(t))
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 5400:
        return f"{s / 60:.0f} min ago"
    return f"{s / 3600:.1f} h ago"


def _phases(outcome: dict) -> str:
    ph = outcome.get("phase_ms") or {}
    names = {"load_validate_compile_ms": "load+validate+compile", "swap_ms": "swap", "hooks_ms": "plugin hooks"}
    return ", ".join(f"{names.get(k, k)} {v:.1f} ms" for k, v in ph.items())


def _diagnostics(outcome: dict) -> list[str]:
    out = []
    for d in outcome.get("diagnostics") or []:
        where = d.get("file") or "config"
        if d.get("line") is not None:
            where += f":{d['line']}"
            if d.get("column") is not None:
                where += f":{d['column']}"
        key = f" {d['path']}:" if d.get("path") else ""
        out.append(f"{where}:{key} {d.get('message')}")
    if not out and outcome.get("error"):
        out.append(str(outcome["error"]))
    return out


def cmd_status(args) -> int:
    result, code = _result(args, "status")
    if code is not None:
        return code
    st = result
    if args.json:
        print_json(st)
        return 0
    up = st.get("uptime_s", 0)
    print(
        f"midimon is running (pid {st.get('pid')}, up {int(up // 3600)}h{int(up % 3600 // 60):02d}m{int(up % 60):02d}s)"
    )
    print(f"config:  {st.get('config')} (sha256 {str(st.get('config_sha256'))[:12]})")
    print(f"mode:    {st.get('mode')}   (modes: {', '.join(st.get('modes') or [])})")
    lr = st.get("last_reload") or {}
    if lr.get("ok"):
        extra = f", {lr['mappings']} mappings" if "mappings" in lr else ""
        ph = _phases(lr)
        print(
            f"reload:  ok {_ago(lr.get('time'))}"
            + (f" ({lr['source']})" if lr.get("source") else "")
            + extra
            + (f"; {ph}" if ph else "")
        )
    else:
        print(f"reload:  FAILED {_ago(lr.get('time'))} ({lr.get('source', '?')}); the previous config keeps running:")
        for line in _diagnostics(lr):
            print(f"           {line}")
    w = st.get("watcher") or {}
    if w:
        print(f"watcher: {w.get('state')}" + (f" ({w['error']})" if w.get("error") else ""))
    devs = st.get("devices") or []
    if st.get("midi_problem"):
        print(f"MIDI:    {st['midi_problem']}")
    print("devices:" if devs else "devices: none")
    for d in devs:
        port = f" -> {d['port']}" if d.get("port") else ""
        err = f" ({d['error']})" if d.get("error") else ""
        print(
            f"  {d.get('wanted')}: {d.get('state')}{port} since {_ago(d.get('since'))}, {d.get('connects', 0)} connects{err}"
        )
    relay = st.get("jack_relay") or {}
    if relay.get("active"):
        print(
            f"JACK:    in-cycle relay on ({relay.get('answered_keys', 0)} keys answered in the cycle, "
            f"{relay.get('relayed', 0)} events relayed)"
        )
    elif relay.get("reason") and "not JACK" not in relay["reason"]:
        print(f"JACK:    in-cycle relay off ({relay['reason']})")
    s = st.get("stats") or {}
    print(
        f"events:  {s.get('events', 0)} total, {st.get('events_per_second', 0):.1f}/s; actions {s.get('actions_fired', 0)} "
        f"fired, {s.get('actions_failed', 0)} failed"
    )
    plugins = (st.get("plugins") or {}).get("plugins") or []
    troubled = [p for p in plugins if p.get("state") in ("error", "suspended", "needs_grant")]
    if (st.get("plugins") or {}).get("safe_mode"):
        print("plugins: SAFE MODE (only first-party plugins run)")
    if troubled:
        from midimon.engine.cli.plugins import STATE_WORDS, error_line

        print("plugins needing attention:")
        for p in troubled:
            print(f"  {p['name']}: {STATE_WORDS.get(p['state'], p['state'])}: {error_line(p) or ''}".rstrip(": "))
    errs = st.get("recent_errors") or []
    if errs:
        print("recent errors:")
        for e in errs[-5:]:
            print(f"  {time.strftime('%H:%M:%S', time.localtime(e.get('time', 0)))} {e.get('message')}")
    return 0


def cmd_reload(args) -> int:
    answer, code = _call(args, "reload", timeout=args.timeout or 60.0)
    if answer is None:
        return code
    outcome = answer.get("result") if answer.get("ok") else (answer.get("error") or {}).get("outcome", {})
    if args.json:
        print_json(answer)
        return 0 if answer.get("ok") else 1
    if answer.get("ok"):
        total = sum((outcome.get("phase_ms") or {}).values())
        print(
            f"reloaded {outcome.get('mappings')} mappings in {total:.1f} ms ({_phases(outcome)}); mode {outcome.get('mode')}"
        )
        for w in outcome.get("warnings") or []:
            print(f"  warning: {w}")
        for e in outcome.get("hook_errors") or []:
            print(f"  plugin reload: {e}")
        return 0
    print("midimon: reload failed; the previous config keeps running:", file=sys.stderr)
    for line in _diagnostics(outcome) or [(answer.get("error") or {}).get("message", "")]:
        print(f"  {line}", file=sys.stderr)
    ph = _phases(outcome)
    if ph:
        print(f"  ({ph})", file=sys.stderr)
    return 1


def cmd_stop(args) -> int:
    result, code = _result(args, "stop")
    if code is not None:
        return code
    pid = result.get("pid")
    # return once the process is really gone (its ports closed), not merely asked to stop
    deadline = time.monotonic() + (args.timeout or 10.0)
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        return fail(f"midimon (pid {pid}) was asked to stop but is still running", as_json=args.json)
    if args.json:
        print_json({"ok": True, "stopped": pid})
    else:
        print(f"midimon (pid {pid}) stopped")
    return 0


def _alive(pid) -> bool:
    import os

    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, TypeError, ValueError):
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child, not yet reaped) is gone for our purposes
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def cmd_mode(args) -> int:
    result, code = _result(args, "mode", {"name": args.name} if args.name else {})
    if code is not None:
        return code
    r = result
    if args.json:
        print_json(r)
    elif "previous" in r:
        print(f"mode: {r['previous']} -> {r['mode']}")
    else:
        print(r["mode"])
    return 0


def _parse_fields(items: list[str]) -> dict:
    out: dict = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
        if key == "data":
            out[key] = [int(v, 0) for v in value.replace(" ", ",").split(",") if v]
        else:
            try:
                out[key] = int(value, 0)
            except ValueError:
                out[key] = value
    return out


def cmd_send(args) -> int:
    try:
        fields = _parse_fields(args.fields)
    except ValueError as exc:
        return fail(str(exc), as_json=args.json)
    result, code = _result(args, "send", {"type": args.type, **fields})
    if code is not None:
        return code
    sent = result["sent"]
    if args.json:
        print_json(result)
    else:
        print("sent " + " ".join(f"{k}={v}" for k, v in sent.items() if k != "device"))
    return 0


def _describe(item: dict) -> str:
    if "event" in item:
        ev = dict(item["event"])
        kind = ev.pop("type")
        dev = ev.pop("device", "")
        return f"{kind:<15} " + " ".join(f"{k}={v}" for k, v in ev.items()) + (f"   [{dev}]" if dev else "")
    if "fired" in item:
        f = item["fired"]
        return f"  -> {f['mapping']}: {f['trigger']} -> {f['action']}" + (
            f"  ({f['description']})" if f.get("description") else ""
        )
    if "mode_change" in item:
        return f"mode {item['mode_change']['from']} -> {item['mode_change']['to']}"
    return json.dumps(item)


def cmd_monitor(args) -> int:
    from midimon.engine.live.client import NotRunning, RequestFailed

    payload = {"fired": not args.no_fired}
    if args.count:
        payload["count"] = args.count
    try:
        with _client(args) as c:
            if not args.json:
                print(f"monitoring {c.path} (Ctrl-C to stop)", file=sys.stderr)
            for item in c.stream("monitor", payload):
                item.pop("id", None)
                if args.json:
                    sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
                else:
                    stamp = time.strftime("%H:%M:%S", time.localtime(item.get("time", time.time())))
                    sys.stdout.write(f"{stamp} {_describe(item)}\n")
                sys.stdout.flush()
    except NotRunning as exc:
        return fail(str(exc), as_json=args.json)
    except RequestFailed as exc:
        return fail(str(exc), as_json=args.json)
    return 0


def _change_words(change: dict) -> str:
    kind, data = change.get("kind"), change.get("data") or {}
    if kind == "plugin":
        return f"plugin {data.get('name')}: {data.get('state')}" + (
            f" ({(data.get('error') or {}).get('text')})" if data.get("error") else ""
        )
    if kind == "plugin_error":
        return f"plugin {data.get('plugin')} failed to load: {(data.get('error') or {}).get('text')}"
    if kind == "plugin_removed":
        return f"plugin {data.get('name')} removed"
    if kind == "mode":
        return f"mode {data.get('from')} -> {data.get('to')}"
    if kind == "reload":
        return f"reload {'ok' if data.get('ok') else 'FAILED'} ({data.get('source')})"
    if kind == "permission_request":
        return f"plugin {data.get('plugin')} needs {data.get('capability')}: {data.get('command')}"
    return f"{kind} {json.dumps(data, ensure_ascii=False)[:200]}"


def cmd_watch(args) -> int:
    from midimon.engine.live.client import NotRunning, RequestFailed

    payload: dict = {}
    if args.since is not None:
        payload["since"] = args.since
    if args.count:
        payload["count"] = args.count
    try:
        with _client(args) as c:
            for item in c.stream("watch", payload):
                item.pop("id", None)
                if args.json:
                    sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
                else:
                    ch = item.get("change") or {}
                    stamp = time.strftime("%H:%M:%S", time.localtime(ch.get("time", time.time())))
                    gap = "  (some changes were dropped: run midimon status)" if item.get("gap") else ""
                    sys.stdout.write(f"{stamp} #{ch.get('seq')} {_change_words(ch)}{gap}\n")
                sys.stdout.flush()
    except (NotRunning, RequestFailed) as exc:
        return fail(str(exc), as_json=args.json)
    return 0


def cmd_learn(args) -> int:
    if not args.json:
        print(f"press, turn or move one control on your device (waiting {args.wait:g} s)...", file=sys.stderr)
    result, code = _result(args, "learn", {"timeout": args.wait}, timeout=args.wait + 10)
    if code is not None:
        return code
    r = result
    if args.json:
        print_json(r)
        return 0
    cands = r["candidates"]
    if len(cands) > 1:
        print(f"that control sent {len(cands)} kinds of message; choose one:")
    for i, cand in enumerate(cands, 1):
        head = f"{i}. " if len(cands) > 1 else ""
        print(f"{head}{cand['why']} ({cand['messages']} messages)")
        if cand.get("toml"):
            print(f"   {cand['toml']}")
        for v in cand.get("variants") or []:
            print(f"   {v}")
    return 0
