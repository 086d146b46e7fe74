"""The daemon: wires config, table, engine, MIDI ports and back ends together.

Everything the daemon owns hangs off one :class:`Daemon` object. Its other parts (live editing
and the control socket, the plugin manager) plug in through one typed door: each is an
:class:`~midimon.engine.extension.Extension` given to ``add()``, prepared and started in order
and closed in reverse order by ``stop()``. Reloads say their scope: a config save re-runs the
config (and with it the plugin parameter checks), a plugin rescan re-checks the config without
scanning again, ``midimon reload`` does both; no reload triggers another.
"""

from __future__ import annotations

import logging
import logging.handlers
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from midimon.config import ConfigError, LoadResult, load_config
from midimon.config.home import Home
from midimon.engine.actions import ActionRunner
from midimon.engine.devices import DeviceManager
from midimon.engine.extension import Extension, ReloadScope
from midimon.engine.feed import Feed
from midimon.engine.feedback import Feedback
from midimon.engine.loop import Engine
from midimon.engine.midi_out import MidiOut
from midimon.engine.table import Table, compile_table

log = logging.getLogger("midimon")


def starter_text() -> str:
    from importlib.resources import files

    return files("midimon.config").joinpath("starter.toml").read_text(encoding="utf-8")


def ensure_config(path: Path) -> bool:
    """Write the commented starter config if ``path`` does not exist. True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_text(), encoding="utf-8")
    return True


LOG_FILE_BYTES = 5 * 1024 * 1024  # the daemon's own log file rotates at this size
LOG_FILE_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STOP_WAIT_S = 30.0  # how long a second stop() waits for the first to finish closing


def build_table(path: Path, home: Home, *, text: bytes | None = None) -> tuple[Table, LoadResult]:
    from midimon.engine.checks import config_checks  # key names, plugin parameters (the loader's checks=)

    result = load_config(path, text=text, checks=config_checks(home))
    return compile_table(result.config, str(path), result.sha256), result


def output_ports(config) -> list[str]:
    """The named MIDI outputs the config's SendMidi actions use."""
    from midimon.config import iter_actions
    from midimon.config.models import SendMidiAction

    return [a.port for a, _path in iter_actions(config) if isinstance(a, SendMidiAction) and a.port]


def _is_own_port(name: str, own: set[str]) -> bool:
    """Our virtual output seen as an input ("midimon:out" on JACK, "midimon:out 130:0" on ALSA):
    listening to it would feed midimon its own output."""
    client, _, port = name.partition(":")
    return client.strip().lower().startswith("midimon") and any(o in port for o in own)


