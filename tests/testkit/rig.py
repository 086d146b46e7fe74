"""Drive the engine synchronously with a virtual clock: deterministic timing tests."""

from __future__ import annotations

from midimon.config import load_config
from midimon.engine import events as E
from midimon.engine.loop import Engine
from midimon.engine.table import compile_table

T0 = 1000.0


class Rig:
    def __init__(self, toml: str, *, device: str = "pads") -> None:
        self.result = load_config("test.toml", text=toml)
        self.engine = Engine(compile_table(self.result.config))
        self.fired: list[tuple[str, dict]] = []
        self.engine.fire_listeners.append(lambda b, ev, ctx: self.fired.append((b.description, ctx)))
        self.now = T0
        self.device = device

    # time is in milliseconds from the start
    def at(self, ms: float) -> Rig:
        t = T0 + ms / 1000
        self.engine.run_timers(t)
        self.now = t
        return self

    def _ev(self, ms, kind, **kw):
        self.at(ms)
        kw.setdefault("device", self.device)
        ev = E.Event(kind, time=self.now, **kw)
        self.engine.process(ev)

    def on(self, ms, note, velocity=100, channel=0, **kw):
        self._ev(ms, E.NOTE_ON, note=note, velocity=velocity, channel=channel, **kw)
        return self

    def off(self, ms, note, channel=0, **kw):
        self._ev(ms, E.NOTE_OFF, note=note, velocity=0, channel=channel, **kw)
        return self

    def cc(self, ms, control, value, channel=0, **kw):
        self._ev(ms, E.CC, control=control, value=value, channel=channel, **kw)
        return self

    def event(self, ms, kind, **kw):
        self._ev(ms, kind, **kw)
        return self

    @property
    def names(self) -> list[str]:
        return [d for d, _ in self.fired]

    def take(self) -> list[str]:
        names = self.names
        self.fired.clear()
        return names


def mappings(*rows: str, settings: str = "", globals_: tuple[str, ...] = (), modes: int = 1) -> str:
    """Build a config: rows are 'description | trigger inline table' with a no-op action."""
    out = [settings]
    out.append('[[modes]]\nname = "Default"')
    for row in rows:
        desc, trig = (p.strip() for p in row.split("|", 1))
        out.append(
            f'[[modes.mappings]]\ndescription = "{desc}"\ntrigger = {trig}\naction = {{ type = "Delay", ms = 0 }}'
        )
    for extra in range(1, modes):
        out.append(f'[[modes]]\nname = "Mode{extra}"')
    for row in globals_:
        desc, trig = (p.strip() for p in row.split("|", 1))
        out.append(
            f'[[global_mappings]]\ndescription = "{desc}"\ntrigger = {trig}\naction = {{ type = "Delay", ms = 0 }}'
        )
    return "\n".join(out) + "\n"
