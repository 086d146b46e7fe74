"""The daemon wired to the in-memory MIDI back end: devices, reloads, status."""

import mido
import pytest
from testkit.jack import wait_for

from midimon.engine.backends import MemoryBackend
from midimon.engine.daemon import Daemon
from midimon.engine.desktop.base import Recording

CFG = """
[device]
{device}
virtual_output = "midimon-out"
[[modes]]
name = "A"
[[modes.mappings]]
trigger = {{ type = "Note", note = 36 }}
action = {{ type = "Text", text = "{text}" }}
"""


@pytest.fixture
def daemon(home):
    made = []

    def make(device='name = "Pads"', text="one", devices=("Pads",)):
        (home / "config.toml").write_text(CFG.format(device=device, text=text))
        backend = MemoryBackend(list(devices))
        desk = Recording()
        d = Daemon(home / "config.toml", backend=backend, desktop=desk)
        d.start()
        made.append(d)
        return d, backend, desk

    yield make
    for d in made:
        d.stop()


def test_note_from_the_configured_device_runs_the_action(daemon):
    d, backend, desk = daemon()
    backend.inject("Pads", mido.Message("note_on", note=36, velocity=9))
    wait_for(lambda: desk.calls, what="the Text action")
    assert desk.calls == [("text", "one")]
    st = d.status()
    assert st["devices"][0]["state"] == "connected" and st["devices"][0]["port"] == "Pads"
    assert st["stats"]["events"] == 1 and st["mode"] == "A"


def test_listening_to_all_inputs_skips_our_own_virtual_output(daemon):
    d, backend, desk = daemon(device="", devices=("Keys", "Pads", "midimon:midimon-out"))
    ports = sorted(s["port"] for s in d.status()["devices"])
    assert ports == ["Keys", "Pads"]


def test_absent_device_is_waited_for_and_connected_when_it_appears(daemon):
    d, backend, desk = daemon(devices=())
    assert d.status()["devices"][0]["state"] == "waiting"
    backend.add_device("Pads")
    wait_for(lambda: d.status()["devices"][0]["state"] == "connected", what="the device to connect")
    backend.inject("Pads", mido.Message("note_on", note=36, velocity=9))
    wait_for(lambda: desk.calls, what="the action after the device appeared")


def test_reload_swaps_and_a_bad_reload_keeps_the_old_config(daemon, home):
    d, backend, desk = daemon()
    (home / "config.toml").write_text(CFG.format(device='name = "Pads"', text="two"))
    out = d.reload()
    assert out["ok"] and out["mappings"] == 1
    (home / "config.toml").write_text(
        CFG.format(device='name = "Pads"', text="three").replace("note = 36", "note = 360")
    )
    bad = d.reload()
    assert not bad["ok"] and bad["diagnostics"][0]["path"] == "modes[0].mappings[0].trigger.note"
    assert bad["diagnostics"][0]["line"] == 8
    backend.inject("Pads", mido.Message("note_on", note=36, velocity=9))
    wait_for(lambda: desk.calls, what="the action")
    assert desk.calls == [("text", "two")]  # the last good config still runs
    assert d.status()["last_reload"]["ok"] is False


def test_send_midi_goes_to_the_virtual_output(home):
    (home / "config.toml").write_text(
        '[device]\nname = "Pads"\nvirtual_output = "midimon-out"\n[[modes]]\nname = "A"\n[[modes.mappings]]\n'
        'trigger = { type = "CC", cc = 1 }\naction = { type = "SendMidi", message_type = "CC", controller = 2 }\n'
    )
    backend = MemoryBackend(["Pads"])
    d = Daemon(home / "config.toml", backend=backend, desktop=Recording())
    d.start()
    try:
        backend.inject("Pads", mido.Message("control_change", control=1, value=77))
        wait_for(lambda: backend.opened_outputs["midimon-out"].sent, what="the CC to go out")
        assert backend.opened_outputs["midimon-out"].sent == [mido.Message("control_change", control=2, value=77)]
    finally:
        d.stop()


def test_named_outputs_are_opened_at_start_off_the_loop(home):
    (home / "config.toml").write_text(
        '[device]\nname = "Pads"\n[[modes]]\nname = "A"\n[[modes.mappings]]\n'
        'trigger = { type = "Note", note = 1 }\n'
        'action = { type = "SendMidi", port = "Synth", message_type = "PitchBend" }\n'
    )
    backend = MemoryBackend(["Pads", "Synth"])
    d = Daemon(home / "config.toml", backend=backend, desktop=Recording())
    d.start()
    try:
        wait_for(lambda: "Synth" in backend.opened_outputs, what="the Synth output to be opened before any event")
        backend.inject("Pads", mido.Message("note_on", note=1, velocity=5))
        backend.inject("Pads", mido.Message("pitchwheel", pitch=-100))  # unmapped: no effect
        wait_for(lambda: backend.opened_outputs["Synth"].sent, what="the bend")
        # a SendMidi PitchBend without pitch passes the incoming bend through: none here, so centre
        assert backend.opened_outputs["Synth"].sent == [mido.Message("pitchwheel", pitch=0)]
    finally:
        d.stop()
