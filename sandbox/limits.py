"""Resource limits for one plugin's worker, and how the worker applies them to itself."""

from __future__ import annotations

import dataclasses
import math
import resource
import time
from collections.abc import Callable
from typing import Any

MiB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one plugin may consume. Every field has a default a plugin author never needs to touch."""

    #: Address space of the worker (RLIMIT_AS). A memory bomb gets MemoryError, not the host's RAM.
    memory_bytes: int = 256 * MiB
    #: Wall deadline of one call; past it the worker is SIGKILLed and restarted.
    call_timeout: float = 5.0
    #: Wall deadline for compiling and running the module's top level.
    load_timeout: float = 10.0
    #: CPU seconds per call (RLIMIT_CPU soft limit, re-armed before each call). A backstop in case
    #: the host cannot kill in time; the wall deadline normally fires first.
    cpu_seconds_per_call: float = 10.0
    #: Failures (errors, timeouts, crashes) in a row before the plugin is suspended.
    max_failures: int = 5
    #: Largest JSON message either side accepts; a bigger one is a protocol violation.
    max_message_bytes: int = 1 * MiB
    #: Largest plugin source accepted.
    max_source_bytes: int = 512 * 1024
    #: Text a plugin may print or log per call; the rest is dropped with a note.
    max_log_bytes_per_call: int = 64 * 1024
    #: Python recursion limit inside the worker.
    recursion_limit: int = 400
    #: Output budget over time (docs/security.md "Budgets"): lines and bytes of print/log
    #: output per second that reach the daemon's log; past either, lines are counted and
    #: reported as "N lines suppressed" once the next second starts.
    log_lines_per_second: int = 50
    log_bytes_per_second: int = 32 * 1024
    #: Calls to this plugin running or waiting at once. One more is refused at once, so a
    #: stuck or slow plugin holds at most this many of the engine's action threads.
    max_pending_calls: int = 4
    #: The same across every plugin of the daemon: below the engine's 16 action threads, so
    #: built-in actions always have some even when several plugins are stuck at once.
    max_pending_calls_all: int = 12
    #: How long a call waits for room in those budgets before it is refused as busy: a burst
    #: of presses on a fast plugin drains within it, the presses of a stuck one do not.
    busy_wait: float = 0.5
    #: Bytes a worker may send the host per second (requests and replies). Each one costs the
    #: daemon a JSON decode: past this the host reads the worker's next request only when the
    #: second is over, so a plugin that sends 900 KB store.set calls back to back is slowed
    #: down instead of keeping half a core of the daemon busy.
    received_bytes_per_second: int = 4 * MiB
    #: Share of ``memory_bytes`` past which the log and status warn (the plan's monitoring).
    memory_warning_ratio: float = 0.8

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def apply_process_limits(limits: Limits) -> None:
    """Called by the worker on itself, before any plugin code exists in the process."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    # No core files: a crashing worker must not leave plugin memory on disk.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # RLIMIT_NPROC is not lowered: it counts every process of the user, so it would break the
    # daemon's other children. Threads and fork are unreachable from plugin code instead.


def arm_cpu_limit(seconds: float) -> None:
    """Re-arm the soft CPU limit relative to CPU already used, so a long-lived worker is not
    killed for work it did in earlier calls. SIGXCPU's default action ends the process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = int(math.ceil(used + seconds))
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class RateBudget:
    """At most ``lines`` lines and ``size`` bytes per one-second window, counting the rest.

    ``take`` says how much of a record may pass now; ``roll`` returns what was suppressed in
    the window that just ended (once) so the caller can say so. Not thread-safe: one host
    serialises its calls.
    """

    def __init__(self, lines: int, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.lines, self.size, self.clock = max(1, lines), max(1, size), clock
        self._window = -1
        self._lines = self._bytes = 0
        self.suppressed_lines = self.suppressed_bytes = 0

    def roll(self) -> tuple[int, int]:
        """(lines, bytes) suppressed in a window that has ended, else (0, 0)."""
        window = int(self.clock())
        if window == self._window:
            return 0, 0
        self._window, self._lines, self._bytes = window, 0, 0
        out = (self.suppressed_lines, self.suppressed_bytes)
        self.suppressed_lines = self.suppressed_bytes = 0
        return out

    def take(self, lines: list[str]) -> list[str]:
        """The leading part of ``lines`` that fits the budget; the rest is counted."""
        kept: list[str] = []
        for i, line in enumerate(lines):
            size = len(line.encode("utf-8", "replace")) + 1
            if self._lines >= self.lines or self._bytes >= self.size:
                rest = lines[i:]
                self.suppressed_lines += len(rest)
                self.suppressed_bytes += sum(len(x.encode("utf-8", "replace")) + 1 for x in rest)
                break
            if self._bytes + size > self.size:  # the line that crosses the budget is cut
                room = self.size - self._bytes
                line = line.encode("utf-8", "replace")[:room].decode("utf-8", "ignore") + " [cut]"
                self.suppressed_bytes += size - room
                size = room
            self._lines += 1
            self._bytes += size
            kept.append(line)
        return kept
