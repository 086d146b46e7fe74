"""What every host-side capability shares: the plugin's context, grant checks, audit, plain data."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, ClassVar

from ..audit import AuditLog
from ..errors import CapabilityDenied
from ..grants import Grants, grant_command, scope_value
from ..services import HostServices


class ScopeDenied(CapabilityDenied):
    """A call outside the granted scopes; says which scope entry and which command would allow it."""

    def __init__(self, message: str, *, scope: str, command: str) -> None:
        super().__init__(message)
        #: ``"hosts=http://127.0.0.1:8080"``: the ``--scope`` item that was missing
        self.scope = scope
        #: ``midimon plugins grant NAME CAPABILITY --scope ...``, quoted, ``--yes`` if needed
        self.command = command


@dataclasses.dataclass
class CapabilityContext:
    plugin: str
    grants: Grants
    services: HostServices
    data_dir: Path
    audit: AuditLog
    #: ``time.monotonic()`` deadline of the plugin call being served; set by the host per call.
    deadline: float = 0.0

    def remaining(self, wanted: float | None, default: float, ceiling: float = 30.0) -> float:
        """Timeout for blocking work: what the plugin asked, never past the call's deadline."""
        budget = default if wanted is None else float(wanted)
        budget = max(0.05, min(budget, ceiling))
        if self.deadline:
            left = self.deadline - time.monotonic()
            budget = min(budget, max(0.05, left))
        return budget


def plain(value: Any, depth: int = 0) -> Any:
    """Rebuild ``value`` out of exact built-in types.

    Data from a worker is already exact (it came out of json.loads), but this is the rule every
    scope check relies on, so it is enforced here rather than assumed: a ``str`` subclass with a
    lying ``__eq__`` or ``startswith`` never reaches a comparison.
    """
    if depth > 64:
        raise ValueError("data is nested too deeply")
    if value is None or type(value) is bool:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value) if type(value) is not str else value
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("dictionary keys must be strings")
            out[plain(k, depth + 1)] = plain(v, depth + 1)
        return out
    raise TypeError(f"{type(value).__name__} is not plain data")


def require_str(value: Any, what: str, max_len: int = 4096) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string")
    value = plain(value)
    if len(value) > max_len:
        raise ValueError(f"{what} is longer than {max_len} characters")
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character")
    return value


class Capability:
    """Base class of host-side capability handlers. Public methods listed in ``methods`` are the
    whole surface a plugin can reach; each gets plain arguments and returns plain data."""

    obj_name: ClassVar[str] = ""
    #: The grant that unlocks this object; None for always-present objects (store).
    capability: ClassVar[str | None] = None
    methods: ClassVar[frozenset[str]] = frozenset()
    #: Methods that reach nothing outside the host (they only store the plugin's own settings)
    #: and so work without the grant; the others check it at every call.
    without_grant: ClassVar[frozenset[str]] = frozenset()
    #: the scope ``scope_hint`` named, for the ``deny`` that follows it
    _hint: str | None = None

    def __init__(self, ctx: CapabilityContext) -> None:
        self.ctx = ctx

    def audit(self, action: str, outcome: str, target: str = "", detail: str = "") -> None:
        self.ctx.audit.record(
            self.ctx.plugin, self.capability or self.obj_name, f"{self.obj_name}.{action}", outcome, target, detail
        )

    def deny(self, action: str, target: str, why: str) -> CapabilityDenied:
        """Audit a denial and build the error that tells the plugin author why. A denial for a
        scope (``scope_hint`` was just called) ends with the one command that grants it."""
        self.audit(action, "denied", target, why)
        scope, self._hint = self._hint, None
        message = f"plugin {self.ctx.plugin!r}: {self.obj_name}.{action}({target!r}) denied: {why}"
        value = scope_value(scope, target) if scope else None
        if scope is None or value is None:
            return CapabilityDenied(message)
        command = grant_command(self.ctx.plugin, self.capability or self.obj_name, {scope: [value]})
        return ScopeDenied(f"{message}; grant it with: {command}", scope=f"{scope}={value}", command=command)

    def scope_hint(self, scope: str) -> str:
        # Remembered for the ``deny`` that follows: it knows the target, so it can quote the
        # complete command (scope included) instead of one the user may already have run.
        self._hint = scope
        return f"not in the plugin's granted {scope}"

    def grants_changed(self, grants: Grants) -> None:
        """The user changed the plugin's grants (called from any thread, maybe during a call).

        Checks made per request need nothing here: they read ``ctx.grants`` every time. A
        handler holding something open on the strength of an old grant (an MQTT subscription)
        drops what the new grant no longer covers."""

    def close(self) -> None:
        """Release clients and connections (host shutdown or plugin stop)."""
