"""Helpers for tests/live: configs, an in-process daemon with its socket, waiting."""

from pathlib import Path

from testkit.jack import wait_for

BASE = """
[device]
name = "pads"

[advanced_settings]
chord_timeout_ms = 40

"""


def modes_config(*names: str, note: int = 36, extra: str = "") -> str:
    """A valid config with these modes; each maps ``note`` to a SendMidi marking the mode."""
    out = BASE
    for i, name in enumerate(names):
        out += f"""
[[modes]]
name = "{name}"
[[modes.mappings]]
description = "{name} marker"
trigger = {{ type = "Note", note = {note} }}
action = {{ type = "SendMidi", port = "sink", message_type = "NoteOn", note = {i}, velocity = 1 }}
"""
    return out + extra


class LiveDaemon:
    """A Daemon in this process on the memory back end, with engine.live attached."""

    def __init__(self, home: Path, config_text: str, **live_kw) -> None:
        from midimon.engine.backends.memory import MemoryBackend
        from midimon.engine.daemon import Daemon
        from midimon.engine.desktop.base import Unavailable
        from midimon.engine.live import attach

        self.home = home
        self.config = home / "config.toml"
        if config_text is not None:
            self.config.write_text(config_text)
        self.backend = MemoryBackend(["pads", "sink"])
        self.daemon = Daemon(self.config, backend=self.backend, desktop=Unavailable("tests"), home=home)
        self.outcomes: list[dict] = []
        # every reload outcome goes out on the change feed
        self.daemon.feed.listeners.append(lambda ch: self.outcomes.append(ch.data) if ch.kind == "reload" else None)
        self.live = attach(self.daemon, **live_kw)

    def start(self, mode=None) -> "LiveDaemon":
        self.daemon.start(mode=mode)
        return self

    @property
    def socket(self) -> Path:
        return self.live.socket_path

    def client(self, timeout: float = 10.0):
        from midimon.engine.live.client import Client

        return Client(self.socket, timeout=timeout).connect()

    def file_reloads(self) -> list[dict]:
        return [o for o in self.outcomes if o.get("source") == "file change"]

    def sink(self) -> list:
        port = self.backend.opened_outputs.get("sink")
        return list(port.sent) if port else []

    def press(self, note: int = 36) -> None:
        import mido

        self.backend.inject("pads", mido.Message("note_on", note=note, velocity=90))
        self.backend.inject("pads", mido.Message("note_off", note=note))

    def marker(self, note: int = 36, timeout: float = 5.0) -> int:
        """Press ``note`` and return which mode's marker came out."""
        before = len(self.sink())
        self.press(note)
        wait_for(lambda: len(self.sink()) > before, timeout, what="a marker on the sink")
        return self.sink()[before].note

    def stop(self) -> None:
        self.daemon.stop()


def settle_no_more(predicate_count, expected: int, quiet: float = 0.6) -> None:
    """After reaching ``expected``, wait ``quiet`` seconds and check nothing more happened."""
    import time

    wait_for(lambda: predicate_count() >= expected, 10, what=f"{expected} reload(s)")
    time.sleep(quiet)
    assert predicate_count() == expected
