"""MIDI output: named ports opened on first use, and the daemon's own virtual output."""

from __future__ import annotations

import logging
import threading

import mido

from midimon.engine.errors import ActionError, BackendUnavailable
from midimon.engine.ports import OutputPort, match_port

log = logging.getLogger("midimon.midi")


class MidiOut:
    def __init__(self, backend, virtual_name: str | None = None) -> None:
        self.backend = backend
        self.virtual_name = virtual_name
        self._ports: dict[str, OutputPort] = {}
        self._virtual: OutputPort | None = None
        self._lock = threading.Lock()
        self.sent = 0

    def open_virtual(self) -> None:
        if self.virtual_name and self._virtual is None:
            self._virtual = self.backend.open_virtual_output(self.virtual_name)
            log.info("virtual MIDI output %r is open", self.virtual_name)

    def _port(self, name: str | None):
        if name is None or name == self.virtual_name:
            if self._virtual is None:
                raise ActionError(
                    "SendMidi has no port and the config asks for no virtual output; "
                    'set port = "..." or [device] virtual_output = "midimon"'
                )
            return self._virtual
        port = self._ports.get(name)
        if port is not None:
            return port
        with self._lock:
            port = self._ports.get(name)
            if port is None:
                problem = self.backend.problem()
                if problem:
                    raise BackendUnavailable(problem)
                real = match_port(name, self.backend.output_names())
                if real is None:
                    raise ActionError(
                        f"no MIDI output named {name!r} (outputs: {', '.join(self.backend.output_names()) or 'none'})"
                    )
                port = self.backend.open_output(real)
                self._ports[name] = port
                log.info("MIDI output %r opened as %r", name, real)
        return port

    def port_for(self, name: str | None) -> OutputPort | None:
        """The port SendMidi with ``port = name`` writes to, if it is open now (never opens one)."""
        if name is None or name == self.virtual_name:
            return self._virtual
        return self._ports.get(name)

    def prepare(self, names) -> threading.Thread:
        """Open the named outputs a config uses, on a thread of their own.

        SendMidi runs on the engine loop; opening a port there would stall it (about a second
        on JACK, where the connection is made after the client settles).
        """
        wanted = [n for n in dict.fromkeys(names) if n and n != self.virtual_name and n not in self._ports]

        def open_all() -> None:
            for name in wanted:
                try:
                    self._port(name)
                except Exception as exc:
                    log.warning("MIDI output %r is not available yet: %s", name, exc)

        t = threading.Thread(target=open_all, name="midimon-open-outputs", daemon=True)
        t.start()
        return t

    def send(self, port_name: str | None, mtype: str, **fields) -> None:
        self.send_message(port_name, mido.Message(mtype, **fields))

    def send_message(self, port_name: str | None, msg) -> None:
        port = self._port(port_name)
        try:
            port.send(msg)
        except Exception as exc:
            with self._lock:
                self._ports.pop(port_name or "", None)
            raise ActionError(f"sending to MIDI output {port_name!r} failed: {exc}") from None
        self.sent += 1

    def close(self) -> None:
        with self._lock:
            for port in list(self._ports.values()) + ([self._virtual] if self._virtual else []):
                try:
                    port.close()
                except Exception:
                    pass
            self._ports.clear()
            self._virtual = None

    def names(self) -> list[str]:
        return list(self._ports) + ([self.virtual_name] if self._virtual and self.virtual_name else [])
