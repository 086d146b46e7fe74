"""Worker side of the capabilities: stubs whose whole public surface is a few methods.

A stub holds no state and no client: each method call is sent to the host as plain data, and the
host decides everything (grant, scope, audit). A plugin that escaped RestrictedPython inside its
worker would still only hold the same socket, and the host would still check every request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Object name -> the methods the plugin may call. The host has the matching handlers.
STUB_METHODS: dict[str, tuple[str, ...]] = {
    "http": ("get", "post", "put", "delete", "request"),
    "mqtt": ("configure", "publish", "subscribe", "unsubscribe", "messages"),
    "spotify": (
        "configure",
        "play",
        "pause",
        "next",
        "previous",
        "volume",
        "current",
        "devices",
        "playlists",
        "now_playing",
    ),
    "fs": (
        "read_text",
        "write_text",
        "append_text",
        "read_json",
        "write_json",
        "list_dir",
        "exists",
        "stat",
        "delete",
        "mkdir",
    ),
    "midi": ("send", "ports"),
    "shell": ("run",),
    "system": ("keystroke", "text", "volume", "launch"),
    "audio": ("play",),
    "store": ("get", "set", "delete", "keys", "all"),
}
LOG_LEVELS = ("debug", "info", "warning", "error")

Rpc = Callable[[str, str, tuple[Any, ...], dict[str, Any]], Any]


class CapabilityError(Exception):
    """What a plugin catches when the host refuses or fails a capability call."""


def _method(obj_name: str, method_name: str, rpc: Rpc) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return rpc(obj_name, method_name, args, kwargs)

    method.__name__ = method_name
    method.__qualname__ = f"{obj_name}.{method_name}"
    method.__doc__ = f"{obj_name}.{method_name}(...): handled by the midimon host"
    return method


def make_stub(obj_name: str, rpc: Rpc) -> object:
    namespace: dict[str, Any] = {"__slots__": (), "__doc__": f"midimon capability {obj_name!r}"}
    for name in STUB_METHODS[obj_name]:
        namespace[name] = _method(obj_name, name, rpc)
    return type(obj_name, (), namespace)()


def make_log(sink: Callable[[str, str], None]) -> object:
    """``log`` stays in the worker: lines are batched and sent with the call's reply."""

    def level_method(level: str) -> Callable[..., None]:
        def method(self: Any, *parts: Any) -> None:
            sink(level, " ".join(str(p) for p in parts))

        method.__name__ = level
        return method

    namespace: dict[str, Any] = {"__slots__": (), "__doc__": "midimon plugin log"}
    for level in LOG_LEVELS:
        namespace[level] = level_method(level)
    return type("log", (), namespace)()
