"""An in-memory MIDI back end: ports are Python objects, messages are mido messages."""

from __future__ import annotations

import threading
from collections.abc import Callable


class MemoryOutput:
    def __init__(self, name: str, backend: MemoryBackend) -> None:
        self.name, self._backend = name, backend
        self.sent: list = []
        self.closed = False

    def send(self, msg) -> None:
        if self.closed:
            raise OSError(f"port {self.name!r} is closed")
        self.sent.append(msg)

    def close(self) -> None:
        self.closed = True
        self._backend._outputs.pop(self.name, None)


class MemoryInput:
    def __init__(self, name: str, callback: Callable, backend: MemoryBackend) -> None:
        self.name, self.callback, self._backend = name, callback, backend
        self.closed = False

    def close(self) -> None:
        self.closed = True
        with self._backend._lock:
            subs = self._backend._listeners.get(self.name, [])
            if self in subs:
                subs.remove(self)


class MemoryBackend:
    """Devices are names; ``add_device(name)`` makes an input (and output) appear, ``inject``
    plays a message from it, and anything sent to an output can be read from ``.sent``."""

    name = "memory"

    def __init__(self, devices: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._devices: list[str] = list(devices or [])
        self._listeners: dict[str, list[MemoryInput]] = {}
        self._outputs: dict[str, MemoryOutput] = {}
        self.virtual_outputs: list[str] = []
        self.opened_outputs: dict[str, MemoryOutput] = {}

    def problem(self) -> str | None:
        return None

    def close(self) -> None:
        pass

    def add_device(self, name: str) -> None:
        with self._lock:
            if name not in self._devices:
                self._devices.append(name)

    def remove_device(self, name: str) -> None:
        with self._lock:
            if name in self._devices:
                self._devices.remove(name)
            for port in self._listeners.pop(name, []):
                port.closed = True

    def input_names(self) -> list[str]:
        return list(self._devices)

    def output_names(self) -> list[str]:
        return list(self._devices) + list(self.virtual_outputs)

    def open_input(self, name: str, callback: Callable) -> MemoryInput:
        with self._lock:
            if name not in self._devices:
                raise OSError(f"no MIDI input named {name!r}")
            port = MemoryInput(name, callback, self)
            self._listeners.setdefault(name, []).append(port)
            return port

    open_virtual_input = open_input

    def open_output(self, name: str) -> MemoryOutput:
        if name not in self.output_names():
            raise OSError(f"no MIDI output named {name!r}")
        port = self.opened_outputs.get(name)
        if port is None or port.closed:
            port = MemoryOutput(name, self)
            self.opened_outputs[name] = port
        return port

    def open_virtual_output(self, name: str) -> MemoryOutput:
        self.virtual_outputs.append(name)
        return self.open_output(name)

    def inject(self, device: str, msg) -> None:
        """Play ``msg`` as if ``device`` sent it (the callback runs on this thread)."""
        with self._lock:
            listeners = list(self._listeners.get(device, []))
        for port in listeners:
            port.callback(msg)
