"""The daemon wired to the in-memory MIDI back end: devices, reloads, status."""

import threading
import time

import mido
import pytest
from testkit.jack import wait_for

from midimon.engine.backends import MemoryBackend
from midimon.engine.daemon import Daemon
from midimon.engine.desktop.base import Recording
from midimon.engine.extension import Extension

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
        d = Daemon(home / "config.toml", backend=backend, desktop=desk, home=home)
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
    d = Daemon(home / "config.toml", backend=backend, desktop=Recording(), home=home)
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
    d = Daemon(home / "config.toml", backend=backend, desktop=Recording(), home=home)
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


# -- the extension door, reload scopes, the feed, logging ------------------------------------------


class Recorder(Extension):
    """An extension that writes down what the daemon asks of it."""

    def __init__(self, log: list, name: str, *, slow: float = 0.0, breaks: bool = False) -> None:
        self.log, self.label, self.slow, self.breaks = log, name, slow, breaks

    def prepare(self, daemon):
        self.log.append((self.label, "prepare", daemon.engine is None))

    def start(self, daemon):
        self.log.append((self.label, "start", daemon.engine is not None))

    def before_reload(self, daemon, scope):
        self.log.append((self.label, "before_reload", scope))
        time.sleep(self.slow)

    def after_reload(self, daemon, outcome):
        self.log.append((self.label, "after_reload", outcome["ok"]))

    def close(self):
        self.log.append((self.label, "close", None))
        if self.breaks:
            raise RuntimeError("a part that fails to close")


def _plain_daemon(home, text=None, **kw):
    (home / "config.toml").write_text(text or CFG.format(device='name = "Pads"', text="one"))
    return Daemon(home / "config.toml", backend=MemoryBackend(["Pads"]), desktop=Recording(), **kw, home=home)


def test_extensions_are_prepared_started_and_closed_in_reverse_even_when_one_fails(home):
    log = []
    d = _plain_daemon(home)
    d.add(Recorder(log, "a", breaks=True))
    d.add(Recorder(log, "b"))
    d.start()
    d.stop()
    assert log == [
        ("a", "prepare", True),
        ("b", "prepare", True),
        ("a", "start", True),
        ("b", "start", True),
        ("b", "close", None),
        ("a", "close", None),  # after b, and a's failure did not stop the daemon's own clean-up
    ]
    assert d.devices is not None and d.engine is not None


def test_reload_scopes_reach_each_part_and_the_feed_gets_the_outcome(home):
    log = []
    d = _plain_daemon(home)
    d.add(Recorder(log, "a"))
    d.start()
    try:
        seen = []
        d.feed.listeners.append(lambda ch: seen.append(ch.kind))
        d.reload()  # a config save
        d.reload(scope="all")  # midimon reload
        d.reload(scope="plugins")
        scopes = [entry[2] for entry in log if entry[1] == "before_reload"]
        assert scopes == ["config", "all", "plugins"]
        assert seen.count("reload") == 3 and d.last_reload["scope"] == "plugins"
    finally:
        d.stop()


def test_the_plugin_rescan_is_not_counted_as_config_load_time(home):
    log = []
    d = _plain_daemon(home)
    d.add(Recorder(log, "slow", slow=0.5))
    d.start()
    try:
        out = d.reload(scope="all")
        assert out["phase_ms"]["plugins_ms"] >= 500
        assert out["phase_ms"]["load_validate_compile_ms"] < 500  # it once included the rescan
    finally:
        d.stop()


def test_a_config_save_does_not_rescan_plugins_and_midimon_reload_does(home):
    from midimon.engine.plugin_ext import PluginExtension

    d = _plain_daemon(home)
    ext = d.add(PluginExtension(d, watch=False))
    d.start()
    try:
        before = ext.manager.rescans
        assert d.reload()["ok"]
        assert ext.manager.rescans == before
        assert d.reload(scope="all")["ok"]
        assert ext.manager.rescans == before + 1
    finally:
        d.stop()


def test_a_failing_swap_listener_does_not_make_the_reload_a_failure(home):
    d = _plain_daemon(home)
    d.start()
    try:

        def broken(old, new):
            raise RuntimeError("listener bug")

        d.engine.mode_listeners.append(broken)
        # mode A disappears: the swap switches to B and tells the mode listeners
        (home / "config.toml").write_text(CFG.format(device='name = "Pads"', text="x").replace('"A"', '"B"'))
        out = d.reload()
        assert out["ok"] is True and out["after_swap_errors"], out
        assert d.engine.table.sha256 == out["sha256"] and d.engine.mode == "B"
    finally:
        d.stop()


