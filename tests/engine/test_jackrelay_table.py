"""The relay's compiled table answers exactly what the engine would send, byte for byte.

The C lookup (``relay_table_eval``, the very code the JACK callback runs per event) is checked
against the real engine (recognizer, ActionRunner, MidiOut) for generated configs: every
trigger, SendMidi message type, curve, channel and range the relay answers, mixed with what it
must leave to the engine (timing triggers, encoders, VelocityRange, conditions, mode changes).
No JACK server is needed; the library is built with the machine's C compiler.
"""

from __future__ import annotations

import ctypes
import os
import random

import pytest

from midimon.config import load_config
from midimon.engine import events as E
from midimon.engine.actions import ActionRunner
from midimon.engine.backends import MemoryBackend
from midimon.engine.backends.jackrelay import build
from midimon.engine.backends.jackrelay.midi_table import ANSWER, BARRIER, FORWARD, compile_midi_table
from midimon.engine.loop import Engine
from midimon.engine.midi_out import MidiOut
from midimon.engine.table import compile_table

VOUT = "vout"


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    try:
        return build.load(tmp_path_factory.mktemp("relay-cache"))
    except build.RelayUnavailable as exc:
        if os.environ.get("MIDIMON_REQUIRE_REAL"):
            raise
        pytest.skip(str(exc))


CURVES = [
    "",
    'velocity_curve = { type = "Linear", min = 40, max = 127 }',
    'velocity_curve = { type = "Fixed", velocity = 77 }',
    'velocity_curve = { type = "Curve", curve = "Exponential", intensity = 0.7 }',
    'velocity_curve = { type = "Curve", curve = "SCurve", intensity = 0.4 }',
]


def send_midi(rng: random.Random) -> str:
    ch = rng.randrange(16)
    kind = rng.choice(["NoteOn", "NoteOn", "NoteOff", "CC", "CC", "ProgramChange", "PitchBend", "Aftertouch", "Poly"])
    maybe = lambda field, hi=127: f", {field} = {rng.randrange(hi + 1)}" if rng.random() < 0.4 else ""
    match kind:
        case "NoteOn":
            body = f'"NoteOn", note = {rng.randrange(128)}{maybe("velocity")}'
        case "NoteOff":
            body = f'"NoteOff", note = {rng.randrange(128)}{maybe("velocity")}'
        case "CC":
            body = f'"CC", controller = {rng.randrange(128)}{maybe("value")}'
        case "ProgramChange":
            body = f'"ProgramChange", program = {rng.randrange(128)}'
        case "PitchBend":
            body = '"PitchBend"' + (f", pitch = {rng.randrange(-8192, 8192)}" if rng.random() < 0.5 else "")
        case "Aftertouch":
            body = '"Aftertouch"' + maybe("pressure")
        case _:
            body = f'"PolyAftertouch", note = {rng.randrange(128)}{maybe("pressure")}'
    return f'{{ type = "SendMidi", message_type = {body}, channel = {ch} }}'


