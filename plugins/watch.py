"""Watch the plugins folder and the plugin state file; call back once things settle.

Editors save in many ways (write in place, write a temporary and rename over, delete and
create); all of them end in a burst of events. A burst is collapsed into one callback after
``quiet`` seconds without events (and at most ``max_delay`` after the first one). The callback
rescans and compares file stamps, so an extra call costs a ``scandir`` and changes nothing; a
file caught half-written fails to compile, keeps the old version, and the final write of the
save brings another event and the good version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("midimon.plugins")


class Debouncer:
    def __init__(self, callback: Callable[[], None], quiet: float = 0.04, max_delay: float = 0.25) -> None:
        self.callback = callback
        self.quiet = quiet
        self.max_delay = max_delay
        self._cond = threading.Condition()
        self._first: float | None = None
        self._last = 0.0
        self._closed = False
        self.fired = 0
        self._thread = threading.Thread(target=self._run, name="midimon-plugin-watch", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        with self._cond:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = now
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._first is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                first = self._first
                assert first is not None  # poke() sets it, and only this thread clears it
                while True:
                    now = time.monotonic()
                    due = min(self._last + self.quiet, first + self.max_delay)
                    if now >= due or self._closed:
                        break
                    self._cond.wait(due - now)
                self._first = None
            if self._closed:
                return
            try:
                self.fired += 1
                self.callback()
            except Exception:
                log.exception("plugin rescan failed")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(2)


class PluginWatcher:
    """watchdog observer on the plugins folder (recursive) and on the state file's folder."""

    def __init__(self, plugins_dir: Path, state_file: Path, keys_dir: Path, callback: Callable[[], None]) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        self.debouncer = Debouncer(callback)
        poke = self.debouncer.poke
        state_name = state_file.name

        class PluginsHandler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type not in ("opened", "closed_no_write"):
                    poke()

        class HomeHandler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                paths = (getattr(event, "src_path", ""), getattr(event, "dest_path", ""))
                if any(Path(str(p)).name == state_name for p in paths if p):
                    if event.event_type not in ("opened", "closed_no_write"):
                        poke()

        self.observer = Observer()
        plugins_dir.mkdir(parents=True, exist_ok=True)
        self.observer.schedule(PluginsHandler(), str(plugins_dir), recursive=True)
        self.observer.schedule(HomeHandler(), str(state_file.parent), recursive=False)
        if keys_dir.is_dir():
            self.observer.schedule(PluginsHandler(), str(keys_dir), recursive=False)
        self.observer.daemon = True
        self.observer.start()

    def close(self) -> None:
        try:
            self.observer.stop()
            self.observer.join(2)
        finally:
            self.debouncer.close()
