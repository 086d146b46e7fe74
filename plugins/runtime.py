"""Loaded plugin versions, and the swap from one version to the next.

A reload builds the new version completely off to the side (read once, verify, compile and run
its top level in a fresh worker). If that fails, nothing changes and the error (file, line,
column) is recorded. If it works, one dict entry is replaced between two events: new calls go
to the new version at once and wait for its ``initialize()``; calls already running finish on
the old version, whose ``stop()``/``shutdown()`` then run with a deadline before the new
version's ``initialize()``.

``load_many()`` does the same for several plugins at once (the first load, a rescan that finds
several changes): each plugin's build waits mostly on its worker (fork, compile, top level), so
the builds run on a few threads and overlap; each swap still happens alone, in the caller's
thread, and each plugin's retire-then-initialize sequence is the same as for one plugin.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from midimon.sandbox import HostServices, Limits, PluginCompileError, PluginHost, PluginLoadError, SandboxError
from midimon.sandbox.text import printable

from . import grants as grantlib
from .discovery import Candidate, Verified
from .manifest import Declarations, ManifestError

log = logging.getLogger("midimon.plugins")
LIFECYCLE_TIMEOUT = 2.0
#: Builds in flight at once in ``load_many``. A build mostly waits on its worker process, so a
#: few more threads than CPUs keep the zygote and the workers busy; more only add contention.
LOAD_THREADS = 8


class LoadJob(NamedTuple):
    """What ``load_many`` needs to build one plugin version."""

    candidate: Candidate
    verified: Verified | None
    grants: dict[str, Any]
    settings: dict[str, Any]
    limits: Limits | None = None  # this plugin's own (``plugins limits``); None: the runtime's
    #: start the worker at the first call (an unused first-party plugin: ``idle``), not now
    lazy: bool = False


def describe_error(exc: BaseException) -> dict[str, Any]:
    """A load error as plain data: file, line, column when known, and a one-line message."""
    if isinstance(exc, (PluginCompileError, ManifestError)):
        return {
            "type": type(exc).__name__,
            "file": exc.filename,
            "line": exc.lineno,
            "col": exc.col,
            "message": exc.message,
            "text": str(exc),
        }
    if isinstance(exc, PluginLoadError):
        return {
            "type": type(exc).__name__,
            "file": exc.filename,
            "line": exc.lineno,
            "col": 0,
            "message": f"{exc.type_name + ': ' if exc.type_name else ''}{exc.message}",
            "text": str(exc),
        }
    return {"type": type(exc).__name__, "file": "", "line": 0, "col": 0, "message": str(exc), "text": str(exc)}


class TrustedHost:
    """An entry-point plugin: trusted code installed with pip, run in the daemon's process.

    It has the same surface as ``PluginHost`` so the runtime treats both alike; it has no
    capabilities objects (it can import what it likes) and cannot be killed on a deadline."""

    def __init__(self, name: str, entry_point: Any) -> None:
        self.name = name
        self.filename = f"entry point {entry_point.value}"
        self._ep = entry_point
        self._obj: Any = None
        self._counts = {
            "calls": 0,
            "failures": 0,
            "consecutive_failures": 0,
            "timeouts": 0,
            "crashes": 0,
            "restarts": 0,
            "starts": 0,
        }
        self._last_error = ""
        self.recent_logs: list = []

    def start(self) -> dict[str, Any]:
        try:
            self._obj = self._ep.load()
        except Exception as exc:
            raise PluginLoadError(str(exc), type(exc).__name__, self.filename) from None
        self._counts["starts"] += 1
        fns = sorted(
            n
            for n in ("execute", "poll_events", "start", "stop", "initialize", "shutdown")
            if callable(getattr(self._obj, n, None))
        )
        return {"functions": fns, "kind": "trigger" if "poll_events" in fns else "action"}

    def call(self, func_name: str, *args: Any, timeout: float | None = None) -> Any:
        self._counts["calls"] += 1
        try:
            value = getattr(self._obj, func_name)(*args)
        except Exception as exc:
            self._counts["failures"] += 1
            self._last_error = f"{self.filename}: {type(exc).__name__}: {exc}"
            raise SandboxError(self._last_error) from None
        return value

    def stop(self, timeout: float = 1.0) -> None:
        self._obj = None

    def resume(self) -> None:
        self._counts["consecutive_failures"] = 0

    @property
    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": "running" if self._obj is not None else "stopped",
            "pid": None,
            "last_error": self._last_error,
            **self._counts,
            "denials": 0,
        }


class Version:
    """One loaded version of one plugin."""

    def __init__(
        self,
        candidate: Candidate,
        verified: Verified | None,
        decl: Declarations,
        host: Any,
        grants: Any,
        pending: dict[str, Any],
        settings: dict[str, Any],
        generation: int,
    ) -> None:
        self.candidate = candidate
        self.verified = verified
        self.decl = decl
        self.host = host
        self.grants = grants
        self.pending = pending
        self.settings = settings
        self.generation = generation
        self.loaded_at = time.time()
        self.ready = threading.Event()
        self.init_error: str | None = None
        self.retired = False
        self._inflight = 0
        self._cond = threading.Condition()

    @property
    def name(self) -> str:
        return self.candidate.name

    @property
    def idle(self) -> bool:
        """Loaded lazily and not called yet: no worker, so nothing of it has run."""
        return bool(getattr(self.host, "state", {}).get("status") == "idle")

    def defines(self, fn: str) -> bool:
        return fn in self.decl.functions

    def enter(self) -> None:
        with self._cond:
            self._inflight += 1

    def leave(self) -> None:
        with self._cond:
            self._inflight -= 1
            if self._inflight <= 0:
                self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._inflight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def lifecycle(self, fn: str, *args: Any) -> str | None:
        """Call an optional lifecycle function; an error is returned as text, never raised."""
        if not self.defines(fn) or self.idle:
            # idle: no worker to initialise or shut down; the host's on_restart runs
            # initialize() when its first call starts the worker
            return None
        try:
            self.host.call(fn, *args, timeout=LIFECYCLE_TIMEOUT)
            return None
        except Exception as exc:
            message = f"{fn}() failed: {exc}"
            log.warning("plugin %s: %s", self.name, message)
            return message


class Runtime:
    """The live plugins of one daemon. Thread-safe; reloads are serialised."""

    def __init__(
        self,
        *,
        services: HostServices | None = None,
        limits: Limits | None = None,
        data_root: Any = None,
        audit: Any = None,
        on_failed: Callable[[str, dict[str, Any]], None] | None = None,
        on_denied: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.services = services or HostServices()
        self.limits = limits or Limits()
        self.data_root = data_root
        self.audit = audit
        #: told (plugin, error) when a version fails to build; the manager keeps it in the record
        self.on_failed = on_failed
        #: told (plugin, capability, what) when a capability request is refused
        self.on_denied = on_denied
        #: the running version of each plugin: the one reference a swap replaces (calls read it)
        self.active: dict[str, Version] = {}
        self._reload_lock = threading.RLock()
        self._generations = itertools.count(1)
        #: load_many's threads, made at its first use and kept: starting 8 threads for each
        #: batch cost the caller 1-3 ms each on a busy machine, before the next job could start
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.swap_listeners: list[Callable[[str, Version | None], None]] = []

    # -- loading -------------------------------------------------------------------------------
    def load(
        self,
        candidate: Candidate,
        verified: Verified | None,
        recorded_grants: dict[str, Any],
        settings: dict[str, Any],
        limits: Limits | None = None,
        lazy: bool = False,
    ) -> Version | None:
        """Build a new version and swap it in. On failure the old version keeps running."""
        with self._reload_lock:
            t0 = time.perf_counter()
            old = self.active.get(candidate.name)
            try:
                version = self._build(candidate, verified, recorded_grants, settings, limits, lazy)
            except Exception as exc:
                self.fail(candidate.name, exc, keeps_old=old is not None)
                return None
            self._swap(version, old)
            self._finish(version, old)
            self._log_active(version, old, t0)
            return version

    def load_many(self, jobs: Iterable[LoadJob]) -> dict[str, Version | None]:
        """Build several versions in parallel and swap each in: ``{name: version or None}``.

        ``jobs`` may be a generator: each job's build starts as soon as it is yielded, so the
        caller's work for the next job (reading and verifying its file) overlaps the workers
        starting. The same plugin must not appear twice. Returns once every new version is
        ready (initialised) or failed.
        """
        results: dict[str, Version | None] = {}
        with self._reload_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    LOAD_THREADS, thread_name_prefix="midimon-plugin-load"
                )
            pool = self._pool
            builds: dict[concurrent.futures.Future, tuple[LoadJob, float]] = {}
            try:
                for job in jobs:
                    fut = pool.submit(
                        self._build, job.candidate, job.verified, job.grants, job.settings, job.limits, job.lazy
                    )
                    builds[fut] = (job, time.perf_counter())
            finally:
                # swap each version in as its build completes (in this thread, one at a time)
                finishing = []
                for fut in concurrent.futures.as_completed(builds):
                    job, t0 = builds[fut]
                    name = job.candidate.name
                    old = self.active.get(name)
                    try:
                        version = fut.result()
                    except Exception as exc:
                        self.fail(name, exc, keeps_old=old is not None)
                        results[name] = None
                        continue
                    results[name] = version
                    self._swap(version, old)
                    if old is None and (version.idle or not self._needs_lifecycle(version)):
                        self._finish(version, None)  # nothing to wait for
                        self._log_active(version, None, t0)
                    else:
                        finishing.append((pool.submit(self._finish, version, old), version, old, t0))
                for done, version, old, t0 in finishing:
                    try:
                        done.result()
                    except Exception:
                        log.exception("plugin %s: starting the new version failed", version.name)
                    self._log_active(version, old, t0)
        return results

    @staticmethod
    def _needs_lifecycle(version: Version) -> bool:
        return version.defines("initialize") or (version.decl.kind == "trigger" and version.defines("start"))

    def _log_active(self, version: Version, old: Version | None, t0: float) -> None:
        log.info(
            "plugin %s: version %s active (%s, %.1f ms)%s",
            version.name,
            printable(version.decl.version or "-"),  # the plugin's words: one line, escaped
            "replaced the previous version" if old else "new",
            (time.perf_counter() - t0) * 1000,
            f"; not granted yet: {version.pending}" if version.pending else "",
        )

    def fail(self, name: str, exc: BaseException, keeps_old: bool) -> None:
        err = describe_error(exc)
        err["time"] = time.time()
        err["keeps_previous_version"] = keeps_old
        log.error(
            "plugin %s: %s: %s",
            name,
            "not reloaded, the previous version keeps running" if keeps_old else "not loaded",
            err["text"],
        )
        if self.on_failed is not None:
            self.on_failed(name, err)

    def _build(
        self,
        candidate: Candidate,
        verified: Verified | None,
        recorded: dict[str, Any],
        settings: dict[str, Any],
        limits: Limits | None = None,
        lazy: bool = False,
    ) -> Version:
        if candidate.trusted:
            host: Any = TrustedHost(candidate.name, candidate.entry_point)
            info = host.start()
            decl = Declarations(
                name=candidate.name,
                kind=info["kind"],
                functions=tuple(info["functions"]),
                description="trusted plugin installed with pip",
            )
            grants, pending = None, dict[str, Any]()
        else:
            assert verified is not None
            decl = verified.decl
            grants, pending = grantlib.effective(decl, recorded)
            kw: dict[str, Any] = {}
            if self.data_root is not None:
                kw["data_dir"] = self.data_root / candidate.name
            if self.audit is not None:
                kw["audit"] = self.audit
            built: dict[str, Version] = {}

            def restarted(_host: Any) -> None:
                # a fresh worker (after a crash, a timeout or an out-of-memory kill) knows
                # nothing: give it the plugin's settings again, as at load
                version = built.get("version")
                if version is None or version.retired:
                    return
                err = version.lifecycle("initialize", dict(version.settings))
                if version.decl.kind == "trigger":
                    err = err or version.lifecycle("start")
                version.init_error = err

            host = PluginHost(
                candidate.name,
                verified.source,
                verified.filename,
                grants=grants,
                limits=limits or self.limits,
                services=self.services,
                on_restart=restarted,
                **kw,
            )
            if self.on_denied is not None:
                listener = self.on_denied
                host.on_denied(lambda cap, what, _n=candidate.name: listener(_n, cap, what))
            try:
                # lazy (an unused first-party plugin): forked and compiled at the first call; its
                # declarations are the static ones (manifest.py's AST, which also found any
                # syntax error). Not compiled here: that alone would load RestrictedPython into
                # the daemon (about 5 MiB) for code of ours that the test suite compiles.
                info = host.start(lazy=lazy, compile_now=not (lazy and candidate.first_party))
            except BaseException:
                host.stop()
                raise
            functions = tuple(sorted(info.get("functions") or decl.functions))
            import dataclasses

            decl = dataclasses.replace(decl, functions=functions)
        version = Version(
            candidate, verified, decl, host, grants, pending, settings, next(self._generations)
        )  # builds may run on several threads
        if not candidate.trusted:
            built["version"] = version
        return version

    def _swap(self, new: Version, old: Version | None) -> None:
        self.active[new.name] = new  # the swap: one reference, between two events
        for cb in self.swap_listeners:
            cb(new.name, new)

    def _finish(self, new: Version, old: Version | None) -> None:
        """After the swap: calls on the old version finish, it shuts down, the new one starts.
        New calls wait (``acquire``) until the new version is ready."""
        try:
            if old is not None:
                self._retire(old)
            # lifecycle() skips what the plugin does not define: no round trip for those
            new.init_error = new.lifecycle("initialize", dict(new.settings))
            if new.decl.kind == "trigger":
                err = new.lifecycle("start")
                new.init_error = new.init_error or err
        finally:
            new.ready.set()

    def _retire(self, old: Version) -> None:
        old.retired = True
        if not old.drain(self.limits.call_timeout + 1.0):
            log.warning(
                "plugin %s: calls on the previous version still running after %.0f s; stopping it anyway",
                old.name,
                self.limits.call_timeout + 1.0,
            )
        if old.decl.kind == "trigger":
            old.lifecycle("stop")
        old.lifecycle("shutdown")
        old.host.stop()

    def unload(self, name: str, reason: str) -> bool:
        with self._reload_lock:
            old = self.active.pop(name, None)
            if old is None:
                return False
            for cb in self.swap_listeners:
                cb(name, None)
            self._retire(old)
            log.info("plugin %s: unloaded (%s)", name, reason)
            return True

    def shutdown(self, deadline: float = 5.0) -> None:
        """Stop every plugin: stop()/shutdown() with what is left of the deadline, then kill."""
        end = time.monotonic() + deadline
        with self._reload_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)  # idle between batches: nothing left to wait for
                self._pool = None
            for name in list(self.active):
                old = self.active.pop(name)
                old.retired = True
                old.drain(max(0.0, min(1.0, end - time.monotonic())))
                if time.monotonic() < end:
                    if old.decl.kind == "trigger":
                        old.lifecycle("stop")
                    old.lifecycle("shutdown")
                old.host.stop()

    # -- calls -----------------------------------------------------------------------------------
    def acquire(self, name: str, wait: float = 5.0) -> Version | None:
        """The active version, marked in flight (``leave()`` it), once it is initialised."""
        version = self.active.get(name)
        if version is None:
            return None
        version.enter()
        if not version.ready.wait(wait):
            version.leave()
            raise SandboxError(f"plugin {name!r} is still starting")
        return version

    def wake(self, name: str) -> bool:
        """Start an idle version's worker now (off the event path: the config maps it now).
        True when a worker was started; a failure is logged and left for the first call."""
        version = self.active.get(name)
        if version is None or not version.idle:
            return False
        try:
            version.host.wake()
        except Exception as exc:
            log.warning("plugin %s: starting its worker failed: %s", name, exc)
            return False
        return True

    def call(self, name: str, fn: str, *args: Any, timeout: float | None = None) -> Any:
        version = self.acquire(name)
        if version is None:
            raise LookupError(name)
        try:
            return version.host.call(fn, *args, timeout=timeout)
        finally:
            version.leave()

    def set_grants(self, name: str, recorded: dict[str, Any]) -> bool:
        """Apply changed grants. True when the running version had to be rebuilt."""
        version = self.active.get(name)
        if version is None or version.candidate.trusted:
            return False
        grants, pending = grantlib.effective(version.decl, recorded)
        if grants == version.grants:
            version.pending = pending
            return False
        setter = getattr(version.host, "set_grants", None)
        if callable(setter):
            setter(grants)
            version.grants, version.pending = grants, pending
            return False
        self.load(version.candidate, version.verified, recorded, version.settings, version.host.limits, version.idle)
        return True
