"""The in-cycle JACK relay, through `midimon run` on a real JACK graph: relayed answers arrive,
curved and remapped, every one in the order its event came, and everything else midimon does
for an event (other actions, the monitor, mode changes, reloads) still happens.

Run with ``scripts/test tests/e2e/test_jack_relay.py -q``: scripts/test fails the run when
jackd logs a process error or an xrun of its engine, so these tests also show that the relay
never made JACK wait.
"""

from __future__ import annotations

import threading
import time

import pytest
from testkit.jack import wait_for

from midimon.config.home import Home
from midimon.config.models import LinearCurve
from midimon.engine import curves
from midimon.engine.live.client import Client

pytestmark = pytest.mark.jack

LINEAR = {"type": "Linear", "min": 40, "max": 127}


def config(harness, body: str, out: str) -> str:
    return f"""
[device]
name = "{harness.out_name}"
virtual_output = "{out}"

{body}
"""


def status(d) -> dict:
    with Client(Home.at(d.home).socket) as c:
        return c.call("status")


def relay_status(d) -> dict:
    return status(d)["jack_relay"]


def start(harness, start_daemon, body: str, env: dict | None = None):
    out = f"{harness.tag}-relay-out"
    d = start_daemon(config(harness, body, out), env_extra=env)
    d.wait_log("midimon is running")
    d.wait_log("connected MIDI input")
    wait_for(lambda: Home.at(d.home).socket.exists(), 10, what="the control socket")
    harness.listen(out)
    return d


def play(harness, messages: list, rate: float = 2000.0) -> None:
    """Send paced, so the harness's own 4096-message input queue never overflows."""
    t0 = time.perf_counter()
    for i, (kind, fields) in enumerate(messages):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        harness.send(kind, **fields)