def action(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.6:
        return send_midi(rng)
    if r < 0.8:
        return f'{{ type = "Sequence", actions = [{send_midi(rng)}, {send_midi(rng)}] }}'
    if r < 0.9:  # not MIDI-only: the engine's
        return f'{{ type = "Conditional", condition = "Always", then_action = {send_midi(rng)} }}'
    return '{ type = "ModeChange", mode = "next" }'


def trigger(rng: random.Random, note: int, cc: int) -> str:
    ch = f", channel = {rng.randrange(3)}" if rng.random() < 0.3 else ""
    r = rng.random()
    if r < 0.45:
        lo = rng.choice([1, 1, 30])
        return (
            f'{{ type = "Note", note = {note}, velocity_min = {lo}, velocity_max = {rng.choice([127, 127, 90])}{ch} }}'
        )
    if r < 0.8:
        return f'{{ type = "CC", cc = {cc}, value_min = {rng.choice([0, 0, 20])}, value_max = {rng.choice([127, 100])}{ch} }}'
    if r < 0.86:
        return f'{{ type = "LongPress", note = {note}{ch} }}'
    if r < 0.92:
        return f'{{ type = "EncoderTurn", cc = {cc}{ch} }}'
    return f'{{ type = "VelocityRange", note = {note}{ch} }}'


def config(seed: int) -> str:
    rng = random.Random(seed)
    parts = [f'[device]\nvirtual_output = "{VOUT}"']
    for mode in ("A", "B"):
        parts.append(f'[[modes]]\nname = "{mode}"')
        for _ in range(40):
            parts.append(
                f"[[modes.mappings]]\ntrigger = {trigger(rng, rng.randrange(8), rng.randrange(8))}\n"
                f"{rng.choice(CURVES)}\naction = {action(rng)}"
            )
    for _ in range(5):
        parts.append(
            f"[[global_mappings]]\ntrigger = {trigger(rng, rng.randrange(8), rng.randrange(8))}\naction = {send_midi(rng)}"
        )
    return "\n".join(parts)


def engine_for(text: str):
    cfg = load_config("t.toml", text=text).config
    engine = Engine(compile_table(cfg))
    backend = MemoryBackend()
    out = MidiOut(backend, VOUT)
    out.open_virtual()
    changes: list[str] = []
    engine.mode_listeners.append(lambda _old, new: changes.append(new))
    engine.runner = ActionRunner(engine, midi_out=out)
    return engine, backend.opened_outputs[VOUT], changes, out


def c_eval(lib, handle: int, msg: bytes) -> tuple[int, list[bytes]]:
    buf = ctypes.create_string_buffer(5 * 256)
    n = lib.relay_table_eval(handle, msg, len(msg), buf, len(buf))
    if n < 0:
        return -n - 1, []
    raw = buf.raw
    return ANSWER, [raw[i * 5 + 2 : i * 5 + 2 + raw[i * 5 + 1]] for i in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_every_answer_is_the_engines_and_every_forward_sends_nothing(lib, seed):
    engine, port, changes, _out = engine_for(config(seed))
    compiled = compile_midi_table(engine.table, lambda name: 0 if name is None else None)
    handle = lib.relay_table_new(
        len(compiled.modes),
        compiled.entries,
        compiled.other,
        compiled.nouts,
        compiled.outs,
        compiled.nluts,
        compiled.luts,
        0,
    )
    assert handle, "the C side refused the table"
    rng = random.Random(1000 + seed)
    kinds = {ANSWER: 0, BARRIER: 0, FORWARD: 0}
    try:
        for mode_index, mode in enumerate(compiled.modes):
            lib.relay_table_set_mode(handle, mode_index)
            for _ in range(1500):
                engine.mode = mode
                ch, num, value = rng.choice([0, 1, 2, 9]), rng.randrange(9), rng.randrange(128)
                if rng.random() < 0.5:
                    msg, ev = bytes([0x90 | ch, num, max(1, value)]), E.Event(E.NOTE_ON, ch, num, max(1, value))
                else:
                    msg, ev = bytes([0xB0 | ch, num, value]), E.Event(E.CC, ch, control=num, value=value)
                what, answer = c_eval(lib, handle, msg)
                kinds[what] += 1
                port.sent.clear()
                changes.clear()
                engine.process(ev)
                sent = [bytes(m.bytes()) for m in port.sent]
                if what == ANSWER:
                    assert answer == sent, (mode, msg.hex(), answer, sent)
                elif what == FORWARD:
                    # nothing the engine does for it can be overtaken by a later relayed answer
                    assert sent == [] and changes == [], (mode, msg.hex(), sent, changes)
                if ev.kind == E.NOTE_ON:  # release it: no press waits across samples
                    engine.process(E.Event(E.NOTE_OFF, ch, num, 0))
    finally:
        lib.relay_table_free(handle)
    assert kinds[ANSWER] > 100 and kinds[BARRIER] > 10 and kinds[FORWARD] > 10, kinds


def test_a_table_pointing_outside_itself_is_refused(lib):
    engine, _port, _changes, _out = engine_for(
        f'[device]\nvirtual_output = "{VOUT}"\n[[modes]]\nname = "A"\n[[modes.mappings]]\n'
        'trigger = { type = "Note", note = 1 }\naction = { type = "SendMidi", message_type = "NoteOn", note = 2 }'
    )
    t = compile_midi_table(engine.table, lambda name: 0)
    assert t.answered == 16 and t.nouts == 16 and t.nluts == 1  # note 1 on each channel, one curve
    new = lib.relay_table_new
    # the callback trusts every index, so a table whose outputs or curves are missing is refused
    assert not new(1, t.entries, t.other, t.nouts, t.outs, 0, b"", 0)
    assert not new(1, t.entries, t.other, t.nouts - 1, t.outs, t.nluts, t.luts, 0)
    good = new(1, t.entries, t.other, t.nouts, t.outs, t.nluts, t.luts, 0)
    assert good
    lib.relay_table_free(good)
