"""The relay's JACK client, seen from Python: ports, the two rings, the table, the reader.

The reader thread waits on the C side's semaphore (without the GIL), takes each input event
off the forward ring in order and hands it on: to ``sink`` (the engine, once attached) as an
:class:`~midimon.engine.events.Event` carrying the relay's "relayed" flag, or before that to
the port's own callback, as any back end would. After each batch holding events forwarded
during an order barrier it queues, behind them on the engine loop, the release the C callback
waits for: the barrier lifts only once the engine has handled them.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from midimon.engine import events as E
from midimon.engine.backends.jackrelay.build import RelayUnavailable
from midimon.engine.backends.jackrelay.midi_table import NO_MODE, CompiledTable

log = logging.getLogger("midimon.midi")

RING_BYTES = 1 << 20  # each way; a record is 24 bytes plus its data rounded to 8
FLAG_RELAYED, FLAG_RELEASE = 1, 2
STATS = (
    "cycles",
    "events_in",
    "relayed",
    "out_engine",
    "out_relay",
    "forward_dropped",
    "out_dropped",
    "barriers",
    "xruns",
    "max_events_per_cycle",
)


class Sink(Protocol):
    """Where forwarded events go once the engine runs (the relay extension provides it)."""

    def submit(self, ev: E.Event) -> None: ...

    def after(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the engine loop after everything submitted so far."""
        ...


@dataclass
class _Port:
    index: int
    name: str  # what the daemon calls it: the source or destination port, or the virtual name
    output: bool
    callback: Callable[[Any], None] | None = None


