"""The daemon: wires config, table, engine, MIDI ports and back ends together.

Everything the daemon owns hangs off one :class:`Daemon` object; the control socket, the
watchers and the plugin manager receive it and call its methods, never each other.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from midimon.config import ConfigError, LoadResult, load_config, paths
from midimon.engine.actions import ActionRunner
from midimon.engine.devices import DeviceManager
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


def config_checks():
    try:
        from midimon.plugins.config_checks import checks
    except ImportError:
        return ()
    return checks()


def build_table(path: Path, *, text: bytes | None = None) -> tuple[Table, LoadResult]:
    result = load_config(path, text=text, checks=config_checks())
    return compile_table(result.config, str(path), result.sha256), result


def output_ports(config) -> list[str]:
    """The named MIDI outputs the config's SendMidi actions use."""
    from midimon.config import iter_actions

    return [a.port for a, _path in iter_actions(config) if a.type == "SendMidi" and a.port]


def _is_own_port(name: str, own: set[str]) -> bool:
    """Our virtual output seen as an input ("midimon:out" on JACK, "midimon:out 130:0" on ALSA):
    listening to it would feed midimon its own output."""
    client, _, port = name.partition(":")
    return client.strip().lower().startswith("midimon") and any(o in port for o in own)


class Daemon:
    def __init__(
        self, config_path: Path | None = None, *, backend=None, desktop=None, home: Path | None = None
    ) -> None:
        self.home = home or paths.home()
        self.config_path = Path(config_path) if config_path else paths.config_file()
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
        self.extensions: dict[str, Any] = {}  # control socket, watcher, plugin manager...

    # ------------------------------------------------------------------ start / stop
    def start(self, mode: str | None = None) -> None:
        mode = mode or self.extensions.get("saved_mode")  # the mode saved in state.json (engine.live)
        table, result = build_table(self.config_path)
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
            plugins=self.extensions.get("plugin_call"),
        )
        self.engine.runner = self.runner
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
        self.feedback = Feedback(backend, self.engine, self._feedback_output(dev))
        self.engine.mode_listeners.append(self.feedback.on_mode)
        self.engine.event_listeners.append(self.feedback.on_event)
        self.devices.on_connect.append(lambda _port: self.feedback.resend(reopen=True))
        self.devices.start()
        self.feedback.resend()
        waiting = self.devices.waiting_message()
        if waiting:
            log.warning("%s", waiting)
        self.last_reload = {"ok": True, "time": time.time(), "sha256": table.sha256, "phase_ms": {}, "error": None}
        log.info(
            "midimon is running: %s (%d mappings, mode %r)", self.config_path, table.mapping_count, self.engine.mode
        )
        for hook in self.extensions.get("start_hooks", []):  # control socket, watcher, state (engine.live)
            hook(self)

    @staticmethod
    def _feedback_output(dev) -> str | None:
        return dev.feedback_output or dev.port or dev.name

    def _desktop_backend(self):
        if self._desktop is not None:
            return self._desktop
        try:
            from midimon.engine.desktop import auto
        except ImportError:
            from midimon.engine.desktop.base import Unavailable

            return Unavailable("desktop actions are not available in this build")
        return auto()

    def _apply_logging(self, config) -> None:
        level = getattr(logging, config.logging.level.upper())
        logging.getLogger("midimon").setLevel(level)
        if config.logging.file:
            target = Path(config.logging.file).expanduser()
            root = logging.getLogger("midimon")
            if not any(getattr(h, "baseFilename", None) == str(target) for h in root.handlers):
                target.parent.mkdir(parents=True, exist_ok=True)
                h = logging.FileHandler(target)
                h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
                root.addHandler(h)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
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
        for ext in list(self.extensions.values()):
            close = getattr(ext, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing %r failed", ext)
        if self.engine:
            self.engine.stop()
        close = getattr(getattr(self.runner, "desktop", None), "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.debug("closing the desktop back end failed", exc_info=True)
        log.info("midimon stopped")

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    # ------------------------------------------------------------------ reload
    def reload(self, text: bytes | None = None, source: str = "request") -> dict[str, Any]:
        """Load, validate and compile off the loop, then swap between two events.

        Never raises: a failure leaves the running table as it was and is reported.
        """
        with self._reload_lock:
            t0 = time.perf_counter()
            phases: dict[str, float] = {}
            for hook in self.extensions.get("reload_hooks", []):  # e.g. plugins rescan first
                try:
                    hook()
                except Exception:
                    log.exception("reload hook failed")
            try:
                table, result = build_table(self.config_path, text=text)
                phases["load_validate_compile_ms"] = (time.perf_counter() - t0) * 1000
                t1 = time.perf_counter()
                old_device = self.engine.table.config.device if self.engine else None
                mode = self.engine.swap_table(table)
                phases["swap_ms"] = (time.perf_counter() - t1) * 1000
                self._apply_logging(result.config)
                self.warnings = [str(w) for w in result.warnings]
                for w in result.warnings:
                    log.warning("%s", w)
                if old_device is not None and old_device != result.config.device:
                    self._device_changed(result.config.device)
                elif self.feedback is not None:
                    self.feedback.resend()  # the new config may light things differently
                if self.midi_out is not None:
                    self.midi_out.prepare(output_ports(result.config))
                outcome = {
                    "ok": True,
                    "time": time.time(),
                    "source": source,
                    "sha256": table.sha256,
                    "mappings": table.mapping_count,
                    "mode": mode,
                    "phase_ms": phases,
                    "warnings": self.warnings,
                    "error": None,
                }
                log.info(
                    "config reloaded (%s): %d mappings in %.1f ms",
                    source,
                    table.mapping_count,
                    (time.perf_counter() - t0) * 1000,
                )
            except ConfigError as exc:
                outcome = {
                    "ok": False,
                    "time": time.time(),
                    "source": source,
                    "phase_ms": phases,
                    "error": str(exc),
                    "diagnostics": [d.to_json() for d in exc.diagnostics],
                }
                log.error("config reload failed; the previous config keeps running.\n%s", exc)
                if self.engine:
                    self.engine.stats.error(f"config reload failed: {exc.first()}")
            except Exception as exc:  # the reload machinery itself must never wedge
                log.exception("config reload crashed")
                outcome = {
                    "ok": False,
                    "time": time.time(),
                    "source": source,
                    "phase_ms": phases,
                    "error": f"internal error: {type(exc).__name__}: {exc}",
                }
            self.last_reload = outcome
            for cb in self.extensions.get("reload_listeners", []):
                try:
                    cb(outcome)
                except Exception:
                    log.exception("reload listener failed")
            return outcome

    def _device_changed(self, dev) -> None:
        log.info("[device] changed: reconnecting")
        old = self.devices
        if old:
            old.close()
        self.devices = DeviceManager(
            self.backend,
            self.engine.submit,
            name=dev.name,
            port=dev.port,
            auto_connect=dev.auto_connect,
            auto_reconnect=dev.auto_reconnect,
        )
        self.feedback.wanted = self._feedback_output(dev)
        self.devices.on_connect.append(lambda _port: self.feedback.resend(reopen=True))
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
            **{key: _section(fn) for key, fn in self.extensions.get("status", {}).items()},
        }


def _section(fn):
    """A status section from an extension (plugins...); a failing one must not break status."""
    try:
        return fn()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
