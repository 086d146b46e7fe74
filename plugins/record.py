"""One record per plugin: the only place its truth lives.

A :class:`PluginRecord` says where the plugin comes from, whether it is enabled, the version
running (kept by the runtime, the one reference a swap replaces), the version that failed to
replace it, whether it is suspended and why, and the capability requests it was refused. The
manager changes records only inside its one ``sync``, under its one lock; each change that shows
in the record's JSON bumps its ``seq`` and goes out on the change feed.

Counters that move on every call (calls, failures, denials, memory) are read live from the
worker's host without a lock when the JSON is built, and are not part of what bumps ``seq``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from midimon.sandbox.text import printable

from .discovery import Candidate
from .grants import SCOPE_CAPABILITY
from .runtime import Version

State = Literal["running", "idle", "disabled", "error", "suspended", "needs_grant", "stopped"]
#: the record's JSON keys that move on every call: shown, but never a reason to bump ``seq``
LIVE_KEYS = ("counters",)


@dataclass(frozen=True, slots=True)
class FailedVersion:
    """A version that failed to load (or to replace the running one)."""

    sha256: str | None
    error: dict[str, Any]  # file, line, col, message, text (runtime.describe_error)
    keeps_previous: bool
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "error": self.error["text"], "keeps_previous_version": self.keeps_previous}


@dataclass(frozen=True, slots=True)
class Suspension:
    reason: str
    since: float

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "since": self.since}


@dataclass(slots=True)
class PermissionRequest:
    """A capability call the plugin made without the grant; identical ones are counted."""

    plugin: str
    capability: str
    scope: str
    count: int
    first: float
    last: float

    @property
    def command(self) -> str:
        from midimon.sandbox.grants import grant_command

        # ``scope`` is a ``--scope`` item ("hosts=http://127.0.0.1:8080") for a scope denial,
        # the call ("http.get") for a missing capability: the command grants exactly that.
        return grant_command(self.plugin, self.capability, self.scope)

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "capability": self.capability,
            "scope": self.scope,
            "count": self.count,
            "first": self.first,
            "last": self.last,
            "command": self.command,
        }


@dataclass(slots=True)
class PluginRecord:
    name: str
    candidate: Candidate | None
    enabled: bool = True
    #: off for this run only (``midimon run --safe-mode``): not persisted
    safe_mode_off: bool = False
    failed: FailedVersion | None = None
    suspended: Suspension | None = None
    warnings: tuple[str, ...] = ()
    requests: dict[tuple[str, str], PermissionRequest] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    #: what the manager last tried to load: (file stamp, signature policy, trusted keys)
    attempted: tuple[Any, ...] | None = None
    #: the grants and settings (as JSON text) the running version was given
    decisions: tuple[str, str] | None = None
    seq: int = 0

    def state(self, version: Version | None, host_state: dict[str, Any] | None) -> State:
        if not self.enabled or self.safe_mode_off:
            return "disabled"
        if self.suspended is not None or (host_state or {}).get("status") == "suspended":
            return "suspended"
        if version is None:
            return "error" if self.failed is not None else "stopped"
        if version.init_error:
            return "error"
        if self.requests:
            return "needs_grant"
        if (host_state or {}).get("status") == "idle":
            return "idle"  # loaded, no worker yet: it starts at its first call
        return "running"

    def error(self, version: Version | None) -> dict[str, Any] | None:
        """The one error to show: a failed load, else a failed ``initialize()``."""
        if self.failed is not None:
            e = self.failed.error
            return {
                "file": e.get("file") or "",
                "line": e.get("line") or 0,
                "col": e.get("col") or 0,
                "message": printable(str(e.get("message", ""))),
                "text": printable(str(e.get("text", ""))),
            }
        if version is not None and version.init_error:
            path = str(self.candidate.path) if self.candidate and self.candidate.path else self.name
            return {"file": path, "line": 0, "col": 0, "message": version.init_error, "text": version.init_error}
        return None


def source_of(candidate: Candidate | None) -> str | None:
    return candidate.source if candidate is not None else None


def redact(settings: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """Settings with every secret (``"secret": true`` or ``writeOnly``) shown as ``{"set": true}``."""
    props = (schema or {}).get("properties") or {}
    out: dict[str, Any] = {}
    for key, value in settings.items():
        prop = props.get(key)
        secret = isinstance(prop, dict) and (prop.get("secret") is True or prop.get("writeOnly") is True)
        out[key] = {"set": value not in (None, "")} if secret else value
    return out


def signature_json(version: Version | None, source: str | None) -> dict[str, Any]:
    if source == "first_party":
        return {"status": "first_party", "message": "ships with midimon"}
    if version is None or version.verified is None:
        if source == "entry_point":
            return {"status": "trusted", "message": "installed with pip; runs unsandboxed"}
        return {"status": "unsigned", "message": "not loaded"}
    sig = version.verified.signature
    status = "signed" if sig.valid else ("invalid" if sig.signed else "unsigned")
    out: dict[str, Any] = {"status": status, "message": printable(str(sig.message))}
    if sig.key:
        out["key_id"] = sig.key
    return out


def by_capability(capabilities: Any, scopes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{capability: {scope key: value}}`` from a flat scope map (``hosts``, ``paths``...)."""
    out: dict[str, dict[str, Any]] = {cap: {} for cap in capabilities}
    for key, value in (scopes or {}).items():
        cap = SCOPE_CAPABILITY.get(key)
        if cap in out and value:
            out[cap][key] = value
    return out