def test_after_a_device_change_the_daemon_still_ignores_its_own_virtual_output(home):
    text = CFG.format(device="", text="one")
    (home / "config.toml").write_text(text)
    backend = MemoryBackend(["Keys", "midimon:midimon-out"])
    d = Daemon(home / "config.toml", backend=backend, desktop=Recording(), home=home)
    d.start()
    try:
        assert sorted(s["port"] for s in d.status()["devices"]) == ["Keys"]
        (home / "config.toml").write_text(text.replace("[device]\n", "[device]\nauto_reconnect = false\n"))
        assert d.reload()["ok"]
        assert sorted(s["port"] for s in d.status()["devices"]) == ["Keys"]
    finally:
        d.stop()


def test_debug_survives_the_config_level_and_the_log_file_rotates(home):
    import logging
    import logging.handlers

    logfile = home / "logs" / "one.log"
    text = CFG.format(device='name = "Pads"', text="one") + f'\n[logging]\nlevel = "warning"\nfile = "{logfile}"\n'
    d = _plain_daemon(home, text, debug=True)
    d.start()
    root = logging.getLogger("midimon")
    try:
        assert root.level == logging.DEBUG
        ours = [h for h in root.handlers if getattr(h, "baseFilename", None)]
        assert len(ours) == 1 and isinstance(ours[0], logging.handlers.RotatingFileHandler)
        assert ours[0].maxBytes > 0 and ours[0].backupCount > 0
        other = home / "logs" / "two.log"
        (home / "config.toml").write_text(text.replace(str(logfile), str(other)))
        assert d.reload()["ok"]
        assert root.level == logging.DEBUG
        names = [h.baseFilename for h in root.handlers if getattr(h, "baseFilename", None)]
        assert names == [str(other)]  # the old handler was removed, not stacked
    finally:
        d.stop()
    assert not [h for h in root.handlers if getattr(h, "baseFilename", None)]


def test_safe_mode_turns_off_plugins_that_are_not_first_party_without_saving_it(home):
    from midimon.engine.plugin_ext import PluginExtension

    (home / "plugins").mkdir()
    (home / "plugins" / "mine.py").write_text("def execute(params, context):\n    return 1\n")
    d = _plain_daemon(home, safe_mode=True)
    ext = d.add(PluginExtension(d, watch=False, safe_mode=True))
    d.start()
    try:
        rec = ext.manager.record_json("mine")
        assert rec["state"] == "disabled" and rec["enabled"] is True
        assert "mine" not in ext.manager.runtime.active
        assert not (home / "plugin-state.json").exists()  # nothing persisted
    finally:
        d.stop()


def test_restart_keeps_the_arguments_and_toggles_safe_mode():
    from midimon.engine.cli.run import restart_argv

    assert restart_argv(["--debug", "run", "--mode", "A"], True) == ["--debug", "run", "--safe-mode", "--mode", "A"]
    assert restart_argv(["run", "--safe-mode", "--config", "x"], False) == ["run", "--config", "x"]


def test_a_broken_import_of_a_part_is_an_error_not_not_available(home, monkeypatch):
    import sys

    from midimon.engine.cli import run

    monkeypatch.setitem(sys.modules, "midimon.engine.plugin_ext", None)  # importing it raises
    d = _plain_daemon(home)
    with pytest.raises(ImportError):
        run._install_extensions(d)
    for ext in reversed(d.extensions):
        ext.close()


class _SlowClose(Extension):
    """Closing takes a while, like a JACK client's ports."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def close(self) -> None:
        time.sleep(0.3)
        self.closed.set()


def test_a_second_stop_returns_only_once_the_first_has_closed_everything(home):
    # the socket's restart stops the daemon on its own thread while the main loop, seeing it
    # stopped, calls stop() too and then re-executes: that must wait for the ports to close
    d = _plain_daemon(home)
    slow = d.add(_SlowClose())
    d.start()
    first = threading.Thread(target=d.stop)
    first.start()
    wait_for(d.wait, 5, what="the first stop to begin")
    d.stop()
    assert slow.closed.is_set()
    first.join(5)
