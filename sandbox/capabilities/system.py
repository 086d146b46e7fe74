"""``system``: keystrokes, text, volume and app launch through the engine's action back ends."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Capability, require_str

#: Allowed when the grant lists no actions. launch always needs the app named in the grant.
DEFAULT_ACTIONS = frozenset({"keystroke", "text", "volume"})


class SystemCapability(Capability):
    obj_name = "system"
    capability = "system_control"
    methods: ClassVar[frozenset[str]] = frozenset({"keystroke", "text", "volume", "launch"})

    def _check(self, action: str, target: str) -> None:
        grants = self.ctx.grants
        allowed = set(grants.allow.system) or (DEFAULT_ACTIONS | ({"launch"} if grants.allow.apps else set()))
        if action in grants.deny.system:
            raise self.deny(action, target, f"{action} is explicitly denied")
        if action not in allowed:
            raise self.deny(action, target, f"{action} is {self.scope_hint('system')}")

    def keystroke(self, keys: Any) -> None:
        keys = require_str(keys, "keys", 100)
        self._check("keystroke", keys)
        self.ctx.services.keystroke(keys)
        self.audit("keystroke", "allowed", keys)

    def text(self, text: Any) -> None:
        text = require_str(text, "text", 10000)
        self._check("text", f"{len(text)} characters")
        self.ctx.services.type_text(text)
        self.audit("text", "allowed", f"{len(text)} characters")

    def volume(self, level: Any = None, change: Any = None) -> None:
        if (level is None) == (change is None):
            raise TypeError("give exactly one of level (0.0-1.0) or change (-1.0-1.0)")
        value = level if level is not None else change
        if type(value) not in (int, float) or not (-1.0 <= value <= 1.0) or (level is not None and value < 0):
            raise ValueError("level must be 0.0-1.0 and change -1.0-1.0")
        self._check("volume", str(value))
        self.ctx.services.set_volume(
            float(level) if level is not None else None, float(change) if change is not None else None
        )
        self.audit("volume", "allowed", str(value))

    def launch(self, app: Any) -> None:
        app = require_str(app, "app", 256)
        self._check("launch", app)
        grants = self.ctx.grants
        if app in grants.deny.apps:
            raise self.deny("launch", app, "application is explicitly denied")
        if app not in grants.allow.apps:
            raise self.deny("launch", app, f"application is {self.scope_hint('apps')}")
        self.ctx.services.launch(app)
        self.audit("launch", "allowed", app)
