"""What the user allowed a plugin to do: capabilities plus scopes, and a deny list that wins.

A grant names a capability (``network``, ``filesystem``, ...). Scopes narrow it: which hosts,
paths, commands, topics, ports. The plugin's own declarations are a request shown to the user;
only a ``Grants`` value decides anything.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

#: Capability name -> the global objects it gives a plugin.
CAPABILITY_OBJECTS: dict[str, tuple[str, ...]] = {
    "network": ("http", "mqtt", "spotify"),
    "filesystem": ("fs",),
    "midi": ("midi",),
    "subprocess": ("shell",),
    "system_control": ("system",),
    "audio": ("audio",),
}
#: Objects every plugin has without a grant.
ALWAYS_PRESENT: tuple[str, ...] = ("log", "store")
CAPABILITIES: frozenset[str] = frozenset(CAPABILITY_OBJECTS)
OBJECT_TO_CAPABILITY: dict[str, str] = {obj: cap for cap, objs in CAPABILITY_OBJECTS.items() for obj in objs}
SYSTEM_ACTIONS: frozenset[str] = frozenset({"keystroke", "text", "volume", "launch"})
#: Scopes that are a yes/no, not a list: ``--scope sysex=true``.
BOOL_SCOPES: frozenset[str] = frozenset({"sysex", "data_home"})


def _strings(values: Iterable[Any] | None, what: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = (values,)
    out = []
    for v in values:
        if type(v) is not str:
            raise TypeError(f"{what} must be a list of strings, got {type(v).__name__}")
        out.append(v)
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class Scopes:
    """Where a capability may reach. Used twice in ``Grants``: once to allow, once to deny."""

    #: HTTP origins: "https://api.example.com", "http://127.0.0.1:8080", "https://*.example.com".
    hosts: tuple[str, ...] = ()
    #: MQTT brokers as "host:port" (port defaults to 1883).
    brokers: tuple[str, ...] = ()
    #: MQTT topic filters the plugin may publish to / subscribe to (+ and # allowed).
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    #: Filesystem roots beyond the plugin's own data folder.
    read_paths: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    #: Argv patterns for ``shell.run`` (``sandbox/commands.py``: "git status", "git log -n *").
    commands: tuple[str, ...] = ()
    #: True to run programs with HOME and the working directory in the plugin's data folder,
    #: where they read config files the plugin wrote; only the user grants it, never a default.
    data_home: bool = False
    #: MIDI output port names.
    ports: tuple[str, ...] = ()
    #: True to let ``midi.send`` send SysEx.
    sysex: bool = False
    #: System actions (keystroke, text, volume, launch); empty allows all but ``launch``.
    system: tuple[str, ...] = ()
    #: Applications ``system.launch`` may start.
    apps: tuple[str, ...] = ()
    #: Sound files or folders ``audio.play`` may use, beyond the plugin's data folder.
    sounds: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Scopes:
        data = dict(data or {})
        kwargs: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name not in data:
                continue
            value = data.pop(field.name)
            if field.name in BOOL_SCOPES:
                kwargs[field.name] = bool(value)
            else:
                kwargs[field.name] = _strings(value, field.name)
        if data:
            raise ValueError(f"unknown scope keys: {', '.join(sorted(data))}")
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class Grants:
    """The user's decision for one plugin. Deny beats allow everywhere."""

    capabilities: frozenset[str] = frozenset()
    allow: Scopes = Scopes()
    deny: Scopes = Scopes()
    denied_capabilities: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = (set(self.capabilities) | set(self.denied_capabilities)) - CAPABILITIES
        if unknown:
            raise ValueError(
                f"unknown capabilities: {', '.join(sorted(unknown))}; known: {', '.join(sorted(CAPABILITIES))}"
            )

    def has(self, capability: str) -> bool:
        return capability in self.capabilities and capability not in self.denied_capabilities

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Grants:
        data = data or {}
        return cls(
            capabilities=frozenset(_strings(data.get("capabilities"), "capabilities")),
            allow=Scopes.from_dict(data.get("allow")),
            deny=Scopes.from_dict(data.get("deny")),
            denied_capabilities=frozenset(_strings(data.get("denied_capabilities"), "denied_capabilities")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "capabilities": sorted(self.capabilities),
            "allow": self.allow.to_dict(),
            "deny": self.deny.to_dict(),
            "denied_capabilities": sorted(self.denied_capabilities),
        }


#: Capabilities that act on the machine itself: a grant asks first, or needs ``--yes``.
#: (A filesystem grant that writes is one too: see ``is_dangerous``.)
DANGEROUS_CAPABILITIES: frozenset[str] = frozenset({"subprocess", "system_control"})
#: Scope keys a ``--scope KEY=VALUE`` may name, in the order a printed command lists them.
SCOPE_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Scopes))


def is_dangerous(capability: str, scopes: Mapping[str, Any] | None = None) -> bool:
    """Does granting ``capability`` with ``scopes`` let a plugin act on the machine itself?
    Network, MQTT, MIDI, audio and read-only filesystem grants do not."""
    return capability in DANGEROUS_CAPABILITIES or (
        capability == "filesystem" and bool((scopes or {}).get("write_paths"))
    )


def scope_items(scopes: Mapping[str, Any] | str | None) -> list[str]:
    """``{"hosts": ["http://a:8080"]}`` (or one ``"hosts=http://a:8080"``) -> ``["hosts=http://a:8080"]``."""
    if not scopes:
        return []
    if isinstance(scopes, str):
        key, sep, value = scopes.partition("=")
        return [scopes] if sep and key in SCOPE_KEYS and value else []
    items: list[str] = []
    for key in SCOPE_KEYS:
        granted = scopes.get(key)
        if key in BOOL_SCOPES:
            if granted:
                items.append(f"{key}=true")
            continue
        for v in [granted] if isinstance(granted, str) else (granted or ()):
            items.append(f"{key}={v}")
    return items


def grant_command(
    plugin: str, capability: str, scopes: Mapping[str, Any] | str | None = None, *, yes: bool | None = None
) -> str:
    """The one command that grants exactly this, quoted for a POSIX shell; quoted in every
    denial, in ``midimon validate`` and in the log. ``--yes`` is added where the grant needs a
    confirmation (``yes=None``: decided by ``is_dangerous``)."""
    items = scope_items(scopes)
    words = ["midimon", "plugins", "grant", plugin, capability]
    for item in items:
        words += ["--scope", item]
    as_dict: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        as_dict.setdefault(key, []).append(value)
    if is_dangerous(capability, as_dict) if yes is None else yes:
        words.append("--yes")
    return shlex.join(words)


def scope_value(scope: str, target: str) -> str | None:
    """The scope entry that would allow ``target`` (what a denial was about), or None.

    hosts: the URL's origin (``http://127.0.0.1:8080``); paths: the absolute path; commands: the
    whole argv as one literal pattern; brokers, topics, ports, actions, apps: as given."""
    if not target:
        return None
    if scope == "hosts":
        from .capabilities.scopes import DEFAULT_PORTS, ScopeError, parse_url

        try:
            _, origin = parse_url(target)
        except (ScopeError, ValueError):
            return None
        host = f"[{origin.host}]" if ":" in origin.host else origin.host
        port = "" if DEFAULT_PORTS.get(origin.scheme) == origin.port else f":{origin.port}"
        return f"{origin.scheme}://{host}{port}"
    if scope in ("read_paths", "write_paths", "sounds"):
        return os.path.abspath(target) if os.path.isabs(target) else None
    return target if scope in SCOPE_KEYS and scope not in BOOL_SCOPES else None
