"""The plugin manager inside the daemon: discovery, hot reload, Plugin actions, trigger polling.

It owns one :class:`~midimon.plugins.record.PluginRecord` per plugin and changes records only in
``sync``, under one lock; every change that shows goes out through ``publish(kind, data)`` (the
daemon's change feed). Readers (``list_json``, ``record_json``, ``status``) never take that lock:
they read the last published snapshot plus live counters, so they never wait on a reload or on a
running plugin call.

The manager knows nothing of the engine: the daemon hands it ``HostServices`` (MIDI out, the
desktop), a ``submit(plugin, event, data)`` for trigger events, and calls ``plugin_call``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from midimon.config.home import Home
from midimon.sandbox import AuditLog, HostServices, Limits, SandboxError

from . import discovery, integrity
from .context import plain_context  # moved there; testing.py imports it from here
from .errors import PluginActionError
from .record import FailedVersion, PluginRecord, Suspension, to_json, with_live
from .requests import Requests
from .runtime import LoadJob, Runtime, Version
from .sampler import Sampler
from .state import PluginState
from .triggers import Poller

log = logging.getLogger("midimon.plugins")


def _decisions(entry: dict[str, Any]) -> tuple[str, str]:
    return json.dumps(entry["grants"], sort_keys=True), json.dumps(
        [entry["settings"], entry.get("limits") or {}], sort_keys=True
    )


class PluginManager:
    """Owns the runtime and the records of one daemon. ``sync()`` makes them match the disk."""

    def __init__(
        self,
        home: Home,
        *,
        services: HostServices,
        publish: Callable[[str, dict[str, Any]], object],
        submit: Callable[[str, str, dict[str, Any]], None],
        limits: Limits | None = None,
        watch: bool = True,
        safe_mode: bool = False,
        on_rescan: Callable[[str], None] | None = None,
    ) -> None:
        self.home = home
        self.plugins_dir = home.plugins
        self.state = PluginState(home.plugin_state)
        self.publish = publish
        self.submit = submit
        self.safe_mode = safe_mode
        #: told (reason) after a rescan that changed which plugins run (not for the first one)
        self.on_rescan = on_rescan
        #: where the config uses a plugin: set by the daemon (``[{mode, index, line, description}]``)
        self.mappings: Callable[[str], list[dict[str, Any]]] = lambda _name: []
        #: trigger plugins poll once this says events have somewhere to go (the engine runs)
        self.gate: Callable[[], bool] = lambda: True
        from . import secrets  # tokens the host keeps for a plugin (the Spotify sign-in)

        self.runtime = Runtime(
            services=dataclasses.replace(services, secret_store=secrets.opener(home)),
            limits=limits,
            data_root=home.plugin_data,
            audit=AuditLog(home.audit),
            on_failed=self._on_failed,
            on_denied=self._on_denied,
        )
        self.runtime.swap_listeners.append(self._on_swap)
        self.records: dict[str, PluginRecord] = {}
        self.pollers: dict[str, Poller] = {}
        self.problems: list[tuple[str, str]] = []
        self.rescans = 0
        self.watcher: Any = None
        self._watch = watch
        self._closed = False
        self._lock = threading.RLock()  # the one sync lock: only sync/resume take it
        self._seq = 0
        self._snapshot: dict[str, dict[str, Any]] = {}  # last published JSON per plugin (readers)
        self._failing_sha: dict[str, str | None] = {}
        self._requests = Requests()
        self._sampler: Sampler | None = None

    # -- life ------------------------------------------------------------------------------------
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

            self.watcher = PluginWatcher(self.plugins_dir, self.state.path, self.home.trusted_keys, self._watched)
        self._sampler = Sampler(
            self.runtime, self._requests, self._shown_requests, self.publish, lambda: self.sync("live change")
        ).start()

    def _watched(self) -> None:
        self.sync("watch")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # in reverse order of start: the sampler, the watcher, then the plugins themselves
        if self._sampler is not None:
            self._sampler.close()
        if self.watcher is not None:
            self.watcher.close()
        for p in list(self.pollers.values()):
            p.stop()
        self.runtime.shutdown(deadline=5.0)

    # -- the one sync ----------------------------------------------------------------------------
    def sync(self, reason: str = "request") -> dict[str, Any]:
        """Make the records match the folder and the state file. Never raises."""
        with self._lock:
            if self._closed:
                return {}
            self.rescans += 1
            try:
                result = self._sync(reason)
            except Exception as exc:
                log.exception("plugin rescan failed (%s)", reason)
                result = {"error": str(exc)}
            self._publish_changes()
        if (result.get("loaded") or result.get("unloaded")) and reason not in ("start",):
            if self.on_rescan is not None:
                try:
                    self.on_rescan(reason)
                except Exception:
                    log.exception("plugin rescan listener failed")
        return result

    def _sync(self, reason: str) -> dict[str, Any]:
        self.state.refresh()
        found, self.problems = discovery.scan(self.plugins_dir)
        for name, cand in discovery.entry_points().items():
            found.setdefault(name, cand)
        policy = self.state.signature_policy
        keys_stamp = tuple(tk.fingerprint for tk, _ in integrity.trusted_keys(self.home.trusted_keys))
        unloaded: list[str] = []
        to_load: list[tuple[discovery.Candidate, dict[str, Any]]] = []
        for name in [n for n in self.records if n not in found]:
            if self.runtime.unload(name, "its file was removed"):
                unloaded.append(name)
            del self.records[name]
        for name, cand in found.items():
            rec = self.records.get(name)
            if rec is None:
                rec = self.records[name] = PluginRecord(name, cand)
            rec.candidate = cand
            entry = self.state.entry(name)
            rec.enabled = bool(entry["enabled"])
            rec.safe_mode_off = self.safe_mode and not cand.first_party
            rec.settings = dict(entry["settings"])
            rec.requests = self._requests.of(name)
            if not rec.enabled or rec.safe_mode_off:
                if self.runtime.unload(name, "disabled" if not rec.enabled else "safe mode"):
                    unloaded.append(name)
                rec.failed, rec.attempted, rec.decisions, rec.suspended = None, None, None, None
                self._requests.forget(name)
                continue
            stamp = (cand.stamp(), policy, keys_stamp)
            decisions = _decisions(entry)
            if rec.attempted == stamp:
                if rec.decisions != decisions:
                    self._apply_decisions(rec, entry, decisions)
                continue
            rec.attempted, rec.decisions = stamp, decisions
            self._requests.undeny(name)  # an edited plugin: what the user denied may be asked again
            to_load.append((cand, entry))
        loaded = self._load_all(to_load, policy)
        for name, rec in self.records.items():
            version = self.runtime.active.get(name)
            hs = version.host.state if version is not None else {}
            if hs.get("status") == "suspended" and rec.suspended is None:
                rec.suspended = Suspension(str(hs.get("last_error") or "failed too often"), time.time())
            elif hs.get("status") != "suspended":
                rec.suspended = None
        if loaded or unloaded:
            log.debug("plugins rescanned (%s): loaded %s, unloaded %s", reason, loaded, unloaded)
        return {"loaded": loaded, "unloaded": unloaded, "errors": {n: e for n, e in self._errors().items()}}

    def _errors(self) -> dict[str, dict[str, Any]]:
        return {n: r.failed.error for n, r in self.records.items() if r.failed is not None}

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
            rec = self.records.get(name)
            if version is not None and rec is not None:
                rec.failed = None  # the new version runs: nothing failed to replace it
                rec.suspended = None
        return [cand.name for cand, _ in items if results.get(cand.name) is not None]

    def _prepare(self, cand: discovery.Candidate, entry: dict[str, Any], policy: str) -> LoadJob | None:
        """Read and verify one candidate; None when it fails (recorded) or did not change."""
        rec = self.records[cand.name]
        verified = None
        if not cand.trusted:
            self._failing_sha[cand.name] = _file_sha(cand)
            try:
                verified = discovery.read(cand, policy, self.home.trusted_keys)
            except Exception as exc:
                self.runtime.fail(cand.name, exc, keeps_old=cand.name in self.runtime.active)
                return None
            self._failing_sha[cand.name] = verified.sha256
            rec.warnings = tuple(verified.warnings)
            for w in verified.warnings:
                log.warning("plugin %s: %s", cand.name, w)
            old = self.runtime.active.get(cand.name)
            if old is not None and old.verified is not None and old.verified.sha256 == verified.sha256:
                rec.failed = None  # restored to the bytes that run: the broken edit is gone
                if old.settings != self._settings(entry, verified) or old.host.limits != self._limits(entry):
                    return LoadJob(
                        cand, verified, entry["grants"], self._settings(entry, verified), self._limits(entry)
                    )
                self.runtime.set_grants(cand.name, entry["grants"])
                return None
        return LoadJob(
            cand,
            verified,
            entry["grants"],
            self._settings(entry, verified),
            self._limits(entry),
            lazy=self._idle_at_load(cand, verified),
        )

    def _idle_at_load(self, cand: discovery.Candidate, verified: discovery.Verified | None) -> bool:
        """A first-party action plugin no mapping uses starts no worker at load (``idle``): its
        code is ours, so there is no user's mistake to find now, and the daemon does not load
        spotipy, httpx or paho for a plugin nobody uses. A user's plugin always starts at load:
        a broken edit is found then and the previous version keeps running."""
        if not cand.first_party or verified is None or verified.decl.kind == "trigger":
            return False
        return not self._mapped(cand.name)

    def _mapped(self, name: str) -> bool:
        try:
            return bool(self.mappings(name))
        except Exception:
            return True  # not knowing: start it, as before

    def _limits(self, entry: dict[str, Any]) -> Limits:
        """The runtime's limits with this plugin's own deadline and memory (``plugins limits``)."""
        base = self.runtime.limits
        own = entry.get("limits") or {}
        return dataclasses.replace(
            base,
            call_timeout=own["timeout_ms"] / 1000 if own.get("timeout_ms") else base.call_timeout,
            memory_bytes=own["memory_mb"] * 1024 * 1024 if own.get("memory_mb") else base.memory_bytes,
        )

    @staticmethod
    def _settings(entry: dict[str, Any], verified: discovery.Verified | None) -> dict[str, Any]:
        return with_defaults(entry["settings"], verified.decl.config_schema if verified else None)

    def _apply_decisions(self, rec: PluginRecord, entry: dict[str, Any], decisions: tuple[str, str]) -> None:
        """A grant or settings change: apply it; it also lifts a suspension and retries a failed
        ``initialize()``."""
        rec.decisions = decisions
        version = self.runtime.active.get(rec.name)
        if version is None or version.candidate.trusted:
            return  # nothing runs, or a pip-installed plugin: no grants, no sandbox limits
        granted = set(entry["grants"])
        self._requests.forget(rec.name, granted)
        rec.requests = {k: r for k, r in rec.requests.items() if k[0] not in granted}
        new_settings = self._settings(entry, version.verified)
        limits = self._limits(entry)
        if new_settings != version.settings or version.init_error or limits != version.host.limits:
            lazy = version.idle and not self._mapped(rec.name)  # an idle plugin stays idle
            self.runtime.load(version.candidate, version.verified, entry["grants"], new_settings, limits, lazy)
        else:
            self.runtime.set_grants(rec.name, entry["grants"])
            version.host.resume()
        rec.suspended = None

    def _on_failed(self, name: str, err: dict[str, Any]) -> None:
        rec = self.records.get(name)
        if rec is None:
            return
        rec.failed = FailedVersion(self._failing_sha.get(name), err, bool(err.get("keeps_previous_version")))
        self.publish("plugin_error", {"plugin": name, "error": rec.error(None)})

    def _on_swap(self, name: str, version: Version | None) -> None:
        if version is not None and version.decl.kind == "trigger":
            if name not in self.pollers:
                self.pollers[name] = Poller(self.runtime, name, self._submit, lambda: self.gate()).start()
        elif name in self.pollers:
            self.pollers.pop(name).stop(timeout=0.2)

    def _submit(self, plugin: str, event: str, data: dict[str, Any]) -> None:
        # looked up at each event: tests and the daemon may replace ``submit`` after start
        self.submit(plugin, event, data)

    def refresh(self) -> None:
        """Publish what changed in the records without a rescan (the config's mappings moved),
        and start the worker of each idle plugin the config now maps (the caller's thread is
        off the event path: the daemon calls this right after a config swap)."""
        with self._lock:
            if self._closed:
                return
            self._publish_changes()
            idle = [n for n, v in self.runtime.active.items() if v.idle and self._mapped(n)]
        woke = [n for n in idle if self.runtime.wake(n)]  # outside the lock: readers never wait
        if woke:
            log.info("plugins started now that the config maps them: %s", ", ".join(woke))
            with self._lock:
                if not self._closed:
                    self._publish_changes()

    # -- recovery --------------------------------------------------------------------------------
    def resume(self, name: str) -> dict[str, Any]:
        """Lift a suspension: the next call starts a fresh worker."""
        with self._lock:
            rec = self.records.get(name)
            if rec is None:
                raise PluginActionError(f"no plugin named {name!r} (see: midimon plugins list)")
            version = self.runtime.active.get(name)
            was = rec.suspended is not None or (version is not None and version.host.state["status"] == "suspended")
            if version is not None:
                version.host.resume()
            rec.suspended = None
            self._publish_changes()
        log.info("plugin %s: %s", name, "resumed" if was else "resume asked, it was not suspended")
        return {"name": name, "resumed": was}

    def deny(self, plugin: str, capability: str, scope: str | None = None) -> list[tuple[str, str]]:
        """The user said no to a pending request (all of ``capability``'s without ``scope``): it
        leaves the record, the sync publishes that, and it stays silent until a restart or an
        edit. Returns the (capability, scope) pairs dismissed."""
        keys = self._requests.deny(plugin, capability, scope)
        self.sync("deny")
        return [(k[1], k[2]) for k in keys]

    def _on_denied(self, plugin: str, capability: str, what: str) -> None:
        """On a call thread: count it; the first of its kind is logged and published."""
        req, first = self._requests.add(plugin, capability, what)
        if first:
            log.warning(
                "plugin %s: %s needs the %s capability; grant it with: %s", plugin, what, capability, req.command
            )
            self.publish("permission_request", req.to_json())

    # -- the feed --------------------------------------------------------------------------------
    def _record_json(self, rec: PluginRecord) -> dict[str, Any]:
        version = self.runtime.active.get(rec.name)
        hs = version.host.state if version is not None else None
        try:
            mappings = self.mappings(rec.name)
        except Exception:
            mappings = []
        return to_json(rec, version, hs, mappings)

    def _publish_changes(self) -> None:
        """Under the sync lock: bump ``seq`` of each record whose JSON changed and publish it."""
        snapshot: dict[str, dict[str, Any]] = {}
        for name, rec in sorted(self.records.items()):
            data = self._record_json(rec)
            old = self._snapshot.get(name)
            if old is None or _shown(old) != _shown(data):
                self._seq += 1
                rec.seq = self._seq
                data["seq"] = rec.seq
                self.publish("plugin", data)
            else:
                data["seq"] = rec.seq
            snapshot[name] = data
        for name in set(self._snapshot) - set(snapshot):
            self.publish("plugin_removed", {"name": name})
        self._snapshot = snapshot  # one reference: readers see the old or the new, never half

    def _shown_requests(self) -> dict[tuple[str, str, str], int]:
        """The permission requests the published records show, with their counts."""
        return {
            (n, r["capability"], r["scope"]): r["count"]
            for n, d in self._snapshot.items()
            for r in d.get("pending_requests", [])
        }

    # -- readers: never wait on a sync or a call -------------------------------------------------
    def record_json(self, name: str) -> dict[str, Any] | None:
        data = self._snapshot.get(name)
        return self._live(data) if data is not None else None

    def list_json(self) -> list[dict[str, Any]]:
        return [self._live(d) for _, d in sorted(self._snapshot.items())]

    def _live(self, data: dict[str, Any]) -> dict[str, Any]:
        version = self.runtime.active.get(data["name"])
        poller = self.pollers.get(data["name"])
        return with_live(
            data, version.host.state if version is not None else None, poller.to_json() if poller else None
        )

    def error(self, name: str) -> dict[str, Any] | None:
        """The failed version's error (file, line, col, message, text) of ``name``, if any."""
        rec = self.records.get(name)
        return rec.failed.error if rec is not None and rec.failed is not None else None

    def status(self) -> dict[str, Any]:
        return {
            "plugins": self.list_json(),
            "problems": [{"path": p, "message": m} for p, m in self.problems],
            "rescans": self.rescans,
            "safe_mode": self.safe_mode,
            "signature_policy": self.state.signature_policy,
            "state_warnings": self.state.warnings,
        }

    # -- the Plugin action -----------------------------------------------------------------------
    def plugin_call(self, name: str, params: dict[str, Any], ctx: dict[str, Any]) -> Any:
        try:
            version = self.runtime.acquire(name)
        except SandboxError as exc:
            raise PluginActionError(str(exc)) from None
        if version is None:
            raise PluginActionError(self.missing_reason(name))
        try:
            if version.init_error:
                raise PluginActionError(
                    f"plugin {name!r} is not running: {version.init_error} (fix it and save, or change its "
                    f"settings: midimon plugins config {name})"
                )
            if version.decl.kind != "action" or not version.defines("execute"):
                raise PluginActionError(
                    f"plugin {name!r} is a {version.decl.kind} plugin; it has no "
                    "execute(params, context) to run as an action"
                )
            try:
                return version.host.call("execute", dict(params), plain_context(ctx))
            except SandboxError as exc:
                raise PluginActionError(f"plugin {name!r}: {exc}") from None
        finally:
            version.leave()

    def missing_reason(self, name: str) -> str:
        rec = self.records.get(name)
        if rec is not None and not rec.enabled:
            return f"plugin {name!r} is disabled (enable it with: midimon plugins enable {name})"
        if rec is not None and rec.safe_mode_off:
            return f"plugin {name!r} is off: midimon runs in safe mode (restart it without --safe-mode)"
        if rec is not None and rec.failed is not None:
            return f"plugin {name!r} failed to load: {rec.failed.error['text']}"
        return (
            f"plugin {name!r} is not installed (no {name}.py or {name}/ in "
            f"{self.plugins_dir}; see: midimon plugins list)"
        )

    # -- what the config checks ask (plugins.config_checks) --------------------------------------
    def lookup(self, name: str) -> tuple[str | None, dict[str, Any] | None, str | None] | None:
        """(kind, params_schema, problem) of ``name``; None when there is no such plugin."""
        version = self.runtime.active.get(name)
        rec = self.records.get(name)
        if version is not None and not version.init_error:
            return version.decl.kind, version.decl.params_schema, None
        if rec is None:
            return None
        if not rec.enabled or rec.safe_mode_off:
            return None, None, self.missing_reason(name)
        if version is not None and version.init_error:
            return version.decl.kind, version.decl.params_schema, f"plugin {name!r}: {version.init_error}"
        return None, None, self.missing_reason(name)


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    """What bumps ``seq``: everything but the counters (and the seq itself)."""
    return {k: v for k, v in data.items() if k not in ("counters", "seq", "last_call_error", "trigger")}


def _file_sha(cand: discovery.Candidate) -> str | None:
    try:
        if cand.packaging == "file" and cand.path is not None:
            return hashlib.sha256(cand.path.read_bytes()).hexdigest()
    except OSError:
        pass
    return None


def with_defaults(settings: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """The user's settings, plus each ``default`` the plugin's config_schema declares."""
    out = dict(settings)
    for key, prop in ((schema or {}).get("properties") or {}).items():
        if isinstance(prop, dict) and "default" in prop:
            out.setdefault(key, prop["default"])
    return out
