"""Input connections: find the configured device, connect, notice it leave and come back.

The port list is polled (a MIDI API's hot-plug notifications differ per platform and some
have none); a vanished port is closed, and a returning one is reconnected with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from midimon.engine import events as E
from midimon.engine.ports import InputPort, match_port

log = logging.getLogger("midimon.devices")


@dataclass
class DeviceState:
    wanted: str  # what the config asks for ("*" = every input)
    port: str | None = None  # the real port name while connected
    state: str = "waiting"  # waiting | connected | error | disabled
    since: float = field(default_factory=time.time)
    error: str | None = None
    connects: int = 0
    next_try: float = 0.0
    backoff: float = 0.0


class DeviceManager:
    def __init__(
        self,
        backend,
        submit: Callable[[E.Event], None],
        *,
        name: str | None,
        port: str | None,
        auto_connect: bool = True,
        auto_reconnect: bool = True,
        ignore: Callable[[str], bool] = lambda n: False,
        poll_interval: float = 0.5,
    ) -> None:
        self.backend = backend
        self.submit = submit
        self.spec = port or name
        self.exact = port is not None
        self.auto_connect = auto_connect
        self.auto_reconnect = auto_reconnect
        self.ignore = ignore
        self.poll_interval = poll_interval
        self._open: dict[str, InputPort] = {}
        self.devices: dict[str, DeviceState] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.problem: str | None = None
        self.on_connect: list[Callable[[str], None]] = []

    def _callback(self, port_name: str):
        submit, from_mido = self.submit, E.from_mido

        def on_message(msg) -> None:  # back-end thread: convert and enqueue, nothing else
            ev = from_mido(msg, port_name)
            if ev is not None:
                submit(ev)

        return on_message

    def scan(self) -> None:
        """One pass: connect what is wanted and present, drop what is gone."""
        with self._lock:
            problem = self.backend.problem()
            if problem != self.problem:
                if problem:
                    log.error("%s", problem)
                self.problem = problem
            if problem:
                return
            names = [n for n in self.backend.input_names() if not self.ignore(n)]
            if self.spec:
                wanted = {
                    self.spec: (
                        self.spec
                        if self.exact and self.spec in names
                        else (None if self.exact else match_port(self.spec, names))
                    )
                }
            else:
                wanted = {n: n for n in names}
            for key in list(self.devices):
                if key not in wanted and self.spec is None:
                    self._close(key, "gone")
                    del self.devices[key]
            now = time.monotonic()
            for key, real in wanted.items():
                st = self.devices.setdefault(key, DeviceState(key))
                if st.port is not None and st.port != real:
                    self._close(key, "unplugged")
                    log.warning("device %r disconnected; waiting for it to return", st.port)
                    st.port, st.state, st.since = None, "waiting", time.time()
                if real is None:
                    if st.state != "waiting":
                        st.state, st.since = "waiting", time.time()
                    continue
                if st.port is None:
                    if not self.auto_connect or (st.connects and not self.auto_reconnect):
                        st.state = "disabled"
                        continue
                    if now < st.next_try:
                        continue
                    try:
                        self._open[key] = self.backend.open_input(real, self._callback(real))
                    except Exception as exc:
                        st.backoff = min(max(st.backoff * 2, 0.5), 10.0)
                        st.next_try = now + st.backoff
                        st.state, st.error = "error", f"cannot open {real!r}: {exc}"
                        log.warning("%s (retrying in %.1f s)", st.error, st.backoff)
                        continue
                    st.port, st.state, st.error, st.since, st.backoff = real, "connected", None, time.time(), 0.0
                    st.connects += 1
                    log.info("%s MIDI input %r", "reconnected" if st.connects > 1 else "connected", real)
                    for cb in self.on_connect:
                        try:
                            cb(real)
                        except Exception:
                            log.exception("on_connect callback failed")

    def waiting_message(self) -> str | None:
        if self.problem:
            return None  # already said by scan()
        if self.spec and all(st.port is None for st in self.devices.values()):
            names = ", ".join(self.backend.input_names()) or "none"
            return f"MIDI input {self.spec!r} is not connected; waiting for it (inputs now: {names})"
        if not self.spec and not self.devices:
            return "no MIDI inputs yet; waiting for one to appear"
        return None

    def _close(self, key: str, why: str) -> None:
        port = self._open.pop(key, None)
        if port is not None:
            try:
                port.close()
            except Exception:
                pass

    def start(self) -> None:
        self.scan()
        self._thread = threading.Thread(target=self._poll, name="midimon-devices", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.scan()
            except Exception:
                log.exception("device scan failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        with self._lock:
            for key in list(self._open):
                self._close(key, "shutdown")

    def to_json(self) -> list[dict]:
        with self._lock:
            return [
                {
                    "wanted": st.wanted,
                    "port": st.port,
                    "state": st.state,
                    "since": st.since,
                    "error": st.error,
                    "connects": st.connects,
                }
                for st in self.devices.values()
            ]
