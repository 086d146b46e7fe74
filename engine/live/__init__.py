"""midimon.engine.live: the running daemon's live parts (lock, control socket, saved state,
config watcher), plugged into the daemon as one extension by ``attach(daemon)``
(:mod:`midimon.engine.live.live`).

The daemon's parts are imported where they are built, on first use of ``Live`` / ``attach``:
`midimon status` imports this package (for live.client) and must not pay for the server, the
watcher and the state store.
"""

from __future__ import annotations

from midimon.engine.live.lock import AlreadyRunning, HomeLock

TYPE_CHECKING = False  # not `from typing import`: typing is 4 ms of every CLI start
if TYPE_CHECKING:
    from midimon.engine.live.live import Live, attach

__all__ = ["AlreadyRunning", "HomeLock", "Live", "attach"]


def __getattr__(name: str):  # PEP 562: the heavy parts load when asked for
    if name in ("Live", "attach"):
        from midimon.engine.live import live

        return getattr(live, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
