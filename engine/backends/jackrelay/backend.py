"""The MIDI back end on JACK when the relay runs: every port midimon opens is a port of the
relay's one JACK client, so relayed answers and the engine's own output share a port and an order.

Port lists still come from the mido back end it wraps (the same names `midimon devices`
shows); only opening goes through the relay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from midimon.engine.backends.jackrelay.client import Relay
from midimon.engine.backends.midoport import MidoBackend

log = logging.getLogger("midimon.midi")

CONNECT_TRIES = 20
CONNECT_PAUSE_S = 0.05


class RelayOutput:
    def __init__(self, relay: Relay, name: str, index: int) -> None:
        self.name = name
        self.relay_index = index
        self._relay = relay
        self.closed = False

    def send(self, msg: Any) -> None:
        if self.closed:
            raise OSError(f"port {self.name!r} is closed")
        self._relay.send(self.relay_index, bytes(msg.bytes()))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._relay.remove_port(self.relay_index)


class RelayInput:
    def __init__(self, relay: Relay, name: str, index: int) -> None:
        self.name = name
        self.relay_index = index
        self._relay = relay
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._relay.remove_port(self.relay_index)


class RelayBackend:
    def __init__(self, inner: MidoBackend, relay: Relay) -> None:
        self.inner = inner
        self.relay = relay
        self.name = f"{inner.name} + in-cycle relay"
        self.is_jack = True
        #: called with each output the relay opens (the extension recompiles its table)
        self.on_output: list[Callable[[RelayOutput], None]] = []

    def problem(self) -> str | None:
        if self.relay.server_gone():
            return "the JACK server has gone; restart midimon once it runs again"
        return self.inner.problem()

    def input_names(self) -> list[str]:
        return self.inner.input_names()

    def output_names(self) -> list[str]:
        return self.inner.output_names()

    def close(self) -> None:
        self.inner.close()
        self.relay.close()

    def _connect(self, source: str, destination: str) -> None:
        """Connect now; a new port on a settled client takes at once (DESIGN.md's one-second
        settle is for a freshly opened client). Retried briefly in case it does not."""
        for _ in range(CONNECT_TRIES):
            if self.relay.connect(source, destination):
                return
            time.sleep(CONNECT_PAUSE_S)
        log.warning("JACK: connecting %r -> %r failed; connect them yourself", source, destination)

    def open_input(self, name: str, callback: Callable) -> RelayInput:
        if name not in self.input_names():
            raise OSError(f"no MIDI input named {name!r}")
        i = self.relay.add_port(name, output=False, callback=callback)
        self._connect(name, self.relay.port_name(i))
        return RelayInput(self.relay, name, i)

    def open_virtual_input(self, name: str, callback: Callable) -> RelayInput:
        return RelayInput(self.relay, name, self.relay.add_port(name, output=False, callback=callback))

    def open_output(self, name: str) -> RelayOutput:
        if name not in self.output_names():
            raise OSError(f"no MIDI output named {name!r}")
        i = self.relay.add_port(name, output=True)
        self._connect(self.relay.port_name(i), name)
        return self._opened(RelayOutput(self.relay, name, i))

    def open_virtual_output(self, name: str) -> RelayOutput:
        return self._opened(RelayOutput(self.relay, name, self.relay.add_port(name, output=True)))

    def _opened(self, port: RelayOutput) -> RelayOutput:
        for cb in list(self.on_output):
            threading.Thread(target=cb, args=(port,), name="midimon-relay-table", daemon=True).start()
        return port
