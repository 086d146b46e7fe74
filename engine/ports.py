"""The small port interface every MIDI back end implements, and port-name matching.

As in mido, back ends live behind this one interface (``backends/``); the engine never knows
which one runs. Callbacks from a back end arrive on its own thread and must only enqueue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol


class OutputPort(Protocol):
    name: str

    def send(self, msg) -> None: ...

    def close(self) -> None: ...


class InputPort(Protocol):
    name: str

    def close(self) -> None: ...


class Backend(Protocol):
    name: str

    def problem(self) -> str | None:
        """None when MIDI works, else one line: what is missing and what to do."""

    def input_names(self) -> list[str]: ...

    def output_names(self) -> list[str]: ...

    def open_input(self, name: str, callback: Callable) -> InputPort: ...

    def open_output(self, name: str) -> OutputPort: ...

    def open_virtual_output(self, name: str) -> OutputPort: ...

    def open_virtual_input(self, name: str, callback: Callable) -> InputPort: ...


def _bounded(wanted: str, name: str, at: int) -> bool:
    """``wanted`` found in ``name`` at ``at`` does not stop in the middle of a word or number."""
    end = at + len(wanted)
    if end < len(name) and name[end].isalnum() and wanted[-1:].isalnum():
        return False
    if at > 0 and name[at - 1].isalnum() and wanted[:1].isalnum():
        return False
    return True


def match_port(wanted: str, names: list[str]) -> str | None:
    """Pick a port by name: exact first, then prefix, then substring, case-insensitive for the
    last two. A match never stops inside a word or number, so "Port 1" never picks "Port 10"."""
    if wanted in names:
        return wanted
    low = wanted.lower()
    for name in names:
        if name.lower().startswith(low) and _bounded(low, name.lower(), 0):
            return name
    for name in names:
        lname = name.lower()
        for m in re.finditer(re.escape(low), lname):
            if _bounded(low, lname, m.start()):
                return name
    return None
