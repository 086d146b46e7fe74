"""Host side of the capabilities, and the broker that routes a worker's requests to them.

The broker is the one door: it maps an object name from the worker to its handler, checks the
grant, normalises the arguments to plain data, runs the handler and returns plain data or a
plain error message. Nothing the handler raises reaches the worker except as a sentence.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..audit import AuditLog
from ..errors import CapabilityDenied, CapabilityFailed
from ..grants import Grants, grant_command
from ..services import HostServices
from .audio import AudioCapability
from .base import Capability, CapabilityContext, ScopeDenied, plain
from .fs import FsCapability
from .midi import MidiCapability
from .shell import ShellCapability
from .store import StoreCapability
from .system import SystemCapability

#: obj name -> (module, class) of the back ends whose client libraries are heavy (httpx,
#: paho-mqtt, spotipy with requests and redis: about 20 MiB and 150 ms): imported the first time
#: a plugin uses one, not by every daemon start. ``HANDLERS`` (below) still lists every class.
LAZY_HANDLERS: dict[str, tuple[str, str]] = {
    "http": (".http", "HttpCapability"),
    "mqtt": (".mqtt", "MqttCapability"),
    "spotify": (".spotify", "SpotifyCapability"),
}


def _lazy_handler(obj: str) -> type[Capability] | None:
    spec = LAZY_HANDLERS.get(obj)
    if spec is None:
        return None
    cls: type[Capability] = getattr(importlib.import_module(spec[0], __name__), spec[1])
    return cls


def __getattr__(name: str) -> Any:
    if name == "HANDLERS":  # every handler class: this imports the heavy ones too
        return (*(_lazy_handler(obj) for obj in LAZY_HANDLERS), *EAGER_HANDLERS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EAGER_HANDLERS: tuple[type[Capability], ...] = (
    FsCapability,
    MidiCapability,
    ShellCapability,
    SystemCapability,
    AudioCapability,
    StoreCapability,
)
log = logging.getLogger("midimon.sandbox.capabilities")

__all__ = ["CapabilityBroker", "CapabilityContext", "Capability", "HANDLERS"]


class CapabilityBroker:
    """Serves one plugin's capability requests.

    ``handle`` is thread-compatible (its host serialises calls). ``set_grants`` may be called
    from any thread at any time: the grants are read once at the start of every request, so a
    revoke refuses the next request, and a request never sees half of an old and half of a
    new grant.
    """

    def __init__(self, plugin: str, grants: Grants, services: HostServices, data_dir: Path, audit: AuditLog) -> None:
        self.ctx = CapabilityContext(plugin, grants, services, data_dir, audit)
        self._handlers: dict[str, Capability] = {}
        self._grants = grants
        self._grants_lock = threading.Lock()
        #: refused requests so far (a denial is not the plugin's failure: the host reads this)
        self.denials = 0
        #: told (capability, what was asked) at each refusal, e.g. to show "needs a grant"
        self.on_denied: Callable[[str, str], None] | None = None

    @property
    def grants(self) -> Grants:
        with self._grants_lock:
            return self._grants

    def set_grants(self, grants: Grants) -> None:
        if not isinstance(grants, Grants):
            raise TypeError(f"grants must be a Grants value, not {type(grants).__name__}")
        with self._grants_lock:
            self._grants = grants
        for handler in list(self._handlers.values()):
            try:
                handler.grants_changed(grants)
            except Exception:  # a handler's fault must not stop the grant from applying
                log.warning("applying new grants to %s failed for plugin %s", handler.obj_name, self.ctx.plugin)
                log.debug("details", exc_info=True)

    def _handler(self, obj: str) -> Capability | None:
        handler = self._handlers.get(obj)
        if handler is None:
            for cls in (*EAGER_HANDLERS, *filter(None, [_lazy_handler(obj)])):
                if cls.obj_name == obj:
                    handler = self._handlers[obj] = cls(self.ctx)
        return handler

    def handle(self, obj: Any, method: Any, args: Any, kwargs: Any, deadline: float) -> tuple[bool, Any]:
        """(True, plain result) or (False, message for the plugin)."""
        self.ctx.deadline = deadline
        # One snapshot per request: the handler's scope checks see the grants that passed
        # the capability check below.
        self.ctx.grants = self.grants
        plugin = self.ctx.plugin
        handler = self._handler(obj) if isinstance(obj, str) else None
        if handler is None or not isinstance(method, str) or method not in handler.methods:
            return False, f"{obj}.{method}() does not exist"
        cap = handler.capability
        if cap is not None and method not in handler.without_grant and not self.ctx.grants.has(cap):
            refused = cap in self.ctx.grants.denied_capabilities
            handler.audit(method, "denied", "", "capability denied" if refused else "not granted")
            self._denied(cap, f"{obj}.{method}")
            if refused:
                return False, (
                    f"plugin {plugin!r} is denied the {cap!r} capability ({obj}.{method}); the user set this deny"
                )
            return False, (
                f"plugin {plugin!r} was not granted the {cap!r} capability needed "
                f"for {obj}.{method}(); grant it with: {grant_command(plugin, cap)}"
            )
        try:
            args = plain(args if isinstance(args, list) else [])
            kwargs = plain(kwargs if isinstance(kwargs, dict) else {})
            return True, plain(getattr(handler, method)(*args, **kwargs))
        except CapabilityDenied as exc:
            # a scope denial is known by its scope item ("hosts=http://..."), others by message
            self._denied(cap or str(obj), exc.scope if isinstance(exc, ScopeDenied) else str(exc))
            return False, str(exc)
        except CapabilityFailed as exc:
            return False, str(exc)
        except (TypeError, ValueError, LookupError, OSError) as exc:
            return False, f"{obj}.{method}(): {exc}"
        except Exception as exc:  # a bug in a handler must not reach the plugin or crash us
            log.warning("capability %s.%s failed for plugin %s: %s: %s", obj, method, plugin, type(exc).__name__, exc)
            log.debug("details", exc_info=True)
            return False, f"{obj}.{method}() failed inside midimon ({type(exc).__name__})"

    def _denied(self, capability: str, what: str) -> None:
        self.denials += 1
        if self.on_denied is not None:
            try:
                self.on_denied(capability, what)
            except Exception:  # the listener's fault must not change the plugin's answer
                log.debug("denial listener failed", exc_info=True)

    def close(self) -> None:
        for handler in self._handlers.values():
            try:
                handler.close()
            except Exception:
                log.debug("closing %s", handler.obj_name, exc_info=True)
        self._handlers.clear()