class Relay:
    def __init__(self, lib: ctypes.CDLL, client_name: str = "midimon", libjack: str = "libjack.so.0") -> None:
        self._lib = lib
        handle = lib.relay_open(libjack.encode(), client_name.encode(), RING_BYTES)
        if not handle:
            raise RelayUnavailable((lib.relay_error() or b"").decode(errors="replace"))
        self._h: int = handle
        self.client_name = (lib.relay_client_name(handle) or b"").decode()
        self.period_frames = int(lib.relay_buffer_size(handle))
        self.rate = int(lib.relay_sample_rate(handle))
        self._ports: dict[int, _Port] = {}
        self._send_lock = threading.Lock()  # the output ring has one producer at a time
        self._lock = threading.Lock()
        self._table: CompiledTable | None = None
        self.sink: Sink | None = None
        #: benchmarks only: (seq, port, flags, frame, data) for every record, instead of events
        self.on_raw: Callable[[int, int, int, int, bytes], None] | None = None
        self.leaked_tables = 0
        self._stop = threading.Event()
        self._from_bytes = __import__("mido").Message.from_bytes
        self._reader = threading.Thread(target=self._read, name="midimon-jackrelay", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ ports
    def add_port(self, name: str, output: bool, callback: Callable[[Any], None] | None = None) -> int:
        # JACK refuses nothing printable here; rtmidi names its ports the same way (the full
        # name of the port it connects to), so `midimon devices` reads the same on both paths
        with self._lock:
            if not self._h:
                raise OSError("the JACK relay is closed")
            i = int(self._lib.relay_add_port(self._h, name.encode(), 1 if output else 0))
            if i < 0:
                raise OSError((self._lib.relay_error() or b"").decode(errors="replace"))
            self._ports[i] = _Port(i, name, output, callback)
        return i

    # every call into C holds a lock that close() takes too: a handle is never used once freed
    def port_name(self, index: int) -> str:
        with self._lock:
            return (self._lib.relay_port_name(self._h, index) or b"").decode() if self._h else ""

    def connected(self, index: int) -> int:
        with self._lock:
            return int(self._lib.relay_port_connected(self._h, index)) if self._h else 0

    def connect(self, source: str, destination: str) -> bool:
        with self._lock:
            return bool(self._h) and int(self._lib.relay_connect(self._h, source.encode(), destination.encode())) == 0

    def remove_port(self, index: int) -> None:
        with self._lock:
            if self._ports.pop(index, None) is None or not self._h:
                return
            self._lib.relay_remove_port(self._h, index)  # waits two cycles, without the GIL

    def output_index(self, name: str) -> int | None:
        with self._lock:
            return next((p.index for p in self._ports.values() if p.output and p.name == name), None)

    # ------------------------------------------------------------------ engine side
    def send(self, index: int, data: bytes, ident: int = 0) -> None:
        with self._send_lock:
            if not self._h:
                raise OSError("the JACK relay is closed")
            if self._lib.relay_send(self._h, index, data, len(data), ident) != 0:
                raise OSError("the JACK relay's output ring is full (the JACK server stopped reading?)")

    def prepare(self, table: CompiledTable) -> int:
        """The C copy of a compiled table, not yet in use (built off the engine loop)."""
        handle = self._lib.relay_table_new(
            len(table.modes),
            table.entries,
            table.other,
            table.nouts,
            table.outs,
            table.nluts,
            table.luts,
            NO_MODE,
        )
        if not handle:
            raise RuntimeError("the relay refused the compiled table (an index out of range)")
        return int(handle)

    def swap(self, table: CompiledTable, handle: int, mode: str | None) -> int | None:
        """On the engine loop, between two events: the table and the mode change together."""
        with self._lock:
            if not self._h:
                self._lib.relay_table_free(handle)
                return None
            self._lib.relay_table_set_mode(handle, table.mode_index(mode))
            old = self._lib.relay_swap(self._h, handle)
            self._table = table
        return int(old) if old else None

    def retire(self, old: int | None) -> None:
        """Free a swapped-out table once the callback has moved on (waits two cycles)."""
        with self._lock:
            if old is not None and self._h and self._lib.relay_retire(self._h, old) != 0:
                self.leaked_tables += 1  # the callback did not run for a second: never free early

    def set_mode(self, mode: str) -> None:
        table = self._table
        with self._lock:
            if table is not None and self._h:
                self._lib.relay_set_mode(self._h, table.mode_index(mode))

    @property
    def table(self) -> CompiledTable | None:
        return self._table

    def release(self, seq: int) -> None:
        with self._lock:
            if self._h:
                self._lib.relay_release(self._h, seq)

    def stats(self) -> dict[str, int]:
        arr = (ctypes.c_uint64 * len(STATS))()
        with self._lock:
            if self._h:
                self._lib.relay_stats(self._h, arr, len(STATS))
        return dict(zip(STATS, (int(v) for v in arr), strict=True))

    def stamp_sent(self, on: bool) -> None:
        """Benchmarks: report the frame each output left at (a FLAG_SENT record with its id)."""
        with self._lock:
            if self._h:
                self._lib.relay_stamp_sent(self._h, 1 if on else 0)

    def server_gone(self) -> bool:
        with self._lock:
            return not self._h or bool(self._lib.relay_server_gone(self._h))

    # ------------------------------------------------------------------ the reader
    def _read(self) -> None:
        lib, h = self._lib, self._h
        seq = ctypes.c_uint64()
        port, flags, frame, size = (ctypes.c_uint32() for _ in range(4))
        cap = 65536
        buf = ctypes.create_string_buffer(cap)
        refs = tuple(ctypes.byref(v) for v in (seq, port, flags, frame, size))
        from_bytes = self._from_bytes
        while not self._stop.is_set():
            got = lib.relay_wait(h, 200)
            if got < 0:
                log.error("JACK: the server went away; the relay's ports are gone")
                return
            release = 0
            sink, raw = self.sink, self.on_raw
            while True:
                if not lib.relay_next(h, *refs, buf, cap):
                    break
                n = size.value
                if raw is not None:  # benchmarks: every record, with its frame, nothing else
                    raw(seq.value, port.value, flags.value, frame.value, ctypes.string_at(buf, min(n, cap)))
                    continue
                p = self._ports.get(port.value)
                if p is None or n > cap:
                    continue  # a port closed meanwhile; an oversized SysEx
                try:
                    msg = from_bytes(ctypes.string_at(buf, n))  # buf.raw would copy all 64 KiB
                except (ValueError, TypeError):
                    continue  # a malformed message from the device: nothing to map
                try:
                    if sink is None:
                        if p.callback is not None:
                            p.callback(msg)
                    else:
                        ev = E.from_mido(msg, p.name)
                        if ev is not None:
                            if flags.value & FLAG_RELAYED:
                                ev.relayed = True
                            sink.submit(ev)
                except Exception:
                    log.exception("JACK relay: handing on an event failed")
                if flags.value & FLAG_RELEASE:
                    release = seq.value
            if release:
                if sink is None:
                    self.release(release)  # no engine yet: nothing can still be pending
                else:
                    sink.after(functools.partial(self.release, release))

    def close(self) -> None:
        """Close the client (its ports go with it); a second call does nothing."""
        with self._lock:
            h = self._h
        if not h:
            return
        self._stop.set()
        self._lib.relay_wake(h)
        if self._reader.is_alive() and self._reader is not threading.current_thread():
            self._reader.join(2)  # the reader uses the handle without the lock: it stops first
        with self._send_lock, self._lock:
            self._h = 0
            self._lib.relay_close(h)

    @property
    def closed(self) -> bool:
        return not self._h
