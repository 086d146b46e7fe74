"""The live parts of a running daemon as one :class:`Extension`: the home's lock, the control
socket, the saved state and the config watcher.

``attach(daemon)`` (called by `midimon run` before the daemon starts) takes the home's lock,
binds the control socket and reads the saved state (the mode to start in); ``start`` (once the
engine runs) restores the state, watches the config and serves the socket; ``close`` undoes all
of it, in reverse.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from midimon.engine.extension import Extension
from midimon.engine.live.control import ControlServer
from midimon.engine.live.lock import AlreadyRunning, HomeLock
from midimon.engine.live.notify import Notifier
from midimon.engine.live.state import StateStore
from midimon.engine.live.watch import ConfigWatcher

if TYPE_CHECKING:
    from midimon.engine.daemon import Daemon

log = logging.getLogger("midimon.live")


class Live(Extension):
    def __init__(
        self,
        daemon: Daemon,
        *,
        socket_path: Path | None = None,
        watch: bool = True,
        notifier: Notifier | None = None,
    ) -> None:
        self.daemon = daemon
        self.lock = HomeLock(daemon.home.root)
        self.socket_path = Path(socket_path) if socket_path else daemon.home.socket
        self.server: ControlServer | None = None
        self.watcher: ConfigWatcher | None = None
        self.state: StateStore | None = None
        self.notifier = notifier or Notifier()
        self.watch = watch

    def attach(self) -> Live:
        d = self.daemon
        self.lock.acquire()
        try:
            self.server = ControlServer(d, self.socket_path)
            self.server.bind()
        except AlreadyRunning:
            self.lock.release()
            raise
        except OSError as exc:  # e.g. a path too long for AF_UNIX: run on, without the socket
            log.error(
                "cannot open the control socket %s (%s); `midimon status`, `reload` and `stop` will not "
                "reach this daemon (set XDG_RUNTIME_DIR to a short path)",
                self.socket_path,
                exc,
            )
            self.server = None
        self.state = StateStore(d.home.state, d)
        if self.state.saved_mode:
            d.saved_mode = self.state.saved_mode
        # a plugin version that failed to load is a desktop notification (plugins/ never notifies)
        d.feed.listeners.append(self.notifier.on_change)
        d.add(self)
        return self

    def start(self, daemon: Daemon) -> None:
        from midimon.engine.live.commands import install

        # each part on its own: one that fails to start is logged, the others still run
        try:
            if self.state is not None:
                self.state.on_start(daemon)
        except Exception:
            log.exception("restoring the saved state failed")
        if self.watch:
            try:
                self.watcher = ConfigWatcher(daemon)
                self.watcher.start()
            except Exception:
                log.exception("the config watcher cannot start; use `midimon reload` after editing")
        try:
            if self.server is not None:
                install(self.server, daemon, self)
                self.server.start()
        except Exception:
            log.exception("the control socket cannot start")

    def after_reload(self, daemon: Daemon, outcome: dict[str, Any]) -> None:
        self.notifier.on_reload(outcome)
        if self.state is not None:
            self.state.mark()

    def close(self) -> None:
        if self.notifier.on_change in self.daemon.feed.listeners:
            self.daemon.feed.listeners.remove(self.notifier.on_change)
        for part in (self.watcher, self.server, self.state):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.exception("closing %r failed", part)
        self.lock.release()


def attach(daemon: Daemon, **kw: Any) -> Live:
    return Live(daemon, **kw).attach()
