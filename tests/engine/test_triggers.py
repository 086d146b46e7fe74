"""Every trigger type, with its filters and timing edges, through the real recognizer."""

import pytest
from testkit.rig import Rig, mappings

from midimon.engine import events as E

ADV = "[advanced_settings]\nchord_timeout_ms = 50\ndouble_tap_timeout_ms = 300\nhold_threshold_ms = 1000\n"


def test_note_fires_on_note_on_and_respects_velocity_min_and_channel():
    r = Rig(
        mappings(
            'n | { type = "Note", note = 36, velocity_min = 20 }', 'ch | { type = "Note", note = 37, channel = 3 }'
        )
    )
    r.on(0, 36, velocity=19).on(1, 36, velocity=20).on(2, 37, channel=0).on(3, 37, channel=3)
    assert r.names == ["n", "ch"]
    assert r.fired[0][1]["velocity"] == 20 and r.fired[1][1]["channel"] == 3


def test_note_off_and_other_notes_do_not_fire():
    r = Rig(mappings('n | { type = "Note", note = 36 }'))
    r.off(0, 36).on(1, 35).cc(2, 36, 127)
    assert r.names == []


def test_device_filter_matches_by_name_prefix_not_inside_a_number():
    r = Rig(mappings('d | { type = "Note", note = 1, device = "Port 1" }'))
    r.on(0, 1, device="Port 10").on(1, 1, device="Port 1 MIDI").on(2, 1, device="Port 1")
    assert r.names == ["d", "d"]


@pytest.mark.parametrize(
    "velocity,level", [(1, "soft"), (40, "soft"), (41, "medium"), (80, "medium"), (81, "hard"), (127, "hard")]
)
def test_velocity_range_levels(velocity, level):
    r = Rig(
        mappings(
            'soft | { type = "VelocityRange", note = 0, soft_max = 40, medium_max = 80, level = "soft" }',
            'medium | { type = "VelocityRange", note = 0, soft_max = 40, medium_max = 80, level = "medium" }',
            'hard | { type = "VelocityRange", note = 0, soft_max = 40, medium_max = 80, level = "hard" }',
            'any | { type = "VelocityRange", note = 0, soft_max = 40, medium_max = 80 }',
        )
    )
    r.on(0, 0, velocity=velocity)
    assert sorted(r.names) == sorted([level, "any"])
    assert all(ctx["level"] == level for _, ctx in r.fired)


def test_velocity_range_with_explicit_bounds_from_legacy_keys():
    r = Rig(
        mappings(
            'lo | { type = "VelocityRange", note = 13, min_velocity = 1, max_velocity = 40 }',
            'hi | { type = "VelocityRange", note = 13, min_velocity = 80, max_velocity = 127 }',
        )
    )
    r.on(0, 13, velocity=30).on(10, 13, velocity=60).on(20, 13, velocity=90)
    assert r.names == ["lo", "hi"]
    assert any("deprecated" in str(w) for w in r.result.warnings)


@pytest.mark.parametrize("held_ms,expect", [(990, []), (1010, ["hold"])])
def test_long_press_at_threshold_give_or_take_10ms(held_ms, expect):
    r = Rig(ADV + mappings('hold | { type = "LongPress", note = 5, duration_ms = 1000 }'))
    r.on(0, 5).at(held_ms)
    if held_ms < 1000:
        r.off(held_ms, 5).at(3000)
    assert r.names == expect


def test_long_press_default_duration_comes_from_hold_threshold_ms():
    r = Rig(ADV + mappings('hold | { type = "LongPress", note = 5 }'))
    r.on(0, 5).at(995)
    assert r.names == []
    r.at(1001)
    assert r.names == ["hold"]
    assert r.fired[0][1]["gesture"] == "long_press"


def test_two_long_presses_with_different_durations_both_fire_in_one_hold():
    r = Rig(
        ADV
        + mappings(
            'one | { type = "LongPress", note = 5, duration_ms = 500 }',
            'three | { type = "LongPress", note = 5, duration_ms = 1500 }',
        )
    )
    r.on(0, 5).at(600)
    assert r.names == ["one"]
    r.at(1600)
    assert r.names == ["one", "three"]


@pytest.mark.parametrize("gap_ms,expect", [(290, ["double"]), (310, [])])
def test_double_tap_window_edges(gap_ms, expect):
    r = Rig(ADV + mappings('double | { type = "DoubleTap", note = 16, timeout_ms = 300 }'))
    r.on(0, 16).off(30, 16).on(gap_ms, 16).off(gap_ms + 30, 16).at(2000)
    assert r.names == expect


def test_triple_tap_fires_one_double_then_starts_over():
    r = Rig(ADV + mappings('double | { type = "DoubleTap", note = 16 }'))
    for i, t in enumerate((0, 100, 200, 300)):
        r.on(t, 16).off(t + 20, 16)
    r.at(2000)
    assert r.names == ["double", "double"]