def test_ten_thousand_relayed_events_arrive_curved_remapped_and_in_order(harness, start_daemon):
    # pads 0..31 play notes 40..71 on channel 3 through a curve; pads 64..95 end those notes;
    # CC 1..8 pass their value on as CC 21..28
    body = ['[[modes]]\nname = "Play"']
    for i in range(32):
        body.append(
            f"""[[modes.mappings]]
trigger = {{ type = "Note", note = {i} }}
velocity_curve = {{ type = "Linear", min = 40, max = 127 }}
action = {{ type = "SendMidi", message_type = "NoteOn", channel = 3, note = {40 + i} }}
[[modes.mappings]]
trigger = {{ type = "Note", note = {64 + i} }}
action = {{ type = "SendMidi", message_type = "NoteOff", channel = 3, note = {40 + i} }}"""
        )
    for c in range(1, 9):
        body.append(
            f"""[[modes.mappings]]
trigger = {{ type = "CC", cc = {c} }}
action = {{ type = "SendMidi", message_type = "CC", channel = 3, controller = {20 + c} }}"""
        )
    d = start(harness, start_daemon, "\n".join(body))
    assert relay_status(d)["active"] is True, relay_status(d)
    curve = curves.build(LinearCurve.model_validate(LINEAR))  # the engine's own curve code

    sent, expected = [], []
    for k in range(5000 // 2):
        pad, vel = k % 32, 1 + k % 127
        cc, value = 1 + k % 8, k % 128
        sent += [
            ("note_on", {"note": pad, "velocity": vel}),
            ("control_change", {"control": cc, "value": value}),
            ("note_on", {"note": 64 + pad, "velocity": 64}),
            ("control_change", {"control": cc, "value": 127 - value}),
        ]
        expected += [
            ("note_on", 40 + pad, curve(vel)),
            ("control_change", 20 + cc, value),
            ("note_off", 40 + pad, 0),
            ("control_change", 20 + cc, 127 - value),
        ]
    assert len(sent) == 10_000
    before = relay_status(d)
    play(harness, sent)
    wait_for(lambda: len(harness.received) >= len(expected), 60, what="10,000 answers")
    time.sleep(0.3)
    got = [
        (
            m.type,
            m.note if m.type.startswith("note") else m.control,
            m.velocity if m.type.startswith("note") else m.value,
        )
        for m in harness.received
    ]
    assert all(m.channel == 3 for m in harness.received)
    first_bad = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
    assert got == expected, (
        f"first difference at {first_bad}: {got[first_bad : first_bad + 3]} != {expected[first_bad : first_bad + 3]}"
    )
    after = relay_status(d)
    # answered inside the cycle, not by the engine loop; the engine still saw every event
    assert after["relayed"] - before["relayed"] == 10_000
    assert after["out_relay"] - before["out_relay"] == 10_000
    assert after["forward_dropped"] == 0 and after["out_dropped"] == 0
    stats = status(d)["stats"]
    assert stats["events"] >= 10_000 and stats["actions_fired"] >= 10_000, stats


def test_relayed_answers_stay_whole_and_in_order_through_a_reload_storm(harness, start_daemon):
    body = '[[modes]]\nname = "Play"\n' + "\n".join(
        f'[[modes.mappings]]\ntrigger = {{ type = "Note", note = {i} }}\n'
        f'action = {{ type = "SendMidi", message_type = "NoteOn", note = {i + 40} }}'
        for i in range(32)
    )
    d = start(harness, start_daemon, body)
    swaps = relay_status(d)["table_swaps"]
    stop = threading.Event()
    reloads = [0]

    def storm() -> None:  # back-to-back reloads: parse, validate, compile, swap, all the time
        with Client(Home.at(d.home).socket, timeout=30) as c:
            while not stop.wait(0.02):
                c.call("reload")
                reloads[0] += 1

    t = threading.Thread(target=storm, daemon=True)
    t.start()
    try:
        sent = [("note_on", {"note": k % 32, "velocity": 1 + k % 127}) for k in range(4000)]
        play(harness, sent, rate=1000.0)
    finally:
        stop.set()
        t.join(5)
    wait_for(lambda: len(harness.received) >= len(sent), 30, what="4,000 answers")
    time.sleep(0.3)
    got = [(m.note, m.velocity) for m in harness.received]
    assert got == [(f["note"] + 40, f["velocity"]) for _, f in sent]
    after = relay_status(d)
    assert reloads[0] >= 10 and after["table_swaps"] - swaps >= reloads[0], (reloads, after)
    assert after["forward_dropped"] == 0 and after["out_dropped"] == 0 and after["leaked_tables"] == 0


def test_answers_that_overflow_a_port_buffer_go_to_the_engine_in_order(harness, start_daemon):
    # each pad answers with 64 messages: a burst of 100 pads needs 6,400 events in the output
    # buffer of one or two periods, more than a JACK MIDI buffer holds (about 2,700 short ones)
    pads, per_pad = 100, 64
    body = '[[modes]]\nname = "Play"\n' + "\n".join(
        f'[[modes.mappings]]\ntrigger = {{ type = "Note", note = {i} }}\naction = {{ type = "Sequence", actions = ['
        + ", ".join(
            f'{{ type = "SendMidi", message_type = "CC", channel = {c % 16}, controller = {c}, value = {i} }}'
            for c in range(per_pad)
        )
        + "] }"
        for i in range(pads)
    )
    out = f"{harness.tag}-relay-out"
    d = start_daemon(config(harness, body, out))
    d.wait_log("connected MIDI input", timeout=30)
    wait_for(lambda: Home.at(d.home).socket.exists(), 10, what="the control socket")
    received = listen_wide(harness, out)
    before = relay_status(d)
    for i in range(pads):
        harness.send("note_on", note=i, velocity=1)
    wait_for(lambda: len(received) >= pads * per_pad, 30, what=f"{pads * per_pad} answers")
    time.sleep(0.3)
    assert [(m.value, m.control) for m in received] == [(i, c) for i in range(pads) for c in range(per_pad)]
    after = relay_status(d)
    assert after["out_dropped"] == before["out_dropped"]
    # some were answered in the cycle, the rest by the engine once the buffer was full
    assert after["out_relay"] > before["out_relay"] and after["out_engine"] > before["out_engine"], after


def listen_wide(harness, substring: str) -> list:
    """Like Harness.listen, with a queue deep enough for a few thousand messages at once."""
    from midimon.engine.backends.midoport import PolledInput, jack_connect

    class Deep(PolledInput):
        QUEUE = 1 << 16

    name = wait_for(lambda: next((n for n in harness.mido.get_input_names() if substring in n), None), 10)
    received: list = []
    client = f"{harness.tag}-wide"
    harness.inputs.append(Deep(name, received.append, client))
    time.sleep(1.0)
    assert jack_connect(name, f"{client}:{name}")
    time.sleep(0.2)
    return received


def test_the_barrier_keeps_order_across_a_mode_change(harness, start_daemon):
    d = start(
        harness,
        start_daemon,
        """
[[modes]]
name = "A"
[[modes.mappings]]
trigger = { type = "Note", note = 60 }
action = { type = "SendMidi", message_type = "NoteOn", note = 70, velocity = 1 }
[[modes]]
name = "B"
[[modes.mappings]]
trigger = { type = "Note", note = 60 }
action = { type = "SendMidi", message_type = "NoteOn", note = 80, velocity = 2 }
[[global_mappings]]
trigger = { type = "Note", note = 10 }
action = { type = "ModeChange", mode = "next" }
""",
    )
    before = relay_status(d)
    # a burst: the mode change and the notes after it land in the same JACK period, so the
    # in-cycle answer would be in the old mode without the barrier
    for _ in range(50):
        harness.send("note_on", note=60, velocity=100)
        harness.send("note_on", note=10, velocity=100)
    wait_for(lambda: len(harness.received) >= 50, 20, what="50 answers")
    time.sleep(0.3)
    assert [m.note for m in harness.received] == [70, 80] * 25
    after = relay_status(d)
    assert after["barriers"] > before["barriers"]
    assert after["relayed"] > before["relayed"]  # between barriers, answers were in the cycle
    assert status(d)["mode"] == "A"  # 50 changes from A: back to A


def test_a_reload_swaps_the_table_live(harness, start_daemon):
    body = """
[[modes]]
name = "A"
[[modes.mappings]]
trigger = {{ type = "Note", note = 60 }}
action = {{ type = "SendMidi", message_type = "NoteOn", note = {note} }}
"""
    d = start(harness, start_daemon, body.format(note=70))
    harness.send("note_on", note=60, velocity=33)
    wait_for(lambda: len(harness.received) == 1, 10, what="the first answer")
    swaps = relay_status(d)["table_swaps"]
    mark = len(d.lines)
    d.config.write_text(config(harness, body.format(note=90), f"{harness.tag}-relay-out"))
    d.wait_log("config reloaded", start=mark)
    wait_for(lambda: relay_status(d)["table_swaps"] > swaps, 10, what="the relay's table swap")
    relayed = relay_status(d)["relayed"]
    harness.send("note_on", note=60, velocity=44)
    wait_for(lambda: len(harness.received) == 2, 10, what="the answer after the reload")
    assert [(m.note, m.velocity) for m in harness.received] == [(70, 33), (90, 44)]
    assert relay_status(d)["relayed"] == relayed + 1


def test_other_actions_still_run_and_mixed_keys_go_to_the_engine(harness, start_daemon, tmp_path):
    effects = tmp_path / "effects.txt"
    d = start(
        harness,
        start_daemon,
        f"""
[[modes]]
name = "A"
[[modes.mappings]]
trigger = {{ type = "Note", note = 50 }}
action = {{ type = "Shell", shell = true, command = "echo shell $MIDIMON_NOTE >> {effects}" }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 51 }}
action = {{ type = "SendMidi", message_type = "NoteOn", note = 61 }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 51 }}
action = {{ type = "Shell", shell = true, command = "echo mixed $MIDIMON_NOTE >> {effects}" }}
[[modes.mappings]]
trigger = {{ type = "Note", note = 52 }}
action = {{ type = "SendMidi", message_type = "NoteOn", note = 62 }}
""",
    )
    before = relay_status(d)
    # one burst: note 52 comes while the barrier that note 51 set still holds, so the engine
    # answers it too, after note 51's answer
    harness.send("note_on", note=50, velocity=10)
    harness.send("note_on", note=51, velocity=11)
    harness.send("note_on", note=52, velocity=12)
    wait_for(lambda: len(harness.received) >= 2, 10, what="two answers")
    wait_for(lambda: effects.exists() and len(effects.read_text().splitlines()) == 2, 10, what="two shell effects")
    time.sleep(0.2)
    harness.send("note_on", note=52, velocity=13)  # the barrier has lifted: in the cycle
    wait_for(lambda: len(harness.received) >= 3, 10, what="the third answer")
    assert [(m.note, m.velocity) for m in harness.received] == [(61, 11), (62, 12), (62, 13)]
    assert sorted(effects.read_text().splitlines()) == ["mixed 51", "shell 50"]
    after = relay_status(d)
    relayed, by_engine = after["relayed"] - before["relayed"], after["out_engine"] - before["out_engine"]
    # note 51's answer is the engine's; the first note 52 is too unless the burst straddled a
    # period after the barrier lifted (rare: the harness writes all three in one cycle)
    assert by_engine >= 1 and relayed >= 1 and by_engine + relayed == 3, (by_engine, relayed)
    assert after["barriers"] > before["barriers"]


def test_the_monitor_sees_relayed_events(harness, start_daemon):
    d = start(
        harness,
        start_daemon,
        """
[[modes]]
name = "A"
[[modes.mappings]]
trigger = { type = "Note", note = 60 }
action = { type = "SendMidi", message_type = "NoteOn", note = 70 }
""",
    )
    items: list[dict] = []
    ready = threading.Event()

    def watch() -> None:
        with Client(Home.at(d.home).socket, timeout=20) as c:
            stream = c.stream("monitor", {"count": 4})
            ready.set()
            items.extend(stream)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    assert ready.wait(10)
    time.sleep(0.3)
    harness.send("note_on", note=60, velocity=90)
    harness.send("note_on", note=61, velocity=91)  # unmapped: seen, not relayed
    t.join(15)
    events = [i["event"] for i in items if "event" in i]
    fired = [i["fired"] for i in items if "fired" in i]
    assert [(e["note"], e.get("relayed", False)) for e in events] == [(60, True), (61, False)]
    assert [f["action"] for f in fired] == ["SendMidi"]
    wait_for(lambda: len(harness.received) == 1, 10, what="the relayed answer")


def test_with_the_relay_off_midimon_answers_as_before(harness, start_daemon):
    d = start(
        harness,
        start_daemon,
        """
[[modes]]
name = "A"
[[modes.mappings]]
trigger = { type = "Note", note = 60 }
velocity_curve = { type = "Fixed", velocity = 99 }
action = { type = "SendMidi", message_type = "NoteOn", channel = 1, note = 70 }
""",
        env={"MIDIMON_JACK_RELAY": "0"},
    )
    rs = relay_status(d)
    assert rs["active"] is False and "MIDIMON_JACK_RELAY" in rs["reason"]
    assert "in-cycle relay is off" in d.log()
    for v in (5, 6, 7):
        harness.send("note_on", note=60, velocity=v)
    wait_for(lambda: len(harness.received) == 3, 10, what="three answers")
    assert [(m.channel, m.note, m.velocity) for m in harness.received] == [(1, 70, 99)] * 3
    assert status(d)["midi_backend"] == "mido.backends.rtmidi/UNIX_JACK"
