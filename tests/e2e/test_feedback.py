"""LED feedback observed on a real JACK port: at start, on press/release, on mode change,
and again after the controller is unplugged and plugged back in."""

import pytest
from testkit.jack import wait_for

from midimon.engine.backends.midoport import PolledInput

pytestmark = pytest.mark.jack


def notes(msgs):
    return [(m.note, m.velocity) for m in msgs if m.type == "note_on"]


def test_feedback_at_start_press_mode_change_and_reconnect(harness, start_daemon):
    leds = []
    led_name = f"{harness.tag}-leds"
    led_port = PolledInput(led_name, leds.append, f"{harness.tag}-ctl", virtual=True)
    cfg = f"""
[device]
name = "{harness.out_name}"
feedback_output = "{led_name}"

[[modes]]
name = "Play"
leds = {{ notes = {{ 36 = 127, 37 = 20 }} }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 40 }}
feedback = {{ press = 100 }}
action = {{ type = "Delay", ms = 0 }}

[[modes]]
name = "Edit"
leds = {{ notes = {{ 38 = 127 }}, ccs = {{ 20 = 64 }} }}

[[global_mappings]]
trigger = {{ type = "Note", note = 60 }}
action = {{ type = "ModeChange", mode = "next" }}
"""
    d = start_daemon(cfg)
    try:
        d.wait_log("LED feedback goes to")
        state = {(36, 127), (37, 20), (38, 0)}
        wait_for(lambda: state <= set(notes(leds)), what="the start state on the LED port")
        assert any(m.type == "control_change" and m.control == 20 and m.value == 0 for m in leds)

        leds.clear()
        harness.send("note_on", note=40, velocity=90)
        wait_for(lambda: (40, 100) in notes(leds), what="press light")
        harness.send("note_off", note=40)
        wait_for(lambda: (40, 0) in notes(leds), what="release light")

        leds.clear()
        harness.send("note_on", note=60, velocity=90)
        d.wait_log("mode: Play -> Edit")
        wait_for(lambda: {(36, 0), (37, 0), (38, 127)} <= set(notes(leds)), what="the Edit mode's lights")
        wait_for(
            lambda: any(m.type == "control_change" and m.control == 20 and m.value == 64 for m in leds),
            what="the Edit mode's CC light",
        )

        # unplug the controller (both its ports), then plug it back in
        harness.out.close()
        led_port.close()
        d.wait_log("disconnected", timeout=10)
        leds.clear()
        led_port = PolledInput(led_name, leds.append, f"{harness.tag}-ctl", virtual=True)
        harness.out = harness.mido.open_output(harness.out_name, virtual=True, client_name=f"{harness.tag}-harness")
        mark = len(d.lines)
        d.wait_log("reconnected MIDI input", timeout=15, start=mark)
        wait_for(
            lambda: {(36, 0), (37, 0), (38, 127)} <= set(notes(leds)),
            timeout=15,
            what="the current mode's lights again after the reconnect",
        )
        # and events flow again
        harness.send("note_on", note=60, velocity=90)
        d.wait_log("mode: Edit -> Play", start=mark)
    finally:
        led_port.close()
