"""Watch the config file and reload it after each save.

Editors save in many ways: write in place, truncate then write, write a temporary file and
rename it over the config (atomic replace, ``sed -i``), or rename the config to a backup and
write a new one (vim). A watch on the file itself stops at the first rename, so we watch its
folder and match both the source and the destination of moved events. Events are debounced
(trailing): one reload after the editor goes quiet. A missing or empty file is a save in
progress: the running config stays, and we look again shortly.

The worker thread never stops on an error: every failure is logged and it goes back to waiting.
A supervisor restarts the watchdog observer if it dies (its folder removed and recreated...).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

log = logging.getLogger("midimon.watch")

DEBOUNCE_S = 0.12
RETRY_S = 0.25  # missing/empty file: look again after this
RETRY_LIMIT_S = 10.0  # ... for this long, then wait for the next filesystem event
SUPERVISE_S = 2.0

_INTERESTING = {"created", "modified", "moved", "deleted", "closed"}


class ConfigWatcher:
    def __init__(self, daemon, path: Path | None = None, *, debounce: float = DEBOUNCE_S) -> None:
        self.daemon = daemon
        self.path = Path(path or daemon.config_path).absolute()
        self.debounce = debounce
        self.state = "stopped"  # running | stopped | error (observer could not start)
        self.error: str | None = None
        self.reloads = 0
        self.skipped_same = 0
        self.waiting_since: float | None = None
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._retry_until: float | None = None
        self._stop = False
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None
        self._supervisor: threading.Thread | None = None
        self._names = {os.path.normcase(str(self.path))}
        self.last_seen_sha: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        table = self.daemon.engine.table if self.daemon.engine else None
        self.last_seen_sha = getattr(table, "sha256", None)
        self._start_observer()
        self._worker = threading.Thread(target=self._work, name="midimon-watch", daemon=True)
        self._worker.start()
        self._supervisor = threading.Thread(target=self._supervise, name="midimon-watch-supervisor", daemon=True)
        self._supervisor.start()

    def _start_observer(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                watcher._on_event(event)

        folder = self.path.parent
        try:
            observer = Observer()
            observer.daemon = True
            observer.schedule(Handler(), str(folder), recursive=False)
            observer.start()
        except Exception as exc:  # the folder may be gone for a moment; the supervisor retries
            self.state, self.error = "error", f"cannot watch {folder}: {exc}"
            log.warning("%s; retrying", self.error)
            return
        self._observer = observer
        if self.state != "running":
            log.info("watching %s for changes", self.path)
        self.state, self.error = "running", None
        self.poke()  # anything may have changed while we were not watching

    def _supervise(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                self._cond.wait(SUPERVISE_S)
                if self._stop:
                    return
            try:
                obs = self._observer
                if obs is None or not obs.is_alive():
                    if obs is not None:
                        log.warning("the config watcher stopped; restarting it")
                        try:
                            obs.stop()
                        except Exception:
                            pass
                    self._observer = None
                    self._start_observer()
            except Exception:
                log.exception("restarting the config watcher failed")

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        obs = self._observer
        if obs is not None:
            try:
                obs.stop()
                obs.join(2)
            except Exception:
                pass
        for t in (self._worker, self._supervisor):
            if t is not None and t is not threading.current_thread():
                t.join(2)
        self.state = "stopped"

    # ------------------------------------------------------------------ events
    def _matches(self, p) -> bool:
        if not p:
            return False
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        return os.path.normcase(os.path.abspath(p)) in self._names

    def _on_event(self, event) -> None:
        if event.event_type not in _INTERESTING or event.is_directory:
            return
        if self._matches(event.src_path) or self._matches(getattr(event, "dest_path", "")):
            self.poke()

    def poke(self) -> None:
        """Something happened to the config: reload once things are quiet (trailing debounce)."""
        with self._cond:
            self._deadline = time.monotonic() + self.debounce
            self._cond.notify_all()

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stop:
                    now = time.monotonic()
                    if self._deadline is not None and now >= self._deadline:
                        self._deadline = None
                        break
                    timeout = None if self._deadline is None else self._deadline - now
                    self._cond.wait(timeout)
                if self._stop:
                    return
            try:
                self._check()
            except Exception:  # never wedge: log it and go back to waiting
                log.exception("the config watcher failed; it keeps watching")

    def _check(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as exc:
            log.warning("cannot read %s (%s); keeping the running config", self.path, exc.strerror)
            data = None
        if not data or not data.strip():
            # a save in progress (renamed away, truncated): keep the current config, look again
            now = time.monotonic()
            if self._retry_until is None:
                self._retry_until = now + RETRY_LIMIT_S
                self.waiting_since = time.time()
                log.info("%s is %s: waiting for the save to finish", self.path, "missing" if data is None else "empty")
            if now < self._retry_until:
                with self._cond:
                    if self._deadline is None:
                        self._deadline = now + RETRY_S
                        self._cond.notify_all()
            else:
                log.warning(
                    "%s is still %s; keeping the running config until it is saved again",
                    self.path,
                    "missing" if data is None else "empty",
                )
            return
        self._retry_until = None
        self.waiting_since = None
        sha = hashlib.sha256(data).hexdigest()
        if sha == self.last_seen_sha:
            self.skipped_same += 1  # touched, or our own read: nothing new
            return
        self.last_seen_sha = sha
        self.reloads += 1
        self.daemon.reload(text=data, source="file change")

    def to_json(self) -> dict:
        return {
            "state": self.state,
            "error": self.error,
            "path": str(self.path),
            "reloads": self.reloads,
            "waiting_for_save_since": self.waiting_since,
        }