@pytest.mark.parametrize("spread_ms,expect", [(45, ["chord"]), (55, ["a", "b"])])
def test_chord_just_inside_and_just_outside_its_window(spread_ms, expect):
    r = Rig(
        ADV
        + mappings(
            'chord | { type = "NoteChord", notes = [8, 12] }',
            'a | { type = "Note", note = 8 }',
            'b | { type = "Note", note = 12 }',
        )
    )
    r.on(0, 8).on(spread_ms, 12).at(1000)
    assert r.names == expect


def test_chord_needs_all_notes_held():
    r = Rig(ADV + mappings('chord | { type = "NoteChord", notes = [1, 2, 3], timeout_ms = 100 }'))
    r.on(0, 1).on(10, 2).off(20, 2).on(30, 3).at(1000)
    assert r.names == []
    r.off(900, 1).on(1000, 2).on(1010, 1)
    assert r.names == []  # 3 is still held, but it went down 970 ms before the others
    r.off(1100, 1).off(1100, 2).off(1100, 3)
    r.on(2000, 3).on(2010, 2).on(2020, 1)
    assert r.names == ["chord"]
    assert r.fired[0][1]["notes"] == [1, 2, 3]


def test_cc_value_range():
    r = Rig(mappings('cc | { type = "CC", cc = 7, value_min = 64, value_max = 100 }'))
    for v in (63, 64, 100, 101):
        r.cc(v, 7, v)
    assert [ctx["value"] for _, ctx in r.fired] == [64, 100]


@pytest.mark.parametrize(
    "encoding,value,steps,direction",
    [
        ("twos_complement", 1, 1, "Clockwise"),
        ("twos_complement", 127, 1, "CounterClockwise"),
        ("twos_complement", 5, 5, "Clockwise"),
        ("twos_complement", 123, 5, "CounterClockwise"),
        ("sign_magnitude", 3, 3, "Clockwise"),
        ("sign_magnitude", 65, 1, "CounterClockwise"),
        ("sign_magnitude", 70, 6, "CounterClockwise"),
        ("binary_offset", 65, 1, "Clockwise"),
        ("binary_offset", 63, 1, "CounterClockwise"),
        ("binary_offset", 72, 8, "Clockwise"),
    ],
)
def test_encoder_relative_encodings_and_accelerated_steps(encoding, value, steps, direction):
    r = Rig(mappings(f'any | {{ type = "EncoderTurn", cc = 1, encoding = "{encoding}" }}'))
    r.cc(0, 1, value)
    assert len(r.fired) == 1
    assert (r.fired[0][1]["steps"], r.fired[0][1]["direction"]) == (steps, direction)


def test_encoder_direction_filter_and_absolute_encoding():
    r = Rig(
        mappings(
            'cw | { type = "EncoderTurn", cc = 2, direction = "Clockwise", encoding = "absolute" }',
            'ccw | { type = "EncoderTurn", cc = 2, direction = "CounterClockwise", encoding = "absolute" }',
        )
    )
    r.cc(0, 2, 60).cc(1, 2, 62).cc(2, 2, 61).cc(3, 2, 61)
    assert r.names == ["cw", "ccw"]  # the first message only sets the position
    assert [ctx["steps"] for _, ctx in r.fired] == [2, 1]


def test_binary_offset_centre_is_no_turn():
    r = Rig(mappings('any | { type = "EncoderTurn", cc = 1, encoding = "binary_offset" }'))
    r.cc(0, 1, 64)
    assert r.names == []


def test_aftertouch_channel_and_poly():
    r = Rig(
        mappings(
            'any | { type = "Aftertouch", pressure_min = 50 }',
            'key | { type = "Aftertouch", note = 60, pressure_min = 10 }',
        )
    )
    r.event(0, E.AFTERTOUCH, value=40).event(1, E.AFTERTOUCH, value=60)
    r.event(2, E.POLY_AFTERTOUCH, note=60, value=20).event(3, E.POLY_AFTERTOUCH, note=61, value=90)
    assert r.names == ["any", "key", "any"]


def test_pitch_bend_range():
    r = Rig(mappings('up | { type = "PitchBend", value_min = 12000, value_max = 16383 }'))
    r.event(0, E.PITCHBEND, value=8192).event(1, E.PITCHBEND, value=16383)
    assert r.names == ["up"]
    assert r.fired[0][1]["pitch"] == 8191


def test_plugin_trigger_event_and_match():
    r = Rig(mappings('btn | { type = "Plugin", plugin = "mqtt_listen", event = "button", match = { id = "a" } }'))
    r.event(0, E.PLUGIN, device="mqtt_listen", name="button", data={"id": "b"})
    r.event(1, E.PLUGIN, device="mqtt_listen", name="other", data={"id": "a"})
    r.event(2, E.PLUGIN, device="mqtt_listen", name="button", data={"id": "a", "x": 1})
    assert r.names == ["btn"]
    assert r.fired[0][1]["data"] == {"id": "a", "x": 1}
