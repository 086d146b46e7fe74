"""The documented rules for triggers that overlap (docs/triggers.md, "When triggers overlap")."""

from testkit.rig import Rig, mappings

ADV = "[advanced_settings]\nchord_timeout_ms = 50\ndouble_tap_timeout_ms = 300\nhold_threshold_ms = 1000\n"


def test_a_lone_note_mapping_fires_at_note_on_without_delay():
    r = Rig(ADV + mappings('tap | { type = "Note", note = 14 }'))
    r.on(0, 14)
    assert r.names == ["tap"]


def test_note_and_long_press_on_one_pad_tap_gives_note_hold_gives_long_press():
    cfg = ADV + mappings('tap | { type = "Note", note = 14 }', 'hold | { type = "LongPress", note = 14 }')
    r = Rig(cfg)
    r.on(0, 14)
    assert r.names == []  # waits: it could still become a hold
    r.off(200, 14)
    assert r.names == ["tap"]  # released before the hold time: the press
    r.take()
    r.on(1000, 14).at(2100)
    assert r.names == ["hold"]  # held past the threshold: only the hold
    r.off(2500, 14).at(5000)
    assert r.names == ["hold"]  # and the release does not add the press


def test_note_and_double_tap_single_press_waits_for_the_window():
    r = Rig(ADV + mappings('tap | { type = "Note", note = 15 }', 'double | { type = "DoubleTap", note = 15 }'))
    r.on(0, 15).off(50, 15).at(290)
    assert r.names == []
    r.at(301)
    assert r.names == ["tap"]
    r.take()
    r.on(1000, 15).off(1030, 15).on(1100, 15).off(1130, 15).at(3000)
    assert r.names == ["double"]  # the first press was claimed by the double tap


def test_note_long_press_and_double_tap_together():
    r = Rig(
        ADV
        + mappings(
            'tap | { type = "Note", note = 3 }',
            'hold | { type = "LongPress", note = 3 }',
            'double | { type = "DoubleTap", note = 3 }',
        )
    )
    r.on(0, 3).off(100, 3).at(350)
    assert r.names == ["tap"]
    r.take()
    r.on(1000, 3).at(2050)
    assert r.names == ["hold"]
    r.off(2100, 3).at(4000)
    r.take()
    r.on(5000, 3).off(5050, 3).on(5200, 3).off(5250, 3).at(8000)
    assert r.names == ["double"]


def test_chord_consumes_its_notes_presses():
    r = Rig(
        ADV
        + mappings(
            'chord | { type = "NoteChord", notes = [36, 37, 38] }',
            'kick | { type = "Note", note = 36 }',
            'snare | { type = "Note", note = 37 }',
        )
    )
    r.on(0, 36).on(10, 37).on(20, 38).at(500)
    assert r.names == ["chord"]
    r.take()
    r.off(600, 36).off(600, 37).off(600, 38)
    r.on(1000, 36).at(1049)
    assert r.names == []  # a chord member waits for the chord window...
    r.at(1051)
    assert r.names == ["kick"]  # ...then plays as itself


def test_mode_mapping_hides_global_mapping_with_same_trigger():
    cfg = ADV + mappings(
        'mode-36 | { type = "Note", note = 36 }',
        globals_=(
            'global-36 | { type = "Note", note = 36 }',
            'global-40 | { type = "Note", note = 40 }',
            'global-hold-36 | { type = "LongPress", note = 36 }',
        ),
        modes=2,
    )
    r = Rig(cfg)
    r.on(0, 40)
    assert r.names == ["global-40"]  # globals work in a mode that does not map the control
    r.take()
    r.on(100, 36).off(200, 36)
    assert r.names == ["mode-36"]  # the mode's own mapping wins over the global one
    r.take()
    r.on(1000, 36).at(2100)
    assert r.names == ["global-hold-36"]  # a different gesture on the same pad still applies
    r.off(2200, 36)
    r.take()
    r.engine.set_mode("Mode1")
    r.on(3000, 36).off(3100, 36)
    assert r.names == ["global-36"]  # in a mode without it, the global mapping fires


def test_mapping_filtered_by_channel_does_not_hide_a_global_on_another_channel():
    cfg = mappings('ch1 | { type = "Note", note = 36, channel = 1 }', globals_=('any | { type = "Note", note = 36 }',))
    r = Rig(cfg)
    r.on(0, 36, channel=1).on(1, 36, channel=2)
    assert r.names == ["ch1", "any", "any"]


def test_disabled_mapping_never_fires():
    r = Rig(
        '[[modes]]\nname = "A"\n[[modes.mappings]]\nenabled = false\ntrigger = { type = "Note", note = 1 }\n'
        'action = { type = "Delay", ms = 0 }\n'
    )
    r.on(0, 1)
    assert r.names == []


def test_state_in_progress_survives_a_table_swap():
    from midimon.config import load_config
    from midimon.engine.table import compile_table

    cfg = ADV + mappings('tap | { type = "Note", note = 14 }', 'hold | { type = "LongPress", note = 14 }')
    r = Rig(cfg)
    r.on(0, 14).at(500)
    new = compile_table(load_config("x.toml", text=cfg.replace('"tap"', '"tap2"')).config)
    r.engine.swap_table(new)
    r.at(1100)
    assert r.names == ["hold"]  # the hold begun before the reload completes after it
    r.off(1200, 14).on(2000, 14).off(2100, 14)
    assert r.names == ["hold", "tap2"]