def to_json(
    record: PluginRecord,
    version: Version | None,
    host_state: dict[str, Any] | None,
    mappings: list[dict[str, Any]],
) -> dict[str, Any]:
    """The record as the contract's plugin JSON (``plugins.list`` items, ``plugins.info``)."""
    decl = version.decl if version is not None else None
    source = source_of(record.candidate)
    hs = host_state or {}
    schema = decl.config_schema if decl is not None else None
    requested = by_capability(decl.capabilities, decl.scopes) if decl is not None else {}
    granted: dict[str, Any] = {}
    if version is not None and version.grants is not None:
        g = version.grants
        granted = by_capability(sorted(g.capabilities), g.allow.to_dict())
    susp = record.suspended
    if susp is None and hs.get("status") == "suspended":
        susp = Suspension(printable(str(hs.get("last_error") or "failed too often")), time.time())
    return {
        "name": record.name,
        "kind": decl.kind if decl is not None and decl.kind in ("action", "trigger") else None,
        "source": source,
        "path": str(record.candidate.path) if record.candidate and record.candidate.path else None,
        "shadows": record.candidate.shadows if record.candidate is not None else None,
        "enabled": record.enabled,
        "state": record.state(version, host_state),
        "version": (decl.version or None) if decl is not None else None,
        "description": printable(decl.description) if decl is not None else "",
        "author": printable(decl.author) if decl is not None else "",
        "homepage": printable(decl.homepage) if decl is not None else "",
        "license": printable(decl.license) if decl is not None else "",
        "sha256": version.verified.sha256 if version is not None and version.verified is not None else None,
        "signature": signature_json(version, source),
        "capabilities_requested": requested,
        "grants": granted,
        "pending_requests": [r.to_json() for r in record.requests.values()],
        "settings": redact(record.settings, schema),
        "config_schema": schema,
        "error": record.error(version),
        "failed_version": record.failed.to_json() if record.failed is not None and version is not None else None,
        "suspended": susp.to_json() if susp is not None else None,
        "warnings": [printable(w) for w in record.warnings],
        "counters": {
            "calls": int(hs.get("calls", 0) or 0),
            "failures": int(hs.get("failures", 0) or 0),
            "timeouts": int(hs.get("timeouts", 0) or 0),
            "denials": int(hs.get("denials", 0) or 0) or sum(r.count for r in record.requests.values()),
            "memory_mb": hs.get("memory_mb"),
        },
        "last_call_error": printable(str(hs.get("last_error") or "")) or None,
        "mappings": mappings,
        "seq": record.seq,
    }


def with_live(
    data: dict[str, Any], host_state: dict[str, Any] | None, trigger: dict[str, Any] | None
) -> dict[str, Any]:
    """A published record with what moves on every call read now: the counters, the last call
    error, a suspension that happened on a call thread since the last sync, a trigger's polls."""
    out = dict(data)
    if host_state is not None:
        hs = host_state
        out["counters"] = {
            **data["counters"],
            **{k: hs.get(k, 0) for k in ("calls", "failures", "timeouts")},
            "denials": hs.get("denials", 0),
            "memory_mb": hs.get("memory_mb"),
            "memory_warning": hs.get("memory_warning"),  # past 80% of the limit, else None
        }
        out["last_call_error"] = printable(str(hs.get("last_error") or "")) or None
        if out["state"] == "idle" and hs.get("status") == "running":
            out["state"] = "running"  # its first call started it since the last sync
        if hs.get("status") == "suspended" and out["state"] != "disabled":
            out["state"] = "suspended"  # the next sync records it
            out["suspended"] = out.get("suspended") or {
                "reason": printable(str(hs.get("last_error"))),
                "since": time.time(),
            }
    if trigger is not None:
        out["trigger"] = trigger  # polls, events, errors
    return out
