"""The daemon as a process, over a real JACK MIDI graph: notes in, effects out."""

import time

import pytest
from testkit.jack import wait_for

pytestmark = pytest.mark.jack


def config(harness, body: str, out: str = "") -> str:
    return f"""
[device]
name = "{harness.out_name}"
{f'virtual_output = "{out}"' if out else ""}

[advanced_settings]
chord_timeout_ms = 60
double_tap_timeout_ms = 250
hold_threshold_ms = 400

{body}
"""


def shell_log(path, tag):
    # append the event to a file: proof that a real process ran for the event
    return f'{{ type = "Shell", shell = true, command = "echo {tag} $MIDIMON_NOTE $MIDIMON_VELOCITY $MIDIMON_VALUE $MIDIMON_STEPS >> {path}" }}'


def lines(path):
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_note_cc_pitchbend_aftertouch_reach_shell_actions(harness, start_daemon, tmp_path):
    out = tmp_path / "effects.txt"
    d = start_daemon(
        config(
            harness,
            f"""
[[modes]]
name = "Play"
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {shell_log(out, "note")}
[[modes.mappings]]
trigger = {{ type = "CC", cc = 7, value_min = 100 }}
action = {shell_log(out, "cc")}
[[modes.mappings]]
trigger = {{ type = "PitchBend", value_min = 12000 }}
action = {shell_log(out, "bend")}
[[modes.mappings]]
trigger = {{ type = "Aftertouch", pressure_min = 90 }}
action = {shell_log(out, "press")}
[[modes.mappings]]
trigger = {{ type = "EncoderTurn", cc = 20, direction = "CounterClockwise" }}
action = {shell_log(out, "ccw")}
""",
        )
    )
    d.wait_log("connected MIDI input")
    time.sleep(0.3)
    harness.send("note_on", note=36, velocity=99)
    harness.send("note_off", note=36)
    harness.send("note_on", note=35, velocity=99)  # unmapped
    harness.send("control_change", control=7, value=50)  # below value_min
    harness.send("control_change", control=7, value=110)
    harness.send("pitchwheel", pitch=-4000)  # 4192: below the range
    harness.send("pitchwheel", pitch=5000)  # 13192
    harness.send("aftertouch", value=95)
    harness.send("control_change", control=20, value=125)  # two's complement: 3 steps CCW
    harness.send("control_change", control=20, value=2)  # clockwise: not mapped
    wait_for(lambda: len(lines(out)) >= 5, 10, what="five effects")
    time.sleep(0.3)
    got = sorted(lines(out))
    assert got == sorted(["note 36 99", "cc 110", "bend 13192", "press 95", "ccw 125 3"]), got


def test_send_midi_reaches_another_jack_port_with_curve(harness, start_daemon):
    d = start_daemon(
        config(
            harness,
            """
[[modes]]
name = "Out"
[[modes.mappings]]
trigger = { type = "Note", note = 40 }
velocity_curve = { type = "Linear", min = 64, max = 127 }
action = { type = "SendMidi", message_type = "NoteOn", channel = 2, note = 60 }
[[modes.mappings]]
trigger = { type = "Note", note = 41 }
action = { type = "Sequence", actions = [
  { type = "SendMidi", message_type = "CC", controller = 74, value = 5 },
  { type = "SendMidi", message_type = "PitchBend", pitch = -8192 },
  { type = "SendMidi", message_type = "ProgramChange", program = 9 },
] }
""",
            out=f"{harness.tag}-midimon-out",
        )
    )
    d.wait_log("connected MIDI input")
    harness.listen(f"{harness.tag}-midimon-out")
    time.sleep(0.3)
    harness.send("note_on", note=40, velocity=1)
    harness.send("note_on", note=40, velocity=127)
    harness.send("note_on", note=41, velocity=50)
    wait_for(lambda: len(harness.received) >= 5, 10, what="five messages back")
    got = [(m.type, m.dict()) for m in harness.received]
    assert [m.velocity for m in harness.received[:2]] == [64, 127]
    assert all(m.channel == 2 and m.note == 60 for m in harness.received[:2])
    assert [t for t, _ in got[2:]] == ["control_change", "pitchwheel", "program_change"]
    assert harness.received[3].pitch == -8192 and harness.received[4].program == 9


def test_mode_change_switches_mappings(harness, start_daemon, tmp_path):
    out = tmp_path / "effects.txt"
    d = start_daemon(
        config(
            harness,
            f"""
[[modes]]
name = "A"
[[modes.mappings]]
trigger = {{ type = "Note", note = 50 }}
action = {shell_log(out, "A")}
[[modes]]
name = "B"
[[modes.mappings]]
trigger = {{ type = "Note", note = 50 }}
action = {shell_log(out, "B")}
[[global_mappings]]
trigger = {{ type = "Note", note = 60 }}
action = {{ type = "ModeChange", mode = "next" }}
""",
        )
    )
    d.wait_log("connected MIDI input")
    time.sleep(0.3)
    harness.send("note_on", note=50, velocity=10)
    wait_for(lambda: len(lines(out)) == 1, what="mode A effect")
    harness.send("note_on", note=60, velocity=10)
    d.wait_log("mode: A -> B")
    harness.send("note_on", note=50, velocity=11)
    wait_for(lambda: len(lines(out)) == 2, what="mode B effect")
    assert [l.split()[0] for l in lines(out)] == ["A", "B"]


def test_sigterm_closes_ports_and_exits_zero(harness, start_daemon):
    d = start_daemon(config(harness, '[[modes]]\nname = "A"\n'))
    d.wait_log("connected MIDI input")
    assert d.stop() == 0
    assert "midimon stopped" in d.log()
