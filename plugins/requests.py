"""Capability requests a plugin made without the grant, counted per (plugin, capability, what).

A denial is not a failure: it is shown as "needs a grant" with the command that grants it.
Denials arrive on call threads, often the same one again and again (a trigger polling every
50 ms), so they are counted here under a small lock of their own, and only the first of each
kind is reported; the manager copies them into the records at its next sync.

A request the user denied (``plugins.deny``) leaves the pending ones and is not reported again:
later identical denials are still counted (``denied_counts``), silently, until the daemon
restarts or the plugin's file changes (``undeny``).
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
        self._denied: dict[Key, int] = {}  # dismissed by the user -> denials counted since

    def add(self, plugin: str, capability: str, what: str) -> tuple[PermissionRequest, bool]:
        """Count one denial; (its request, True when it is the first of its kind)."""
        now = time.time()
        with self._lock:
            if (plugin, capability, what) in self._denied:
                self._denied[(plugin, capability, what)] += 1
                return PermissionRequest(plugin, capability, what, 1, now, now), False
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

    def deny(self, plugin: str, capability: str, what: str | None = None) -> list[Key]:
        """The user said no: the plugin's pending requests for ``capability`` (only ``what``,
        when given) leave the pending ones and stay silent. Returns the keys dismissed."""
        with self._lock:
            keys = [k for k in self._items if k[0] == plugin and k[1] == capability and (what is None or k[2] == what)]
            if what is not None and not keys:
                keys = [(plugin, capability, what)]  # denied before it was asked: still silent
            for key in keys:
                self._items.pop(key, None)
                self._denied.setdefault(key, 0)
            return keys

    def undeny(self, plugin: str) -> None:
        """The plugin's file changed: it is a new version, its requests are news again."""
        with self._lock:
            for key in [k for k in self._denied if k[0] == plugin]:
                del self._denied[key]

    def denied_counts(self, plugin: str) -> dict[tuple[str, str], int]:
        with self._lock:
            return {(c, w): n for (p, c, w), n in self._denied.items() if p == plugin}
