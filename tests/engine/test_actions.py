"""Built-in actions through the real ActionRunner, with in-memory MIDI and a recording desktop."""

import datetime as dt
import sys
import threading
import time

import mido
import pytest

from midimon.config import load_config
from midimon.engine import conditions
from midimon.engine import events as E
from midimon.engine.actions import ActionRunner
from midimon.engine.backends import MemoryBackend
from midimon.engine.desktop.base import Recording, Unavailable
from midimon.engine.errors import ActionError, BackendUnavailable
from midimon.engine.loop import Engine
from midimon.engine.midi_out import MidiOut
from midimon.engine.table import compile_table


def build(action_toml: str, *, extra_modes: str = "", curve: str = "", virtual: str | None = "vout", now=None):
    text = f"""
[device]
{f'virtual_output = "{virtual}"' if virtual else ""}
[[modes]]
name = "Main"
[[modes.mappings]]
description = "m"
trigger = {{ type = "Note", note = 1 }}
{f"velocity_curve = {curve}" if curve else ""}
action = {action_toml}
{extra_modes}
"""
    cfg = load_config("t.toml", text=text).config
    engine = Engine(compile_table(cfg))
    backend = MemoryBackend(["Synth Port 1", "Synth Port 10"])
    out = MidiOut(backend, virtual)
    if virtual:
        out.open_virtual()
    sleeps = []
    desk = Recording()
    cctx = conditions.ConditionContext(
        mode=lambda: engine.mode,
        now=now or dt.datetime.now,
        running_apps=lambda: {"spotify", "bash"},
        frontmost_app=lambda: "firefox Mozilla Firefox",
    )
    runner = ActionRunner(engine, midi_out=out, desktop=desk, sleep=sleeps.append, condition_context=cctx)
    action = cfg.modes[0].mappings[0].action
    b = engine.table.modes["Main"].press[1][0]
    return engine, runner, action, backend, desk, sleeps, b


def run(engine, runner, action, b, velocity=100):
    ctx = engine.context(b, E.Event(E.NOTE_ON, 0, 1, velocity), {})
    runner.run(action, ctx)
    return ctx


def test_shell_argv_without_shell_gets_event_env(tmp_path):
    out = tmp_path / "o.txt"
    eng, runner, action, *_, b = build(
        f'{{ type = "Shell", command = ["{sys.executable}", "-c", "import os,sys; open(sys.argv[1],\'w\').write(os.environ[\'MIDIMON_NOTE\'] + \' \' + os.environ[\'MIDIMON_VELOCITY\'])", "{out}"] }}'
    )
    run(eng, runner, action, b, velocity=77)
    assert out.read_text() == "1 77"


def test_shell_string_is_split_not_given_to_a_shell(tmp_path):
    target = tmp_path / "should-not-exist"
    eng, runner, action, *_, b = build(f'{{ type = "Shell", command = "echo hi ; touch {target}" }}')
    run(eng, runner, action, b)
    assert not target.exists()  # ';' is an argument to echo, not a command separator


def test_shell_true_uses_sh(tmp_path):
    target = tmp_path / "made"
    eng, runner, action, *_, b = build(f'{{ type = "Shell", shell = true, command = "true && touch {target}" }}')
    run(eng, runner, action, b)
    assert target.exists()


def test_shell_failure_timeout_and_missing_program_are_clear_errors():
    eng, runner, action, *_, b = build('{ type = "Shell", command = ["false"] }')
    with pytest.raises(ActionError, match="exited with status 1"):
        run(eng, runner, action, b)
    eng, runner, action, *_, b = build('{ type = "Shell", command = ["sleep", "5"], timeout_ms = 200 }')
    t = time.monotonic()
    with pytest.raises(ActionError, match="did not finish within 200 ms"):
        run(eng, runner, action, b)
    assert time.monotonic() - t < 3
    eng, runner, action, *_, b = build('{ type = "Shell", command = ["no-such-program-xyz"] }')
    with pytest.raises(ActionError, match="program not found"):
        run(eng, runner, action, b)


def test_failed_action_is_logged_and_counted_not_raised():
    eng, runner, action, *_, b = build('{ type = "Shell", command = ["false"] }')
    ok = runner.run_logged(action, eng.context(b, E.Event(E.NOTE_ON, 0, 1, 1), {}))
    assert ok is False
    assert eng.stats.actions_failed == 1
    assert "exited with status 1" in eng.stats.recent_errors[-1]["message"]


