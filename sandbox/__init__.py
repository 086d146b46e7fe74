"""midimon.sandbox: run untrusted plugin code under RestrictedPython in a worker process per
plugin, reaching the world only through capabilities the user granted.

The public surface is what this module exports; everything else is private implementation.
"""

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
