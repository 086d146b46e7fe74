"""The program inside a plugin's worker process: receive a request, run plugin code, reply.

It runs single-threaded, under the limits it applied to itself before reading the plugin, and
never holds anything of the host but its socket. The host may SIGKILL it at any moment; nothing
here needs to clean up.
"""

from __future__ import annotations

import base64
import marshal
import os
import signal
import socket
import sys
import types
from typing import Any

from . import confine, coverage_handback, precompiled
from .channel import Channel, ChannelClosed, encode_message
from .errors import PluginCompileError
from .guards import PluginGuards
from .limits import Limits, apply_process_limits, arm_cpu_limit
from .modules import make_importer
from .policy import compile_plugin
from .safe_builtins import allowed_bases, make_builtins
from .stubs import STUB_METHODS, CapabilityError, make_log, make_stub

DECLARATIONS = ("VERSION", "CAPABILITIES", "SCOPES", "PARAMS_SCHEMA", "CONFIG_SCHEMA", "KIND")
# module-level scope requests a single-file plugin may declare (docs/plugin-api.md)
SCOPE_NAMES = (
    "hosts",
    "paths",
    "read_paths",
    "write_paths",
    "commands",
    "topics",
    "publish",
    "subscribe",
    "brokers",
    "ports",
    "sysex",
    "apps",
    "sounds",
)


class _LogBuffer:
    """Print and log output of one call, bounded; sent to the host with the reply."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[list[str]] = []
        self.size = 0
        self.dropped = 0

    def add(self, level: str, text: str) -> None:
        if self.size >= self.limit:
            self.dropped += len(text)
            return
        piece = text[: self.limit - self.size]
        self.dropped += len(text) - len(piece)
        self.size += len(piece)
        if self.lines and self.lines[-1][0] == level == "print":
            self.lines[-1][1] += piece
        else:
            self.lines.append([level, piece])

    def take(self) -> list[list[str]]:
        lines = self.lines
        if self.dropped:
            lines.append(["warning", f"[{self.dropped} characters of output dropped: limit is {self.limit} per call]"])
        self.lines, self.size, self.dropped = [], 0, 0
        return lines


class Worker:
    def __init__(self, chan: Channel, limits: Limits) -> None:
        self.chan = chan
        self.limits = limits
        self.logs = _LogBuffer(limits.max_log_bytes_per_call)
        self.filename = "<plugin>"
        self.namespace: dict[str, Any] = {}
        #: The OS confinement steps that took effect (see ``confine.py``), reported on ping.
        self.confined: list[str] = []

    # -- capability calls go to the host ------------------------------------------------------
    def rpc(self, obj: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            frame = encode_message(
                {"op": "cap", "obj": obj, "method": method, "args": list(args), "kwargs": kwargs}, self.chan.limit
            )
        except ValueError as exc:
            raise TypeError(f"{obj}.{method}(): {exc}") from None
        self.chan.send_raw(frame)
        reply = self.chan.recv()
        if reply.get("op") == "cap_ok":
            return reply.get("value")
        raise CapabilityError(str(reply.get("message", "capability call failed")))

    # -- requests from the host ------------------------------------------------------------------
    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg.get("op")
        if op == "call":
            return self.call(str(msg.get("func", "")), msg.get("args") or [])
        if op == "load":
            return self.load(msg)
        if op == "ping":
            return {"op": "pong", "pid": os.getpid(), "confined": self.confined}
        return {"op": "raise", "type": "ProtocolError", "message": f"unknown op {op!r}", "file": "", "line": 0}

    def load(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.filename = str(msg["filename"])
        if isinstance(msg.get("code"), str):
            # the host compiled it under the same policy (a lazy start): its code object, as is;
            # the host is the trusted side, and this process runs only what the host sends
            code = marshal.loads(base64.b64decode(msg["code"]))
        elif (found := precompiled.take(str(msg["source"]), self.filename)) is not None:
            code = found  # the zygote compiled this very source once (an idle first-party plugin)
        else:
            try:
                code = compile_plugin(
                    str(msg["source"]), self.filename, max_source_bytes=self.limits.max_source_bytes
                ).code
            except PluginCompileError as exc:
                return {"op": "compile_error", **exc.to_dict()}
        guards = PluginGuards(lambda text: self.logs.add("print", text), allowed_bases=allowed_bases())
        importer, _ = make_importer()
        builtins = make_builtins(importer, {"CapabilityError": CapabilityError})
        namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "plugin", **guards.globals()}
        for obj in STUB_METHODS:
            namespace[obj] = make_stub(obj, self.rpc)
        namespace["log"] = make_log(self.logs.add)
        self.namespace = namespace
        arm_cpu_limit(self.limits.cpu_seconds_per_call)
        try:
            exec(code, namespace)
            info = self.info()
        except BaseException as exc:  # plugin code: anything, including SystemExit
            return {**self.describe(exc), "op": "load_error", "logs": self.logs.take()}
        return {"op": "loaded", "info": info, "logs": self.logs.take()}

    def info(self) -> dict[str, Any]:
        ns = self.namespace
        doc = ns.get("__doc__")
        description = doc.strip().splitlines()[0] if isinstance(doc, str) and doc.strip() else ""
        functions = sorted(
            name for name, value in ns.items() if self._is_plugin_function(value) and not name.startswith("_")
        )

        def declared(name: str, default: Any = None) -> Any:
            # the documented contract is lower case (version = "1.0"); upper case also works
            return ns.get(name, ns.get(name.upper(), default))

        scopes = declared("scopes", {})
        scopes = dict(scopes) if isinstance(scopes, dict) else {}
        for key in SCOPE_NAMES:
            if isinstance(ns.get(key), (list, tuple, bool)) and key not in scopes:
                scopes[key] = ns[key]
        info: dict[str, Any] = {
            "description": str(description),
            "version": declared("version", ""),
            "capabilities": declared("capabilities", []),
            "scopes": scopes,
            "params_schema": declared("params_schema"),
            "config_schema": declared("config_schema"),
            "kind": declared("kind", "trigger" if "poll_events" in functions else "action"),
            "functions": functions,
        }
        for key, value in info.items():
            try:
                encode_message(value, self.chan.limit)
            except ValueError as exc:
                raise TypeError(f"the plugin's {key} declaration must be plain data: {exc}") from None
        return info

    def _is_plugin_function(self, value: Any) -> bool:
        return isinstance(value, types.FunctionType) and value.__code__.co_filename == self.filename

    def call(self, name: str, args: list[Any]) -> dict[str, Any]:
        func = self.namespace.get(name)
        if name.startswith("_") or not self._is_plugin_function(func):
            return {
                "op": "raise",
                "type": "LookupError",
                "file": self.filename,
                "line": 0,
                "message": f"the plugin defines no function {name!r}",
                "logs": [],
                "missing": True,
            }
        arm_cpu_limit(self.limits.cpu_seconds_per_call)
        try:
            value = func(*args)  # type: ignore[misc]
            # Encoding (and so the plain-data check) happens when the loop sends the reply.
            return {"op": "return", "value": value, "logs": self.logs.take()}
        except BaseException as exc:  # plugin code: anything, including SystemExit
            return {**self.describe(exc), "logs": self.logs.take()}

    def describe(self, exc: BaseException) -> dict[str, Any]:
        """Plain description of a plugin exception: type name, message, the plugin's own line."""
        line = 0
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        try:
            message = str(exc)
        except BaseException:
            message = "<message could not be shown>"
        return {
            "op": "raise",
            "type": type(exc).__name__[:100],
            "message": message[:2000],
            "file": self.filename,
            "line": line,
        }