@pytest.mark.parametrize(
    "mtype,fields,expect",
    [
        ("NoteOn", "note = 60, velocity = 90", mido.Message("note_on", channel=2, note=60, velocity=90)),
        ("NoteOff", "note = 60", mido.Message("note_off", channel=2, note=60, velocity=0)),
        ("CC", "controller = 7, value = 99", mido.Message("control_change", channel=2, control=7, value=99)),
        ("ProgramChange", "program = 5", mido.Message("program_change", channel=2, program=5)),
        ("PitchBend", "pitch = -8192", mido.Message("pitchwheel", channel=2, pitch=-8192)),
        ("Aftertouch", "pressure = 30", mido.Message("aftertouch", channel=2, value=30)),
        ("PolyAftertouch", "note = 61, pressure = 31", mido.Message("polytouch", channel=2, note=61, value=31)),
        ("SysEx", "data = [1, 2, 3]", mido.Message("sysex", data=[1, 2, 3])),
    ],
)
def test_send_midi_every_message_type_to_a_named_port(mtype, fields, expect):
    eng, runner, action, backend, *_, b = build(
        f'{{ type = "SendMidi", port = "Synth Port 1", message_type = "{mtype}", channel = 2, {fields} }}'
    )
    run(eng, runner, action, b)
    sent = backend.opened_outputs["Synth Port 1"].sent
    assert sent == [expect]
    assert "Synth Port 10" not in backend.opened_outputs


def test_send_midi_without_port_goes_to_virtual_output_with_curved_velocity():
    eng, runner, action, backend, *_, b = build(
        '{ type = "SendMidi", message_type = "NoteOn", note = 60 }', curve='{ type = "Fixed", velocity = 33 }'
    )
    run(eng, runner, action, b, velocity=120)
    assert backend.opened_outputs["vout"].sent[0].velocity == 33


def test_send_midi_to_missing_port_names_the_ports():
    eng, runner, action, *_, b = build(
        '{ type = "SendMidi", port = "Nope", message_type = "CC", controller = 1, value = 1 }'
    )
    with pytest.raises(ActionError, match="no MIDI output named 'Nope'.*Synth Port 1"):
        run(eng, runner, action, b)


def test_sequence_keeps_order_and_delay_uses_sleep():
    eng, runner, action, backend, desk, sleeps, b = build(
        '{ type = "Sequence", actions = [ { type = "Keystroke", keys = "a" }, { type = "Delay", ms = 250 }, '
        '{ type = "Text", text = "héllo" }, { type = "MouseClick", button = "Right", x = 5, y = 6 }, '
        '{ type = "Launch", app = "firefox" }, { type = "VolumeControl", operation = "Set", value = 40 } ] }'
    )
    run(eng, runner, action, b)
    assert desk.calls == [
        ("keystroke", "a", (), 0),
        ("text", "héllo"),
        ("mouse_click", "Right", 5, 6, 1),
        ("launch", "firefox"),
        ("volume", "Set", 40, 5),
    ]
    assert sleeps == [0.25]


def test_repeat_with_delay_between_not_after():
    eng, runner, action, backend, desk, sleeps, b = build(
        '{ type = "Repeat", count = 3, delay_ms = 25, action = { type = "SendMidi", message_type = "CC", controller = 74, value = 127 } }'
    )
    run(eng, runner, action, b)
    assert len(backend.opened_outputs["vout"].sent) == 3
    assert sleeps == [0.025, 0.025]


def test_repeat_zero_is_a_no_op():
    eng, runner, action, backend, desk, sleeps, b = build(
        '{ type = "Repeat", count = 0, action = { type = "Text", text = "x" } }'
    )
    run(eng, runner, action, b)
    assert desk.calls == []


MODES = '[[modes]]\nname = "Second"\n[[modes]]\nname = "Third"\n'


@pytest.mark.parametrize(
    "target,wrap,start,expect",
    [
        ('"Third"', "true", "Main", "Third"),
        ('"next"', "true", "Main", "Second"),
        ('"previous"', "true", "Main", "Third"),
        ('"next"', "false", "Third", "Third"),
        ('"next"', "true", "Third", "Main"),
    ],
)
def test_mode_change(target, wrap, start, expect):
    eng, runner, action, *_, b = build(f'{{ type = "ModeChange", mode = {target}, wrap = {wrap} }}', extra_modes=MODES)
    eng.set_mode(start)
    run(eng, runner, action, b)
    assert eng.mode == expect


