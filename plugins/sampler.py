"""Once a second: the counters of every running plugin on the change feed, and a sync when
something changed on a call thread (a suspension, a worker restart, a new denial).

Counters move on every call; they are read from the hosts without a lock and are never a
reason to bump a record's ``seq``. The feed carries a sample of them at most once a second,
and only when one moved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .requests import Requests
from .runtime import Runtime

INTERVAL = 1.0


class Sampler:
    def __init__(
        self,
        runtime: Runtime,
        requests: Requests,
        shown_requests: Callable[[], dict[tuple[str, str, str], int]],
        publish: Callable[[str, dict[str, Any]], object],
        resync: Callable[[], object],
        interval: float = INTERVAL,
    ) -> None:
        self.runtime = runtime
        self.requests = requests
        self.shown_requests = shown_requests  # what the published records say
        self.publish = publish
        self.resync = resync
        self.interval = interval
        self._marks: dict[str, tuple[Any, ...]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="midimon-plugin-counters", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2)

    def _run(self) -> None:
        last: dict[str, Any] = {}
        while not self._stop.wait(self.interval):
            counters: dict[str, Any] = {}
            changed = False
            for name, version in list(self.runtime.active.items()):
                hs = version.host.state
                counters[name] = {
                    "calls": hs.get("calls", 0),
                    "failures": hs.get("failures", 0),
                    "timeouts": hs.get("timeouts", 0),
                    "denials": hs.get("denials", 0),
                    "memory_mb": hs.get("memory_mb"),
                    "memory_warning": hs.get("memory_warning"),  # past 80% of the limit, else None
                }
                mark = (hs.get("status") == "suspended", version.init_error, version.generation)
                if self._marks.get(name, mark) != mark:
                    changed = True
                self._marks[name] = mark
            if counters != last:
                self.publish("counters", {"plugins": counters})
                last = counters
            if changed or self.requests.counts() != self.shown_requests():
                self.resync()
