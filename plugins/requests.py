"""Capability requests a plugin made without the grant, counted per (plugin, capability, what).

A denial is not a failure: it is shown as "needs a grant" with the command that grants it.
Denials arrive on call threads, often the same one again and again (a trigger polling every
50 ms), so they are counted here under a small lock of their own, and only the first of each
kind is reported; the manager copies them into the records at its next sync.
"""

from __future__ import annotations

import threading
import time

from .record import PermissionRequest

Key = tuple[str, str, str]  # plugin, capability, what was asked (a call or a --scope item)


class Requests:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Key, PermissionRequest] = {}

    def add(self, plugin: str, capability: str, what: str) -> tuple[PermissionRequest, bool]:
        """Count one denial; (its request, True when it is the first of its kind)."""
        now = time.time()
        with self._lock:
            req = self._items.get((plugin, capability, what))
            if req is None:
                req = self._items[(plugin, capability, what)] = PermissionRequest(plugin, capability, what, 1, now, now)
                return req, True
            req.count += 1
            req.last = now
            return req, False

    def of(self, plugin: str) -> dict[tuple[str, str], PermissionRequest]:
        """The plugin's requests as the record holds them: ``{(capability, what): request}``."""
        with self._lock:
            return {(c, w): r for (p, c, w), r in self._items.items() if p == plugin}

    def counts(self) -> dict[Key, int]:
        with self._lock:
            return {k: r.count for k, r in self._items.items()}

    def forget(self, plugin: str, capabilities: set[str] | None = None) -> None:
        """Drop the plugin's requests (those for ``capabilities``, or all): granted or disabled."""
        with self._lock:
            for key in [k for k in self._items if k[0] == plugin and (capabilities is None or k[1] in capabilities)]:
                del self._items[key]