def test_mode_change_from_a_worker_thread_is_applied_on_the_loop():
    eng, runner, action, *_, b = build('{ type = "ModeChange", mode = "Second" }', extra_modes=MODES)
    eng.start()
    try:
        t = threading.Thread(target=run, args=(eng, runner, action, b))
        t.start()
        t.join()
        deadline = time.monotonic() + 5
        while eng.mode != "Second" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert eng.mode == "Second"
    finally:
        eng.stop()


NOON_WED = lambda: dt.datetime(2026, 11, 25, 12, 0)  # a Wednesday


@pytest.mark.parametrize(
    "cond,expect",
    [
        ('"Always"', True),
        ('"Never"', False),
        ('"TimeRange:09:00-17:00"', True),
        ('{ TimeRange = { start = "13:00", end = "17:00" } }', False),
        ('{ type = "TimeRange", start = "22:00", end = "12:30" }', True),  # wraps midnight
        ('{ type = "TimeRange", start = "22:00", end = "02:00" }', False),
        ('{ type = "DayOfWeek", days = ["Wednesday"] }', True),
        ('{ DayOfWeek = { days = ["mon", 2] } }', False),
        ('{ type = "ModeIs", mode = "Main" }', True),
        ('"ModeIs:Second"', False),
        ('{ type = "AppRunning", app = "Spotify" }', True),
        ('{ AppRunning = { app = "vlc" } }', False),
        ('{ type = "AppFrontmost", app = "firefox" }', True),
        ('{ type = "And", conditions = ["Always", { type = "ModeIs", mode = "Main" }] }', True),
        ('{ type = "Or", conditions = ["Never", "Never"] }', False),
        ('{ type = "Not", condition = "Never" }', True),
        ('{ Not = "Always" }', False),
    ],
)
def test_conditional_every_condition_form(cond, expect):
    eng, runner, action, backend, desk, *_, b = build(
        f'{{ type = "Conditional", condition = {cond}, then_action = {{ type = "Text", text = "then" }}, '
        f'else_action = {{ type = "Text", text = "else" }} }}',
        extra_modes=MODES,
        now=NOON_WED,
    )
    run(eng, runner, action, b)
    assert desk.calls == [("text", "then" if expect else "else")]


def test_missing_desktop_back_end_is_one_clear_error():
    eng, runner, action, *_, b = build('{ type = "Keystroke", keys = "a" }')
    runner.desktop = Unavailable("no X display: DISPLAY is not set")
    with pytest.raises(BackendUnavailable, match="DISPLAY is not set"):
        run(eng, runner, action, b)


def test_volume_steps_scale_with_accelerated_encoder():
    eng, runner, action, backend, desk, *_, b = build('{ type = "VolumeControl", operation = "Up", step = 3 }')
    ctx = eng.context(b, E.Event(E.CC, control=1, value=4), {"steps": 4})
    runner.run(action, ctx)
    assert desk.calls == [("volume", "Up", None, 12)]


def test_plugin_action_without_plugins_is_a_clear_error():
    eng, runner, action, *_, b = build('{ type = "Plugin", plugin = "hello", params = { a = 1 } }')
    with pytest.raises(ActionError, match="plugin 'hello'"):
        run(eng, runner, action, b)


def test_slow_action_does_not_delay_the_next_event(tmp_path):
    """A 2 s Shell action runs on the pool; the next event's action starts at once."""
    marker = tmp_path / "fast"
    text = f"""
[[modes]]
name = "A"
[[modes.mappings]]
trigger = {{ type = "Note", note = 1 }}
action = {{ type = "Shell", command = ["sleep", "2"] }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 2 }}
action = {{ type = "Shell", command = ["touch", "{marker}"] }}
"""
    cfg = load_config("t.toml", text=text).config
    eng = Engine(compile_table(cfg))
    eng.runner = ActionRunner(eng)
    eng.start()
    try:
        t0 = time.monotonic()
        eng.submit(E.Event(E.NOTE_ON, 0, 1, 100))
        eng.submit(E.Event(E.NOTE_ON, 0, 2, 100))
        while not marker.exists() and time.monotonic() - t0 < 5:
            time.sleep(0.01)
        assert marker.exists()
        assert time.monotonic() - t0 < 1.5  # generous: it would be >= 2 s if blocked behind the sleep
    finally:
        eng.stop()


def test_send_midi_pitch_bend_without_pitch_passes_the_incoming_bend_through():
    eng, runner, action, backend, *_, b = build('{ type = "SendMidi", message_type = "PitchBend" }')
    ctx = eng.context(b, E.Event(E.PITCHBEND, value=8192 + 1234), {})
    runner.run(action, ctx)
    assert backend.opened_outputs["vout"].sent == [mido.Message("pitchwheel", pitch=1234)]
