"""midimon.engine.live: the running daemon's live parts.

``attach(daemon)`` (called by `midimon run` before the daemon starts) takes the home's lock,
binds the control socket, reads the saved state, and, once the daemon has started, watches the
config and serves the socket. Everything it starts is closed by ``daemon.stop()``.

Hooks it uses on the daemon (``daemon.extensions``):
  ``saved_mode``        the mode to start in when ``--mode`` is not given
  ``start_hooks``       callables(daemon) run at the end of ``Daemon.start``
  ``reload_listeners``  callables(outcome) run after every reload
  ``reload_hooks``      callables() run by explicit reloads (SIGHUP, `midimon reload`): plugin rescans
"""

from __future__ import annotations

import logging

from midimon.engine.live.control import ControlServer
from midimon.engine.live.lock import AlreadyRunning, HomeLock
from midimon.engine.live.notify import Notifier
from midimon.engine.live.state import StateStore
from midimon.engine.live.watch import ConfigWatcher

log = logging.getLogger("midimon.live")

__all__ = ["AlreadyRunning", "Live", "attach"]


class Live:
    def __init__(self, daemon, *, socket_path=None, watch: bool = True, notifier: Notifier | None = None) -> None:
        from midimon.config import paths

        self.daemon = daemon
        self.lock = HomeLock(daemon.home)
        self.socket_path = socket_path or paths.socket_path()
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
        self.state = StateStore(d.home / "state.json", d)
        if self.state.saved_mode:
            d.extensions["saved_mode"] = self.state.saved_mode
        d.extensions.setdefault("start_hooks", []).append(self.on_start)
        d.extensions.setdefault("reload_listeners", []).append(self.on_reload)
        d.extensions.setdefault("reload_hooks", [])
        d.extensions["live"] = self
        return self

    def on_start(self, daemon) -> None:
        from midimon.engine.live.commands import install

        # each part on its own: one that fails to start is logged, the others still run
        try:
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

    def on_reload(self, outcome: dict) -> None:
        self.notifier.on_reload(outcome)
        if self.state is not None:
            self.state.mark()

    def close(self) -> None:
        for part in (self.watcher, self.server, self.state):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.exception("closing %r failed", part)
        self.lock.release()


def attach(daemon, **kw) -> Live:
    return Live(daemon, **kw).attach()
