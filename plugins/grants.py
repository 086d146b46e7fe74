"""From the user's recorded decisions to the sandbox's ``Grants`` for one plugin version.

The state file records, per granted capability, the scopes granted with it: the scopes the plugin
declared at grant time plus any the user added (``--scope hosts=https://...``). A plugin version
gets the capabilities that are both granted and declared, with the recorded scopes only: an edit
that asks for more gets nothing new until the user grants again (``pending`` lists what waits).
"""

from __future__ import annotations

from typing import Any

from midimon.sandbox import Grants, Scopes
from midimon.sandbox.grants import BOOL_SCOPES

from .manifest import SCOPE_ALIASES, SCOPE_CAPABILITY, Declarations

#: What is granted without asking: nothing. ``log`` and ``store`` are always present (they
#: reach nothing outside the plugin's own data folder). Documented in docs/security.md.
AUTO_GRANT: frozenset[str] = frozenset()


def declared_scopes_for(decl: Declarations, capability: str) -> dict[str, Any]:
    return {k: v for k, v in decl.scopes.items() if SCOPE_CAPABILITY.get(k) == capability}


def parse_scope_args(items: list[str], capability: str) -> dict[str, Any]:
    """``["hosts=https://a", "topics=x/#"]`` -> scope fields, checked against the capability."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in SCOPE_ALIASES:
            raise ValueError(f"--scope {item!r}: use KEY=VALUE with KEY one of {', '.join(sorted(SCOPE_ALIASES))}")
        for field in SCOPE_ALIASES[key]:
            if SCOPE_CAPABILITY[field] != capability:
                raise ValueError(
                    f"--scope {key} belongs to the {SCOPE_CAPABILITY[field]!r} capability, not {capability!r}"
                )
            if field in BOOL_SCOPES:
                out[field] = value.strip().lower() in ("1", "true", "yes", "on")
            else:
                out[field] = sorted(set(out.get(field, [])) | {value.strip()})
    return out


def merge_scopes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if k in BOOL_SCOPES:
            out[k] = bool(out.get(k)) or bool(v)
        else:
            out[k] = sorted(set(out.get(k, [])) | set(v))
    return out


def effective(decl: Declarations, recorded: dict[str, Any]) -> tuple[Grants, dict[str, Any]]:
    """(the Grants this version runs with, what it asks for that is not granted)."""
    caps = set(decl.capabilities) & (set(recorded) | AUTO_GRANT)
    allow: dict[str, Any] = {}
    for cap in caps:
        allow = merge_scopes(allow, (recorded.get(cap) or {}).get("scopes") or {})
    pending: dict[str, Any] = {}
    missing = sorted(set(decl.capabilities) - caps)
    if missing:
        pending["capabilities"] = missing
    for key, value in decl.scopes.items():
        if SCOPE_CAPABILITY.get(key) not in caps:
            continue
        if key in BOOL_SCOPES:
            if value and not allow.get(key):
                pending[key] = True
            continue
        extra = sorted(set(value) - set(allow.get(key, [])))
        if extra:
            pending[key] = extra
    return Grants(capabilities=frozenset(caps), allow=Scopes.from_dict(allow)), pending
