"""What the user allowed a plugin to do: capabilities plus scopes, and a deny list that wins.

A grant names a capability (``network``, ``filesystem``, ...). Scopes narrow it: which hosts,
paths, commands, topics, ports. The plugin's own declarations are a request shown to the user;
only a ``Grants`` value decides anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
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
    #: Executables for ``shell.run`` (absolute paths, or names looked up on the daemon's PATH).
    commands: tuple[str, ...] = ()
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
            if field.name == "sysex":
                kwargs["sysex"] = bool(value)
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


def grant_command(plugin: str, capability: str) -> str:
    """The command a user runs to grant a capability; quoted in every denial."""
    return f"midimon plugins grant {plugin} {capability}"
