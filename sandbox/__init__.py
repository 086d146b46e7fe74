"""midimon.sandbox: run untrusted plugin code under RestrictedPython in a worker process per
plugin, reaching the world only through capabilities the user granted.

The public surface is what this module exports; everything else is private implementation.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .audit import AuditLog
    from .errors import (
        CapabilityDenied,
        CapabilityFailed,
        PluginBusy,
        PluginCallError,
        PluginCompileError,
        PluginCrashed,
        PluginLoadError,
        PluginSuspended,
        PluginTimeout,
        SandboxError,
        ServiceUnavailable,
    )
    from .grants import ALWAYS_PRESENT, CAPABILITIES, CAPABILITY_OBJECTS, Grants, Scopes, grant_command
    from .host import PluginHost
    from .limits import Limits
    from .policy import CompiledPlugin, compile_plugin
    from .services import HostServices
    from .spawner import prepare

# Each name is imported on first use (PEP 562). The zygote, and so every worker forked from it,
# imports ``midimon.sandbox.zygote``, which runs this file first: eager imports here put the host
# side (the capability back ends with httpx, paho-mqtt, spotipy, requests...) into every worker's
# memory and start-up, and into `midimon` CLI commands that need one error class.
_LAZY = {
    "AuditLog": "audit",
    **dict.fromkeys(
        (
            "CapabilityDenied",
            "CapabilityFailed",
            "PluginBusy",
            "PluginCallError",
            "PluginCompileError",
            "PluginCrashed",
            "PluginLoadError",
            "PluginSuspended",
            "PluginTimeout",
            "SandboxError",
            "ServiceUnavailable",
        ),
        "errors",
    ),
    **dict.fromkeys(
        ("ALWAYS_PRESENT", "CAPABILITIES", "CAPABILITY_OBJECTS", "Grants", "Scopes", "grant_command"), "grants"
    ),
    "PluginHost": "host",
    "Limits": "limits",
    "CompiledPlugin": "policy",
    "compile_plugin": "policy",
    "HostServices": "services",
    "prepare": "spawner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'midimon.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"midimon.sandbox.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALWAYS_PRESENT",
    "AuditLog",
    "CAPABILITIES",
    "CAPABILITY_OBJECTS",
    "CapabilityDenied",
    "CapabilityFailed",
    "CompiledPlugin",
    "Grants",
    "HostServices",
    "Limits",
    "PluginBusy",
    "PluginCallError",
    "PluginCompileError",
    "PluginCrashed",
    "PluginHost",
    "PluginLoadError",
    "PluginSuspended",
    "PluginTimeout",
    "SandboxError",
    "Scopes",
    "ServiceUnavailable",
    "compile_plugin",
    "grant_command",
    "prepare",
]
