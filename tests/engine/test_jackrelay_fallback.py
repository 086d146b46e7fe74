"""When the relay cannot run, midimon runs on the Python path and says why, once.

No JACK server is started here: each case is a reason the relay is not used.
"""

from __future__ import annotations

import logging

import pytest

from midimon.config.home import Home
from midimon.engine.backends.jackrelay import RelayExtension

JACK = "mido.backends.rtmidi/UNIX_JACK"


class Daemonish:
    """What the relay extension reads of the daemon before it starts."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.engine = None
        self.midi_out = None
        self.offered: list = []

    def use_backend(self, backend) -> bool:
        self.offered.append(backend)
        return True


def prepare(tmp_path, monkeypatch, env: dict[str, str], backend: str = JACK):
    monkeypatch.setenv("MIDO_BACKEND", backend)
    daemon = Daemonish(Home.at(tmp_path / "home"))
    ext = RelayExtension(env=env)
    ext.prepare(daemon)  # type: ignore[arg-type]  # the part of Daemon it uses
    return ext, daemon


def test_turned_off_by_the_environment(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="midimon.midi"):
        ext, daemon = prepare(tmp_path, monkeypatch, {"MIDIMON_JACK_RELAY": "0"})
    assert daemon.offered == [] and ext.status() == {"active": False, "reason": ext.reason}
    assert "MIDIMON_JACK_RELAY=0" in ext.reason
    assert [r.message for r in caplog.records if "relay is off" in r.message] != []


def test_not_jack_is_quiet_and_changes_nothing(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="midimon.midi"):
        ext, daemon = prepare(tmp_path, monkeypatch, {}, backend="mido.backends.rtmidi/LINUX_ALSA")
    assert daemon.offered == []
    assert ext.reason.startswith("the MIDI back end is not JACK")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_no_compiler_names_what_is_missing(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with caplog.at_level(logging.INFO, logger="midimon.midi"):
        ext, daemon = prepare(tmp_path, monkeypatch, {})
    assert daemon.offered == []
    assert "C compiler" in ext.reason and "no-such-cc" in ext.reason
    assert not (tmp_path / "home" / "cache").exists() or not list((tmp_path / "home" / "cache").glob("*.so"))
    warned = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "in-cycle relay is off" in warned[0]


def test_a_broken_compiler_is_a_clear_reason(tmp_path, monkeypatch):
    cc = tmp_path / "cc"
    cc.write_text("#!/bin/sh\necho 'relay.c:1: error: broken on purpose' >&2\nexit 1\n")
    cc.chmod(0o755)
    monkeypatch.setenv("CC", str(cc))
    ext, daemon = prepare(tmp_path, monkeypatch, {})
    assert daemon.offered == []
    assert "failed" in ext.reason and "broken on purpose" in ext.reason


def test_no_jack_server_is_a_clear_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"midimon-no-such-server-{tmp_path.name}")
    ext, daemon = prepare(tmp_path, monkeypatch, {})
    if "C compiler" in (ext.reason or ""):
        pytest.skip(ext.reason)
    assert daemon.offered == []
    assert ext.reason is not None and ("JACK server" in ext.reason or "libjack" in ext.reason)
    # the library was built all the same, and is reused by the next start
    assert list((tmp_path / "home" / "cache").glob("jackrelay-*.so"))


def test_the_build_is_cached_by_the_sources_hash(tmp_path, monkeypatch):
    from midimon.engine.backends.jackrelay import build

    monkeypatch.delenv("CC", raising=False)
    try:
        first = build.compile_library(tmp_path)
    except build.RelayUnavailable as exc:
        pytest.skip(str(exc))
    # a second start never runs the compiler: a broken one is not even called
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert build.compile_library(tmp_path) == first
    assert build.load(tmp_path).relay_sizeof_entry() == 8
    # any source changing (a header too) names another library
    src = build.sources()
    changed = dict(src, **{"ring.h": src["ring.h"] + b"\n"})
    assert build.library_path(tmp_path, changed) != first
