"""Controller feedback: keep the pads' and buttons' lights in step with midimon's state.

The desired light state is derived, never accumulated: the active mode's ``leds`` plus the
``feedback`` of mappings whose control is held. midimon sends the whole state at start, after
every reconnect of the device, and on each mode change (lights the new mode does not mention
go to 0), and a light's press / release value as it happens. Sending runs on its own thread,
in order, so opening a port (a second on JACK) never stalls the engine loop.
"""

from __future__ import annotations

import logging
import queue
import threading

from midimon.config.models import NoteChordTrigger
from midimon.engine import events as E
from midimon.engine.ports import match_port

log = logging.getLogger("midimon.feedback")

Light = tuple[str, int, int]  # ("note" | "cc", channel, number)


def mode_lights(table, mode: str) -> dict[Light, int]:
    """Every light any mode mentions, at this mode's value (0 where it says nothing)."""
    out: dict[Light, int] = {}
    for m in table.config.modes:
        if m.leds:
            for n in m.leds.notes:
                out[("note", m.leds.channel, n)] = 0
            for c in m.leds.ccs:
                out[("cc", m.leds.channel, c)] = 0
    current = next((m for m in table.config.modes if m.name == mode), None)
    if current is not None and current.leds:
        for n, v in current.leds.notes.items():
            out[("note", current.leds.channel, n)] = v
        for c, v in current.leds.ccs.items():
            out[("cc", current.leds.channel, c)] = v
    return out


def press_lights(table, mode: str) -> dict[tuple[str, int], list]:
    """(event kind, note-or-cc) -> [(light, press value, release value or None)] for a mode."""
    out: dict[tuple[str, int], list] = {}
    mt = table.modes.get(mode)
    if mt is None:
        return out
    seen = set()
    for group in (mt.press, mt.hold, mt.double, mt.chord_by_note, mt.cc, mt.encoder):
        for binds in group.values():
            for b in binds:
                fb = b.mapping.feedback
                if fb is None or id(b) in seen:
                    continue
                seen.add(id(b))
                t = b.trigger
                if isinstance(t, NoteChordTrigger):
                    keys = [("note", n) for n in t.notes]
                elif hasattr(t, "note") and t.note is not None:
                    keys = [("note", t.note)]
                else:
                    keys = [("cc", t.cc)]
                for kind, num in keys:
                    if fb.cc is not None:
                        light = ("cc", fb.channel if fb.channel is not None else (t.channel or 0), fb.cc)
                    else:
                        light = (
                            kind,
                            fb.channel if fb.channel is not None else (t.channel or 0),
                            fb.note if fb.note is not None else num,
                        )
                    out.setdefault((kind, num), []).append((light, fb.press, fb.release))
    return out


class Feedback:
    def __init__(self, backend, engine, output: str | None) -> None:
        self.backend = backend
        self.engine = engine
        self.wanted = output
        self.port = None
        self.port_name: str | None = None
        self.shown: dict[Light, int] = {}
        self.sent = 0
        self.problem: str | None = None
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._index: dict = {}
        self._index_key: tuple[int, str] | None = None
        self._thread = threading.Thread(target=self._run, name="midimon-feedback", daemon=True)
        self._thread.start()

    @property
    def enabled(self) -> bool:
        cfg = self.engine.table.config
        return self.wanted is not None and (
            any(m.leds for m in cfg.modes)
            or any(mp.feedback for m in cfg.modes for mp in m.mappings)
            or any(mp.feedback for mp in cfg.global_mappings)
        )

    # ---- hooks (engine loop thread) ---------------------------------------------------------
    def on_mode(self, _old: str, new: str) -> None:
        if self.enabled:
            self._q.put(("state", mode_lights(self.engine.table, new), False))

    def on_event(self, ev: E.Event) -> None:
        if ev.kind == E.NOTE_ON or ev.kind == E.NOTE_OFF:
            key = ("note", ev.note)
        elif ev.kind == E.CC:
            key = ("cc", ev.control)
        else:
            return
        table, mode = self.engine.table, self.engine.mode
        if self._index_key != (id(table), mode):
            self._index = press_lights(table, mode)
            self._index_key = (id(table), mode)
        lights = self._index.get(key)
        if not lights:
            return
        pressed = ev.kind == E.NOTE_ON or (ev.kind == E.CC and ev.value > 0)
        base = None
        for light, on, off in lights:
            if pressed:
                value = on
            else:
                if off is None:
                    base = base if base is not None else mode_lights(table, mode)
                    off = base.get(light, 0)
                value = off
            self._q.put(("one", light, value))

    # ---- from other threads -----------------------------------------------------------------
    def resend(self, reopen: bool = False) -> None:
        """Send the whole state again (start, reconnect, config reload)."""
        if self.enabled:
            self._q.put(("state", mode_lights(self.engine.table, self.engine.mode), True, reopen))

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(2)
        if self.port is not None:
            try:
                self.port.close()
            except Exception:
                pass

    # ---- sender thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            try:
                if item[0] == "one":
                    self._send(item[1], item[2])
                else:
                    lights, force = item[1], item[2]
                    if len(item) > 3 and item[3]:
                        self._close_port()
                    for light, value in lights.items():
                        if force or self.shown.get(light) != value:
                            self._send(light, value)
            except Exception as exc:
                self.problem = f"LED feedback failed: {exc}"
                log.warning("%s", self.problem)
                self._close_port()

    def _close_port(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except Exception:
                pass
        self.port = None

    def _open(self):
        if self.port is None:
            real = match_port(self.wanted, self.backend.output_names())
            if real is None:
                raise RuntimeError(f"no MIDI output named {self.wanted!r} for LED feedback")
            self.port = self.backend.open_output(real)
            self.port_name = real
            self.problem = None
            log.info("LED feedback goes to %r", real)
        return self.port

    def _send(self, light: Light, value: int) -> None:
        import mido

        kind, channel, number = light
        if kind == "note":
            msg = mido.Message("note_on", channel=channel, note=number, velocity=value)
        else:
            msg = mido.Message("control_change", channel=channel, control=number, value=value)
        self._open().send(msg)
        self.shown[light] = value
        self.sent += 1

    def to_json(self) -> dict:
        return {
            "output": self.wanted,
            "port": self.port_name,
            "enabled": self.enabled,
            "sent": self.sent,
            "problem": self.problem,
        }