def run(sock: socket.socket, limits_data: dict[str, Any]) -> None:
    """Entry point in the freshly forked worker (see ``spawner.py``)."""
    limits = Limits.from_dict(limits_data)
    # Ctrl-C in the daemon's terminal is the daemon's business; the host stops workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The daemon's environment may hold tokens; a plugin has no use for any of it.
    # (The zygote is started with a scrubbed environment too, so /proc/self/environ is clean.)
    os.environ.clear()
    sys.setrecursionlimit(limits.recursion_limit)
    apply_process_limits(limits)
    # The second wall, for a plugin that gets out of Python: no files, sockets, processes or
    # signals beyond this socket (confine.py). Plugin code does not exist in the process yet.
    confined = confine.apply((sock.fileno(), *coverage_handback.keep_fds()))
    chan = Channel(sock, limits.max_message_bytes)
    worker = Worker(chan, limits)
    worker.confined = confined
    while True:
        try:
            msg = chan.recv()
        except ChannelClosed:
            coverage_handback.flush()  # scripts/coverage only; nothing in a normal run
            os._exit(0)
        try:
            reply = worker.handle(msg if isinstance(msg, dict) else {})
            try:
                chan.send(reply)
            except ValueError as exc:  # the plugin returned something that is not plain data
                chan.send(
                    {
                        "op": "raise",
                        "type": "TypeError",
                        "file": worker.filename,
                        "line": 0,
                        "message": f"the return value must be plain data: {exc}",
                        "logs": reply.get("logs", []),
                    }
                )
        except ChannelClosed:
            coverage_handback.flush()
            os._exit(0)
        except BaseException as exc:  # e.g. MemoryError while building the reply
            try:
                chan.send({**worker.describe(exc), "logs": []})
            except BaseException:
                os._exit(70)
