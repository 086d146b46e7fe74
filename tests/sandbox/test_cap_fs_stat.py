"""fs.stat: size, mtime and type for a file-watching trigger, under the same roots as reads."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from midimon.sandbox import PluginCallError, PluginHost

CLIENT = """
def stat(p):
    return fs.stat(p)
"""


@pytest.fixture
def host(tmp_path: Path, make_host: Callable[..., PluginHost]) -> PluginHost:
    (tmp_path / "data" / "files").mkdir(parents=True)
    (tmp_path / "watched").mkdir()
    (tmp_path / "outside").mkdir()
    return make_host(
        CLIENT,
        {"capabilities": ["filesystem"], "allow": {"read_paths": [str(tmp_path / "watched")]}},
        data_dir=tmp_path / "data",
    )


def test_stat_reports_size_mtime_and_type_and_sees_a_change(host: PluginHost, tmp_path: Path) -> None:
    f = tmp_path / "watched" / "song.txt"
    f.write_text("la la")
    os.utime(f, (1_700_000_000, 1_700_000_000))
    assert host.call("stat", str(f)) == {"size": 5, "mtime": 1_700_000_000.0, "type": "file"}
    f.write_text("la la la")
    os.utime(f, (1_700_000_100, 1_700_000_100))
    after = host.call("stat", str(f))
    assert (after["size"], after["mtime"]) == (8, 1_700_000_100.0)
    assert host.call("stat", str(tmp_path / "watched"))["type"] == "dir"


def test_stat_in_the_data_folder_and_a_missing_file(host: PluginHost, tmp_path: Path) -> None:
    (tmp_path / "data" / "files" / "n.txt").write_text("123")
    assert host.call("stat", "n.txt")["size"] == 3
    with pytest.raises(PluginCallError, match="no such file"):
        host.call("stat", "gone.txt")


def test_stat_outside_the_granted_roots_is_denied_and_reveals_nothing(host: PluginHost, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.write_text("x" * 4242)
    with pytest.raises(PluginCallError) as e:
        host.call("stat", str(secret))
    assert "read_paths" in str(e.value) and "4242" not in str(e.value)
    with pytest.raises(PluginCallError, match="'..'"):
        host.call("stat", str(tmp_path / "watched" / ".." / "outside" / "secret.txt"))


def test_stat_does_not_follow_a_symlink(host: PluginHost, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.write_text("x" * 4242)
    link = tmp_path / "watched" / "link"
    link.symlink_to(secret)
    got = host.call("stat", str(link))
    assert got["type"] == "link" and got["size"] != 4242
    (tmp_path / "watched" / "sub").symlink_to(tmp_path / "outside")
    with pytest.raises(PluginCallError, match="symbolic links"):
        host.call("stat", str(tmp_path / "watched" / "sub" / "secret.txt"))