class Daemon:
    def __init__(
        self,
        config_path: Path | None = None,
        *,
        backend=None,
        desktop=None,
        home: Home | Path,
        debug: bool = False,
        safe_mode: bool = False,
    ) -> None:
        # the caller's Home (midimon run: the CLI's one), or a folder to root one at (tests, tools)
        if not isinstance(home, Home):
            home = Home.at(home)
        if config_path is not None:
            home = home.with_config(config_path)
        self.home: Home = home
        self.config_path = home.config
        self.debug = debug  # --debug: DEBUG whatever the config's [logging] level says
        self.safe_mode = safe_mode
        self.feed = Feed()
        self.extensions: list[Extension] = []
        #: the mode to start in when none is given (engine.live restores the saved one)
        self.saved_mode: str | None = None
        #: runs Plugin actions (the plugin extension provides it)
        self.plugin_call: Callable[[str, dict, dict], Any] | None = None
        #: set by ``restart()``: `midimon run` re-executes itself with these safe-mode settings
        self.restart_requested: bool | None = None
        self._log_handler: logging.Handler | None = None
        self._backend = backend
        self._desktop = desktop
        self.started = time.time()
        self.engine: Engine | None = None
        self.devices: DeviceManager | None = None
        self.midi_out: MidiOut | None = None
        self.runner: ActionRunner | None = None
        self.feedback: Feedback | None = None
        self.last_reload: dict[str, Any] = {}
        self.warnings: list[str] = []
        self._reload_lock = threading.Lock()
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._closed = threading.Event()  # set once stop() has closed everything
        self._stopper: threading.Thread | None = None

    def use_backend(self, backend: Any) -> bool:
        """An extension's ``prepare`` offers the MIDI back end to run on (the JACK relay); one
        given to the constructor wins. True when taken."""
        if self._backend is not None:
            return False
        self._backend = backend
        return True

    def add(self, ext: Extension) -> Extension:
        """Plug a part in (before ``start``); ``stop`` closes the parts in reverse order."""
        self.extensions.append(ext)
        return ext

    # ------------------------------------------------------------------ start / stop
    def start(self, mode: str | None = None) -> None:
        for ext in self.extensions:
            ext.prepare(self)
        mode = mode or self.saved_mode
        table, result = build_table(self.config_path, self.home)
        self._apply_logging(result.config)
        for w in result.warnings:
            log.warning("%s", w)
        self.warnings = [str(w) for w in result.warnings]
        backend = self._backend
        if backend is None:
            from midimon.engine.backends import auto

            backend = auto()
        self.backend = backend
        problem = backend.problem()
        dev = result.config.device
        self.midi_out = MidiOut(backend, dev.virtual_output)
        if dev.virtual_output and not problem:
            try:
                self.midi_out.open_virtual()
            except Exception as exc:
                log.error("cannot create the virtual MIDI output %r: %s", dev.virtual_output, exc)
        self.midi_out.prepare(output_ports(result.config))
        self.engine = Engine(table, mode=mode)
        self.runner = ActionRunner(
            self.engine,
            midi_out=self.midi_out,
            desktop=self._desktop_backend(),
            plugins=self.plugin_call,
        )
        self.engine.runner = self.runner
        self.engine.mode_listeners.append(self._mode_changed)
        self.engine.start()
        own = {dev.virtual_output} if dev.virtual_output else set()
        self.devices = DeviceManager(
            backend,
            self.engine.submit,
            name=dev.name,
            port=dev.port,
            auto_connect=dev.auto_connect,
            auto_reconnect=dev.auto_reconnect,
            ignore=lambda n: _is_own_port(n, own),
        )
        feedback = self.feedback = Feedback(backend, self.engine, self._feedback_output(dev))
        self.engine.mode_listeners.append(feedback.on_mode)
        self.engine.event_listeners.append(feedback.on_event)
        self.devices.on_connect.append(lambda _port: feedback.resend(reopen=True))
        self.devices.start()
        feedback.resend()
        waiting = self.devices.waiting_message()
        if waiting:
            log.warning("%s", waiting)
        self.last_reload = {"ok": True, "time": time.time(), "sha256": table.sha256, "phase_ms": {}, "error": None}
        log.info(
            "midimon is running: %s (%d mappings, mode %r)%s",
            self.config_path,
            table.mapping_count,
            self.engine.mode,
            "; SAFE MODE: only first-party plugins run" if self.safe_mode else "",
        )
        for ext in self.extensions:
            ext.start(self)

    def _mode_changed(self, old: str, new: str) -> None:
        self.feed.publish("mode", {"from": old, "to": new})

    @staticmethod
    def _feedback_output(dev) -> str | None:
        return dev.feedback_output or dev.port or dev.name

    def _desktop_backend(self):
        if self._desktop is not None:
            return self._desktop
        from midimon.engine.desktop import auto

        return auto()

    def _apply_logging(self, config) -> None:
        """The config's ``[logging]``: its level (unless ``--debug``), and one rotating log file;
        a changed or removed ``file`` closes the handler it replaces."""
        root = logging.getLogger("midimon")
        root.setLevel(logging.DEBUG if self.debug else getattr(logging, config.logging.level.upper()))
        target = Path(config.logging.file).expanduser() if config.logging.file else None
        old = self._log_handler
        if old is not None and (target is None or getattr(old, "baseFilename", None) != str(target.absolute())):
            root.removeHandler(old)
            old.close()
            self._log_handler = old = None
        if target is not None and old is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            h = logging.handlers.RotatingFileHandler(
                target, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
            )
            h.setFormatter(logging.Formatter(LOG_FORMAT))
            root.addHandler(h)
            self._log_handler = h

    def restart(self, safe_mode: bool) -> None:
        """Stop, then `midimon run` starts again with the same arguments, plus or minus
        ``--safe-mode`` (it re-executes itself once the ports are closed)."""
        self.restart_requested = safe_mode
        self.stop()

    def stop(self) -> None:
        # Several threads may ask (the socket's stop/restart, a signal, the main loop): the first
        # closes everything; the others wait until it has, so nobody re-executes or exits while
        # a JACK client is still open (an open client replaced by exec stalls jackd).
        with self._stop_lock:
            first = not self._stopped.is_set()
            self._stopped.set()
        if not first:
            if threading.current_thread() is not self._stopper:
                self._closed.wait(STOP_WAIT_S)
            return
        self._stopper = threading.current_thread()
        try:
            self._close_all()
        finally:
            self._closed.set()

    def _close_all(self) -> None:
        # MIDI ports first: a JACK client that lingers (a plugin slow to shut down) and is then
        # killed with its ports open stalls the whole JACK graph
        if self.feedback:
            self.feedback.close()
        if self.devices:
            self.devices.close()
        if self.midi_out:
            self.midi_out.close()
        close = getattr(getattr(self, "backend", None), "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.debug("closing the MIDI back end failed", exc_info=True)
        for ext in reversed(self.extensions):
            try:
                ext.close()
            except Exception:
                log.exception("closing %s failed", type(ext).__name__)
        if self.engine:
            self.engine.stop()
        close = getattr(getattr(self.runner, "desktop", None), "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.debug("closing the desktop back end failed", exc_info=True)
        log.info("midimon stopped")
        if self._log_handler is not None:
            logging.getLogger("midimon").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    # ------------------------------------------------------------------ reload
    def reload(
        self, text: bytes | None = None, source: str = "request", scope: ReloadScope = "config"
    ) -> dict[str, Any]:
        """Load, validate and compile off the loop, then swap between two events.

        ``scope`` says why: ``config`` (a save, or the socket's ``reload`` of the config),
        ``plugins`` (the plugins changed: the config's plugin checks run again; the plugins
        are not rescanned), ``all`` (``midimon reload``, SIGHUP: each part reloads first).
        Never raises: a failure leaves the running table as it was and is reported.
        """
        with self._reload_lock:
            phases: dict[str, float] = {}
            t0 = time.perf_counter()
            for ext in self.extensions:
                try:
                    ext.before_reload(self, scope)
                except Exception:
                    log.exception("%s: before_reload failed", type(ext).__name__)
            if scope == "all":
                phases["plugins_ms"] = (time.perf_counter() - t0) * 1000
            outcome = self._reload_config(text, source, phases)
            outcome["scope"] = scope
            self.last_reload = outcome
            self.feed.publish("reload", outcome)
            for ext in self.extensions:
                try:
                    ext.after_reload(self, outcome)
                except Exception:
                    log.exception("%s: after_reload failed", type(ext).__name__)
            return outcome

    def _reload_config(self, text: bytes | None, source: str, phases: dict[str, float]) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            table, result = build_table(self.config_path, self.home, text=text)
        except ConfigError as exc:
            phases["load_validate_compile_ms"] = (time.perf_counter() - t0) * 1000
            log.error("config reload failed; the previous config keeps running.\n%s", exc)
            if self.engine:
                self.engine.stats.error(f"config reload failed: {exc.first()}")
            return {
                "ok": False,
                "time": time.time(),
                "source": source,
                "phase_ms": phases,
                "error": str(exc),
                "diagnostics": [d.to_json() for d in exc.diagnostics],
            }
        except Exception as exc:  # the reload machinery itself must never wedge
            log.exception("config reload crashed")
            return {
                "ok": False,
                "time": time.time(),
                "source": source,
                "phase_ms": phases,
                "error": f"internal error: {type(exc).__name__}: {exc}",
            }
        phases["load_validate_compile_ms"] = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        old_device = self.engine.table.config.device if self.engine else None
        problems: list[str] = []
        mode = None
        if self.engine is not None:
            try:
                mode = self.engine.swap_table(table)
            except Exception as exc:
                if self.engine.table is not table:  # the swap itself failed: nothing changed
                    log.exception("config reload: the swap failed")
                    return {
                        "ok": False,
                        "time": time.time(),
                        "source": source,
                        "phase_ms": phases,
                        "error": f"internal error: {type(exc).__name__}: {exc}",
                    }
                # a listener of the swap (a mode change) failed: the new table runs all the same
                log.exception("config reload: a listener of the swap failed")
                problems.append(f"swap listener: {type(exc).__name__}: {exc}")
                mode = self.engine.mode
        phases["swap_ms"] = (time.perf_counter() - t1) * 1000
        self.warnings = [str(w) for w in result.warnings]
        for w in result.warnings:
            log.warning("%s", w)
        # the new table is in place: what follows can fail without making the reload a failure
        for what, step in (
            ("logging", lambda: self._apply_logging(result.config)),
            ("devices", lambda: self._after_swap(old_device, result.config)),
        ):
            try:
                step()
            except Exception as exc:
                log.exception("after the reload: %s failed", what)
                problems.append(f"{what}: {type(exc).__name__}: {exc}")
        log.info(
            "config reloaded (%s): %d mappings in %.1f ms",
            source,
            table.mapping_count,
            (time.perf_counter() - t0) * 1000,
        )
        return {
            "ok": True,
            "time": time.time(),
            "source": source,
            "sha256": table.sha256,
            "mappings": table.mapping_count,
            "mode": mode,
            "phase_ms": phases,
            "warnings": self.warnings,
            "after_swap_errors": problems,
            "error": None,
        }

    def _after_swap(self, old_device, config) -> None:
        if old_device is not None and old_device != config.device:
            self._device_changed(config.device)
        elif self.feedback is not None:
            self.feedback.resend()  # the new config may light things differently
        if self.midi_out is not None:
            self.midi_out.prepare(output_ports(config))

    def _device_changed(self, dev) -> None:
        log.info("[device] changed: reconnecting")
        # only reached from a reload of a running daemon: all of these exist
        assert self.engine is not None and self.feedback is not None and self.runner is not None
        feedback = self.feedback
        old = self.devices
        if old:
            old.close()
        own = {dev.virtual_output} if dev.virtual_output else set()
        self.devices = DeviceManager(
            self.backend,
            self.engine.submit,
            name=dev.name,
            port=dev.port,
            auto_connect=dev.auto_connect,
            auto_reconnect=dev.auto_reconnect,
            ignore=lambda n: _is_own_port(n, own),  # never listen to our own virtual output
        )
        feedback.wanted = self._feedback_output(dev)
        self.devices.on_connect.append(lambda _port: feedback.resend(reopen=True))
        self.devices.start()
        if dev.virtual_output != (self.midi_out.virtual_name if self.midi_out else None):
            if self.midi_out:
                self.midi_out.close()
            self.midi_out = MidiOut(self.backend, dev.virtual_output)
            if dev.virtual_output:
                self.midi_out.open_virtual()
            self.runner.midi_out = self.midi_out

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        eng = self.engine
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "config": str(self.config_path),
            "config_sha256": eng.table.sha256 if eng else None,
            "mode": eng.mode if eng else None,
            "modes": list(eng.table.mode_order) if eng else [],
            "last_reload": self.last_reload,
            "devices": self.devices.to_json() if self.devices else [],
            "midi_backend": getattr(self.backend, "name", None),
            "midi_problem": self.devices.problem if self.devices else None,
            "outputs": self.midi_out.names() if self.midi_out else [],
            "desktop_problem": self.runner.desktop.problem() if self.runner and self.runner.desktop else None,
            "stats": eng.stats.to_json() if eng else {},
            "feedback": self.feedback.to_json() if self.feedback else None,
            "warnings": self.warnings,
            "safe_mode": self.safe_mode,
            "feed": self.feed.to_json(),
            **{ext.name: _section(ext) for ext in self.extensions if ext.name},
        }


def _section(ext: Extension) -> Any:
    """A status section from an extension (plugins...); a failing one must not break status."""
    try:
        return ext.status()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
