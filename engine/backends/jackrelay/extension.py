"""The relay as one of the daemon's parts: chosen before start, attached to the engine, its
table recompiled on every reload and whenever an output it answers through opens.

When the back end is not JACK, or the relay cannot be built or loaded (no C compiler, no
libjack, no server), the daemon runs exactly as before, on the mido back end; the reason is
logged once and shown in ``midimon status`` under ``jack_relay``. ``MIDIMON_JACK_RELAY=0``
turns the relay off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from midimon.engine.backends.jackrelay.midi_table import CompiledTable, compile_midi_table, relay_answers
from midimon.engine.extension import Extension

if TYPE_CHECKING:
    from midimon.engine.backends.jackrelay.backend import RelayBackend, RelayOutput
    from midimon.engine.daemon import Daemon
    from midimon.engine.loop import Engine

log = logging.getLogger("midimon.midi")

ENV_SWITCH = "MIDIMON_JACK_RELAY"


class _EngineSink:
    def __init__(self, engine: Engine) -> None:
        self.submit: Any = engine.submit
        self._call_soon = engine.call_soon

    def after(self, fn: Any) -> None:
        self._call_soon(fn)


class RelayExtension(Extension):
    name = "jack_relay"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env
        self.backend: RelayBackend | None = None
        self.reason: str | None = "not started"
        self._daemon: Daemon | None = None
        self._lock = threading.Lock()  # one table build and swap at a time
        self.swaps = 0
        self.last_compile_ms = 0.0

    # ------------------------------------------------------------------ choosing the path
    def prepare(self, daemon: Daemon) -> None:
        self._daemon = daemon
        try:
            self.reason = self._choose(daemon)
        except Exception as exc:  # a bug here must not stop midimon: it runs on the Python path
            log.exception("JACK: setting up the in-cycle relay failed")
            self.reason = f"internal error: {type(exc).__name__}: {exc}"
        if self.reason is None and self.backend is not None:
            relay = self.backend.relay
            log.info(
                "JACK: MIDI-only mappings are answered inside the JACK cycle (client %r, %d frames at %d Hz)",
                relay.client_name,
                relay.period_frames,
                relay.rate,
            )
        elif self.reason is not None and not self.reason.startswith("the MIDI back end is not JACK"):
            log.warning("JACK: the in-cycle relay is off (%s); every mapping runs on the engine loop", self.reason)
        else:
            log.debug("in-cycle relay off: %s", self.reason)

    def _choose(self, daemon: Daemon) -> str | None:
        if self._env.get(ENV_SWITCH, "1").strip().lower() in ("0", "off", "no", "false"):
            return f"turned off by {ENV_SWITCH}=0"
        from midimon.engine.backends.midoport import MidoBackend

        inner = MidoBackend()
        if not inner.is_jack:
            return f"the MIDI back end is not JACK ({inner.name})"
        from midimon.engine.backends.jackrelay import build
        from midimon.engine.backends.jackrelay.backend import RelayBackend
        from midimon.engine.backends.jackrelay.client import Relay

        try:
            lib = build.load(daemon.home.root / "cache")
            relay = Relay(lib)
        except (build.RelayUnavailable, OSError) as exc:
            return str(exc)
        backend = RelayBackend(inner, relay)
        if not daemon.use_backend(backend):
            relay.close()
            return "the daemon was given its own MIDI back end"
        backend.on_output.append(self._output_opened)
        self.backend = backend
        return None

    # ------------------------------------------------------------------ the engine side
    def start(self, daemon: Daemon) -> None:
        if self.backend is None or daemon.engine is None:
            return
        engine = daemon.engine
        engine.relay_answers = relay_answers
        engine.mode_listeners.append(lambda _old, new: self._set_mode(new))
        self.backend.relay.sink = _EngineSink(engine)
        self._recompile_logged()

    def after_reload(self, daemon: Daemon, outcome: dict[str, Any]) -> None:
        if outcome.get("ok"):
            self._recompile_logged()

    def _output_opened(self, _port: RelayOutput) -> None:
        if self._daemon is not None and self._daemon.engine is not None and self.backend is not None:
            if self.backend.relay.sink is not None:
                self._recompile_logged()

    def _recompile_logged(self) -> None:
        """A table that fails to build leaves the last one in place (or none: every event then
        goes to the engine, which answers it as before)."""
        try:
            self.recompile()
        except Exception:
            log.exception("JACK: compiling the relay's table failed; the previous one stays")

    def _set_mode(self, mode: str) -> None:
        if self.backend is not None:
            self.backend.relay.set_mode(mode)

    def _port_index(self, name: str | None) -> int | None:
        daemon = self._daemon
        out = daemon.midi_out if daemon is not None else None
        if out is None:
            return None
        port = out.port_for(name)
        return getattr(port, "relay_index", None)

    def recompile(self) -> CompiledTable | None:
        """Build the table off the loop, swap it in on the loop, free the old one after."""
        daemon, backend = self._daemon, self.backend
        if daemon is None or daemon.engine is None or backend is None:
            return None
        engine, relay = daemon.engine, backend.relay
        with self._lock:
            t0 = time.perf_counter()
            table = engine.table
            compiled = compile_midi_table(table, self._port_index)
            handle = relay.prepare(compiled)
            self.last_compile_ms = (time.perf_counter() - t0) * 1000
            box: list[int | None] = [None]

            def swap() -> None:
                # the engine's table may have moved on since: then the next recompile answers
                box[0] = relay.swap(compiled, handle, engine.mode)

            engine.call_and_wait(swap)
            relay.retire(box[0])
            self.swaps += 1
        return compiled

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        if self.backend is None:
            return {"active": False, "reason": self.reason}
        relay = self.backend.relay
        table = relay.table
        return {
            "active": True,
            "reason": None,
            "client": relay.client_name,
            "period_frames": relay.period_frames,
            "rate": relay.rate,
            "answered_keys": table.answered if table else 0,
            "barrier_keys": table.barriers if table else 0,
            "table_bytes": table.nbytes if table else 0,
            "table_swaps": self.swaps,
            "last_compile_ms": round(self.last_compile_ms, 3),
            "leaked_tables": relay.leaked_tables,
            **relay.stats(),
        }

    def close(self) -> None:
        # the daemon closes its back end; this covers a start that failed before it took it
        if self.backend is not None:
            self.backend.relay.close()
