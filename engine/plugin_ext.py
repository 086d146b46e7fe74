"""The plugin manager as one of the daemon's parts (an :class:`Extension`).

The manager (``midimon.plugins``) knows nothing of the engine; this adapter is where the two
meet: it builds the ``HostServices`` from the daemon's MIDI out and desktop, turns submitted
trigger events into engine events, hands ``plugin_call`` to the action runner, and re-runs the
config's plugin checks after a plugin rescan (a ``plugins`` reload: the plugins are not scanned
again, and nothing reloads itself).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from midimon.engine import events as E
from midimon.engine.extension import Extension, ReloadScope
from midimon.engine.live.notify import notify
from midimon.plugins import config_checks
from midimon.plugins.manager import PluginManager
from midimon.sandbox import HostServices, Limits, SandboxError
from midimon.sandbox.text import printable

if TYPE_CHECKING:
    from midimon.engine.daemon import Daemon

log = logging.getLogger("midimon.plugins")


class PluginExtension(Extension):
    name = "plugins"

    def __init__(
        self, daemon: Daemon, *, limits: Limits | None = None, watch: bool = True, safe_mode: bool = False
    ) -> None:
        self.daemon = daemon
        self.manager = PluginManager(
            daemon.home,
            services=host_services(daemon),
            publish=daemon.feed.publish,
            submit=self._submit,
            limits=limits,
            watch=watch,
            safe_mode=safe_mode,
            on_rescan=self._rescanned,
        )
        self.manager.mappings = self._mappings
        self._prepared = False
        self._lines: tuple[str | None, dict[tuple[Any, ...], tuple[int, int]]] = (None, {})

    # -- the door --------------------------------------------------------------------------------
    def prepare(self, daemon: Daemon) -> None:
        # before the first config load, so its Plugin checks see the plugins that run
        config_checks.set_live(self.manager)
        daemon.plugin_call = self.manager.plugin_call
        self.manager.gate = lambda: daemon.engine is not None
        self.manager.start()
        self._prepared = True

    def start(self, daemon: Daemon) -> None:
        # the plugins loaded before the first config: start the idle ones it maps, off this
        # thread (a fork and initialize() each), as after a reload
        threading.Thread(target=self.manager.refresh, name="midimon-plugin-refresh", daemon=True).start()

    def before_reload(self, daemon: Daemon, scope: ReloadScope) -> None:
        if scope == "all":  # `midimon reload`, SIGHUP: the plugins too
            self.manager.sync("midimon reload")

    def after_reload(self, daemon: Daemon, outcome: dict[str, Any]) -> None:
        if outcome.get("ok"):
            # the records say where the config uses each plugin; off this thread, as a sync
            # may hold the manager's lock for a while
            threading.Thread(target=self.manager.refresh, name="midimon-plugin-refresh", daemon=True).start()

    def status(self) -> dict[str, Any] | None:
        return self.manager.status()

    def close(self) -> None:
        if self._prepared:
            config_checks.set_live(None)
        self.manager.close()

    # -- glue ------------------------------------------------------------------------------------
    def _submit(self, plugin: str, event: str, data: dict[str, Any]) -> None:
        engine = self.daemon.engine
        if engine is not None:
            engine.submit(E.Event(E.PLUGIN, device=plugin, name=event, data=data))

    def _rescanned(self, reason: str) -> None:
        if reason == "midimon reload" or self.daemon.engine is None:
            return  # that reload checks the config itself, right after this rescan
        # the config's Plugin mappings are checked again against the new plugin set
        threading.Thread(
            target=self.daemon.reload,
            kwargs={"source": "plugins changed", "scope": "plugins"},
            name="midimon-plugin-reload",
            daemon=True,
        ).start()

    def _mappings(self, name: str) -> list[dict[str, Any]]:
        """Where the running config uses plugin ``name`` (action or trigger)."""
        engine = self.daemon.engine
        if engine is None:
            return []
        from midimon.config.loader import iter_mappings

        out = []
        config = engine.table.config
        for mapping, path in iter_mappings(config):
            if _uses(mapping, name):
                mode = config.modes[path[1]].name if path[0] == "modes" else "global"
                pos = self._positions(engine.table.sha256).get(path)
                line = pos[0] if pos else None
                out.append({"mode": mode, "index": path[-1], "line": line, "description": mapping.description})
        return out

    def _positions(self, sha: str | None) -> dict[tuple[Any, ...], tuple[int, int]]:
        """Where each key of the running config stands (read once per config version)."""
        if self._lines[0] != sha:
            from midimon.config.locate import locate

            try:
                found = locate(self.daemon.config_path.read_text("utf-8"))
            except (OSError, UnicodeDecodeError):
                found = {}
            self._lines = (sha, found)
        return self._lines[1]


def _uses(mapping: Any, name: str) -> bool:
    from midimon.config.loader import _walk_actions
    from midimon.config.models import PluginAction, PluginTrigger

    if isinstance(mapping.trigger, PluginTrigger) and mapping.trigger.plugin == name:
        return True
    return any(isinstance(a, PluginAction) and a.plugin == name for a, _ in _walk_actions(mapping.action, ()))


def host_services(daemon: Daemon) -> HostServices:
    """What the sandbox may ask of the daemon: MIDI out and the desktop, looked up at each call
    (a ``[device]`` reload replaces the MIDI output)."""

    def midi_out() -> Any:
        if daemon.midi_out is None:
            raise SandboxError("MIDI output is not available yet")
        return daemon.midi_out

    def midi_send(port: str, msg: dict[str, Any]) -> None:
        fields = dict(msg)
        mtype = fields.pop("type")
        midi_out().send(port or None, mtype, **fields)

    def desktop() -> Any:
        runner = daemon.runner
        if runner is None or runner.desktop is None:
            raise SandboxError("the desktop back end is not available")
        return runner.desktop

    def keystroke(combo: str) -> None:
        parts = [p for p in combo.split("+") if p]
        desktop().keystroke(parts[-1], parts[:-1], 0)

    def set_volume(absolute: float | None, delta: float | None) -> None:
        if absolute is not None:
            desktop().volume("Set", round(absolute * 100), 0)
        elif delta:
            desktop().volume("Up" if delta > 0 else "Down", None, min(100, round(abs(delta) * 100)))

    def show_notification(title: str, body: str) -> None:
        # the words come from the plugin (and the services it calls): shown, never interpreted
        notify(printable(title), printable(body, keep_newlines=True))

    return HostServices(
        midi_send=midi_send,
        midi_output_ports=lambda: daemon.midi_out.names() if daemon.midi_out else [],
        keystroke=keystroke,
        type_text=lambda t: desktop().text(t),
        set_volume=set_volume,
        launch=lambda app: desktop().launch(app),
        notify=show_notification,  # spotify's now_playing
    )
