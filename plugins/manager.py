"""The plugin manager inside the daemon: discovery, hot reload, Plugin actions, trigger polling.

``attach(daemon)`` is called by ``midimon run`` before the daemon starts. It loads every
enabled plugin, gives the daemon ``extensions["plugin_call"]`` (the Plugin action) and a reload
hook (``midimon reload`` rescans), watches the plugins folder and the state file, and publishes
a status snapshot that ``midimon status`` and ``midimon plugins list/info`` show.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from midimon.config import paths
from midimon.engine.errors import ActionError
from midimon.sandbox import AuditLog, HostServices, Limits, SandboxError

from . import discovery, integrity
from .context import plain_context  # moved there; testing.py imports it from here
from .runtime import LoadJob, Runtime, Version
from .state import PluginState
from .triggers import Poller

log = logging.getLogger("midimon.plugins")
STATUS_FILE = "plugins-status.json"


def status_path() -> Path:
    return paths.runtime_dir() / STATUS_FILE


def _notify(title: str, body: str) -> None:
    exe = shutil.which("notify-send")
    if not exe:
        return

    def run() -> None:
        try:
            subprocess.run(
                [exe, "--app-name=midimon", "--urgency=critical", title, body],
                timeout=5,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        except Exception:
            pass

    threading.Thread(target=run, daemon=True, name="midimon-notify").start()


class PluginManager:
    """Owns the runtime of one daemon. ``sync()`` makes the loaded plugins match the disk."""

    def __init__(
        self,
        daemon: Any = None,
        *,
        home: Path | None = None,
        limits: Limits | None = None,
        watch: bool = True,
        services: HostServices | None = None,
    ) -> None:
        self.daemon = daemon
        self.home = Path(home) if home else paths.home()
        self.plugins_dir = self.home / "plugins"
        self.state = PluginState(self.home / "plugin-state.json")
        self.runtime = Runtime(
            services=services or self._services(),
            limits=limits,
            data_root=self.home / "plugins-data",
            audit=AuditLog(self.home / "logs" / "audit.jsonl"),
            on_change=self._changed,
        )
        self.runtime.swap_listeners.append(self._on_swap)
        self.pollers: dict[str, Poller] = {}
        self.problems: list[tuple[str, str]] = []
        self.warnings: dict[str, list[str]] = {}
        self.candidates: dict[str, discovery.Candidate] = {}
        self._attempted: dict[str, tuple] = {}
        self._applied: dict[str, tuple[str, str]] = {}
        self._sync_lock = threading.Lock()
        self.rescans = 0
        self.watcher = None
        self._watch = watch
        self._closed = False

    # -- wiring to the daemon --------------------------------------------------------------------
    def _services(self) -> HostServices:
        d = self.daemon

        def midi_send(port: str, msg: dict[str, Any]) -> None:
            fields = dict(msg)
            mtype = fields.pop("type")
            d.midi_out.send(port or None, mtype, **fields)

        def desktop():
            if d is None or d.runner is None or d.runner.desktop is None:
                raise SandboxError("the desktop back end is not available")
            return d.runner.desktop

        def keystroke(combo: str) -> None:
            parts = [p for p in combo.split("+") if p]
            desktop().keystroke(parts[-1], parts[:-1], 0)

        def set_volume(absolute: float | None, delta: float | None) -> None:
            if absolute is not None:
                desktop().volume("Set", round(absolute * 100), 0)
            elif delta:
                desktop().volume("Up" if delta > 0 else "Down", None, min(100, round(abs(delta) * 100)))

        if d is None:
            return HostServices()
        return HostServices(
            midi_send=midi_send,
            midi_output_ports=lambda: d.midi_out.names() if d.midi_out else [],
            keystroke=keystroke,
            type_text=lambda t: desktop().text(t),
            set_volume=set_volume,
            launch=lambda app: desktop().launch(app),
        )

    def _engine_running(self) -> bool:
        return self.daemon is None or getattr(self.daemon, "engine", None) is not None

    def submit(self, ev) -> None:
        engine = getattr(self.daemon, "engine", None) if self.daemon is not None else None
        if engine is not None:
            engine.submit(ev)

    def start(self) -> None:
        from midimon.sandbox import prepare

        try:
            prepare()
        except Exception as exc:
            log.error("cannot start the plugin sandbox: %s", exc)
        self.plugins_dir.mkdir(parents=True, exist_ok=True)
        from .aliases import migrate as migrate_aliases  # grants kept under an old name move once

        migrate_aliases(self.home, self.state)
        self.sync("start")
        if self._watch:
            from .watch import PluginWatcher

            self.watcher = PluginWatcher(
                self.plugins_dir, self.state.path, integrity.keys_dir(), lambda: self.sync("watch")
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.watcher is not None:
            self.watcher.close()
        for p in list(self.pollers.values()):
            p.stop()
        self.runtime.shutdown(deadline=5.0)
        try:
            status_path().unlink()
        except OSError:
            pass

    # -- reload ----------------------------------------------------------------------------------
    def sync(self, reason: str = "request") -> dict[str, Any]:
        """Make the loaded plugins match the folder and the state file. Never raises."""
        with self._sync_lock:
            if self._closed:
                return {}
            self.rescans += 1
            try:
                return self._sync(reason)
            except Exception as exc:
                log.exception("plugin rescan failed (%s)", reason)
                return {"error": str(exc)}

    def _sync(self, reason: str) -> dict[str, Any]:
        self.state.refresh()
        found, self.problems = discovery.scan(self.plugins_dir)
        for name, cand in discovery.entry_points().items():
            found.setdefault(name, cand)
        self.candidates = found
        policy = self.state.signature_policy
        keys_stamp = tuple(tk.fingerprint for tk, _ in integrity.trusted_keys())
        unloaded: list[str] = []
        to_load: list[tuple[discovery.Candidate, dict[str, Any]]] = []
        for name in [n for n in self.runtime.active if n not in found]:
            self.runtime.unload(name, "its file was removed")
            self._attempted.pop(name, None)
            unloaded.append(name)
        for name in [n for n in list(self.runtime.errors) if n not in found]:
            self.runtime.errors.pop(name, None)
            self._attempted.pop(name, None)
        for name, cand in found.items():
            entry = self.state.entry(name)
            if not entry["enabled"]:
                if self.runtime.unload(name, "disabled"):
                    unloaded.append(name)
                self.runtime.errors.pop(name, None)
                self._attempted.pop(name, None)
                continue
            stamp = (cand.stamp(), policy, keys_stamp)
            decisions = (json.dumps(entry["grants"], sort_keys=True), json.dumps(entry["settings"], sort_keys=True))
            if self._attempted.get(name) == stamp:
                if self._applied.get(name) != decisions and name in self.runtime.active:
                    self._apply_decisions(name, entry, decisions)
                continue
            self._attempted[name] = stamp
            self._applied[name] = decisions
            to_load.append((cand, entry))
        loaded = self._load_all(to_load, policy)
        if loaded or unloaded:
            log.debug("plugins rescanned (%s): loaded %s, unloaded %s", reason, loaded, unloaded)
            if reason == "watch" and self.daemon is not None and getattr(self.daemon, "engine", None):
                # the config's Plugin mappings are checked again against the new plugin set
                threading.Thread(
                    target=self.daemon.reload,
                    kwargs={"source": "plugins changed"},
                    name="midimon-plugin-reload",
                    daemon=True,
                ).start()
        self._changed()
        return {"loaded": loaded, "unloaded": unloaded, "errors": dict(self.runtime.errors)}

    def _load_all(self, items: list[tuple[discovery.Candidate, dict[str, Any]]], policy: str) -> list[str]:
        """Load several plugins at once: each file is read and verified here while the workers
        of the ones before it start (Runtime.load_many). Returns the names now active."""

        def jobs():
            for cand, entry in items:
                job = self._prepare(cand, entry, policy)
                if job is not None:
                    yield job

        if not items:
            return []
        results = self.runtime.load_many(jobs())
        for name, version in results.items():
            if version is None:
                self._notify_failure(name)
        return [cand.name for cand, _ in items if results.get(cand.name) is not None]

    def _prepare(self, cand: discovery.Candidate, entry: dict[str, Any], policy: str) -> LoadJob | None:
        """Read and verify one candidate; None when it fails (recorded) or did not change."""
        verified = None
        if not cand.trusted:
            try:
                verified = discovery.read(cand, policy)
            except Exception as exc:
                self.runtime.fail(cand.name, exc, keeps_old=cand.name in self.runtime.active)
                self._notify_failure(cand.name)
                return None
            self.warnings[cand.name] = list(verified.warnings)
            for w in verified.warnings:
                log.warning("plugin %s: %s", cand.name, w)
            old = self.runtime.active.get(cand.name)
            if old is not None and old.verified is not None and old.verified.sha256 == verified.sha256:
                return None  # touched, not changed
        return LoadJob(cand, verified, entry["grants"], self._settings(cand, entry, verified))

    def _settings(self, cand, entry, verified) -> dict[str, Any]:
        return with_defaults(entry["settings"], verified.decl.config_schema if verified else None)

    def _apply_decisions(self, name: str, entry: dict[str, Any], decisions: tuple[str, str]) -> None:
        self._applied[name] = decisions
        version = self.runtime.active[name]
        new_settings = self._settings(version.candidate, entry, version.verified)
        if new_settings != version.settings:
            self.runtime.load(version.candidate, version.verified, entry["grants"], new_settings)
        else:
            self.runtime.set_grants(name, entry["grants"])

    def _notify_failure(self, name: str) -> None:
        err = self.runtime.errors.get(name)
        if err:
            _notify(
                f"midimon: plugin {name} not loaded",
                ("The previous version keeps running.\n" if err.get("keeps_previous_version") else "") + err["text"],
            )

    def _on_swap(self, name: str, version: Version | None) -> None:
        if version is not None and version.decl.kind == "trigger":
            if name not in self.pollers:
                poller = Poller(self.runtime, name, lambda ev: self.submit(ev), self._engine_running)
                poller.after_tick = self._changed_soon
                self.pollers[name] = poller.start()
        elif name in self.pollers:
            self.pollers.pop(name).stop(timeout=0.2)

    # -- the Plugin action -----------------------------------------------------------------------
    def refresh_decisions(self) -> None:
        """A revoke takes effect on the next call: re-read the state file if it changed."""
        if self.state.refresh():
            for name in list(self.runtime.active):
                entry = self.state.entry(name)
                if not entry["enabled"]:
                    self.runtime.unload(name, "disabled")
                    self._attempted.pop(name, None)
                    continue
                decisions = (json.dumps(entry["grants"], sort_keys=True), json.dumps(entry["settings"], sort_keys=True))
                if self._applied.get(name) != decisions:
                    self._apply_decisions(name, entry, decisions)

    def plugin_call(self, name: str, params: dict[str, Any], ctx: dict[str, Any]) -> Any:
        self.refresh_decisions()
        version = self.runtime.acquire(name)
        if version is None:
            raise ActionError(self.missing_reason(name))
        try:
            if version.decl.kind != "action" or not version.defines("execute"):
                raise ActionError(
                    f"plugin {name!r} is a {version.decl.kind} plugin; it has no "
                    "execute(params, context) to run as an action"
                )
            try:
                return version.host.call("execute", dict(params), plain_context(ctx))
            except SandboxError as exc:
                raise ActionError(f"plugin {name!r}: {exc}") from None
        finally:
            version.leave()
            self._changed_soon()

    def missing_reason(self, name: str) -> str:
        if name in self.candidates and not self.state.enabled(name):
            return f"plugin {name!r} is disabled (enable it with: midimon plugins enable {name})"
        err = self.runtime.errors.get(name)
        if err:
            return f"plugin {name!r} failed to load: {err['text']}"
        return (
            f"plugin {name!r} is not installed (no {name}.py or {name}/ in "
            f"{self.plugins_dir}; see: midimon plugins list)"
        )

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        plugins = []
        for name in sorted(set(self.candidates) | set(self.runtime.active) | set(self.runtime.errors)):
            v = self.runtime.active.get(name)
            cand = self.candidates.get(name)
            item: dict[str, Any] = {
                "name": name,
                "enabled": self.state.enabled(name),
                "packaging": cand.packaging if cand else None,
                "path": str(cand.path) if cand and cand.path else None,
                "trusted": bool(cand and cand.trusted),
                "loaded": v is not None,
                "error": self.runtime.errors.get(name),
                "warnings": self.warnings.get(name, []),
            }
            if v is not None:
                item.update(
                    kind=v.decl.kind,
                    version=v.decl.version,
                    description=v.decl.description,
                    generation=v.generation,
                    loaded_at=v.loaded_at,
                    sha256=v.verified.sha256 if v.verified else None,
                    signature=v.verified.signature.message if v.verified else "trusted",
                    granted=sorted(v.grants.capabilities) if v.grants else [],
                    pending=v.pending,
                    init_error=v.init_error,
                    host=v.host.state,
                )
                if name in self.pollers:
                    item["trigger"] = self.pollers[name].to_json()
            plugins.append(item)
        return {
            "plugins": plugins,
            "problems": [{"path": p, "message": m} for p, m in self.problems],
            "rescans": self.rescans,
            "signature_policy": self.state.signature_policy,
            "state_warnings": self.state.warnings,
        }

    _last_write = 0.0
    _pending_write = False

    def _changed_soon(self) -> None:
        # after calls: counts change often; write at most every 0.5 s
        if time.monotonic() - self._last_write > 0.5:
            self._changed()

    def _changed(self) -> None:
        self._last_write = time.monotonic()
        try:
            target = status_path()
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"pid": os.getpid(), "time": time.time(), **self.status()}, default=str), "utf-8")
            os.replace(tmp, target)
        except Exception:
            log.debug("cannot write the plugin status file", exc_info=True)


def attach(daemon) -> PluginManager:
    """Called by ``midimon run`` before ``daemon.start()``."""
    manager = PluginManager(daemon)
    daemon.extensions["plugins"] = manager
    daemon.extensions["plugin_call"] = manager.plugin_call
    hooks = daemon.extensions.setdefault("reload_hooks", [])
    hooks.append(lambda *a, **k: manager.sync("midimon reload"))
    status = daemon.extensions.setdefault("status", {})
    status["plugins"] = manager.status
    from . import config_checks

    config_checks.set_live(manager)
    manager.start()
    return manager


def with_defaults(settings: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """The user's settings, plus each ``default`` the plugin's config_schema declares."""
    out = dict(settings)
    for key, prop in ((schema or {}).get("properties") or {}).items():
        if isinstance(prop, dict) and "default" in prop:
            out.setdefault(key, prop["default"])
    return out
