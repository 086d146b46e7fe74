"""fs against a real filesystem with real symlinks: roots, '..', links, read/write separation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from midimon.sandbox import PluginCallError, PluginHost

CLIENT = """
def read(p):
    return fs.read_text(p)
def write(p, text):
    return fs.write_text(p, text)
def append(p, text):
    return fs.append_text(p, text)
def ls(p):
    return fs.list_dir(p)
def exists(p):
    return fs.exists(p)
def rm(p):
    return fs.delete(p)
def mkdir(p):
    return fs.mkdir(p)
def roundtrip(p, v):
    fs.write_json(p, v)
    return fs.read_json(p)
"""
SECRET = "fs-secret-42"


@pytest.fixture
def setup(tmp_path: Path, make_host: Callable[..., PluginHost]):
    data = tmp_path / "data"
    files = data / "files"
    files.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(SECRET)
    shared_ro = tmp_path / "ro"
    shared_ro.mkdir()
    (shared_ro / "song.txt").write_text("la la")
    shared_rw = tmp_path / "rw"
    shared_rw.mkdir()
    host = make_host(
        CLIENT,
        {
            "capabilities": ["filesystem"],
            "allow": {"read_paths": [str(shared_ro)], "write_paths": [str(shared_rw)]},
            "deny": {"read_paths": [str(shared_ro / "private")]},
        },
        data_dir=data,
    )
    return host, files, outside, secret, shared_ro, shared_rw


def test_data_folder_read_write(setup) -> None:
    host, files, *_ = setup
    assert host.call("write", "notes/a.txt", "hello") == 5
    assert (files / "notes" / "a.txt").read_text() == "hello"
    assert host.call("read", "notes/a.txt") == "hello"
    assert host.call("append", "notes/a.txt", "!") == 1
    assert host.call("read", "./notes/a.txt") == "hello!"
    assert host.call("roundtrip", "v.json", {"a": [1, 2]}) == {"a": [1, 2]}
    assert [e["name"] for e in host.call("ls", "notes")] == ["a.txt"]
    assert host.call("exists", "notes/a.txt") is True
    assert host.call("rm", "notes/a.txt") is True
    assert not (files / "notes" / "a.txt").exists()


def test_granted_paths_respect_read_and_write(setup) -> None:
    host, _files, _o, _s, ro, rw = setup
    assert host.call("read", str(ro / "song.txt")) == "la la"
    with pytest.raises(PluginCallError, match="write_paths"):
        host.call("write", str(ro / "song.txt"), "overwritten")
    assert (ro / "song.txt").read_text() == "la la"
    host.call("write", str(rw / "out.txt"), "ok")
    assert (rw / "out.txt").read_text() == "ok"


def test_deny_beats_allow_for_paths(setup) -> None:
    host, _f, _o, _s, ro, _rw = setup
    (ro / "private").mkdir()
    (ro / "private" / "key").write_text(SECRET)
    with pytest.raises(PluginCallError, match="explicitly denied"):
        host.call("read", str(ro / "private" / "key"))


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.txt",
        "notes/../../outside/secret.txt",
        "/etc/passwd",
        "{secret}",
        "files/../../outside/secret.txt",
    ],
)
def test_paths_outside_roots_are_refused(setup, path: str) -> None:
    host, _f, _o, secret, *_ = setup
    with pytest.raises(PluginCallError) as info:
        host.call("read", path.format(secret=secret))
    assert SECRET not in str(info.value)


def test_symlink_file_to_secret_is_not_followed(setup) -> None:
    host, files, _o, secret, *_ = setup
    os.symlink(secret, files / "link.txt")
    with pytest.raises(PluginCallError, match="symbolic links"):
        host.call("read", "link.txt")


def test_symlinked_directory_is_not_followed(setup) -> None:
    host, files, outside, *_ = setup
    os.symlink(outside, files / "dir")
    with pytest.raises(PluginCallError, match="symbolic links"):
        host.call("read", "dir/secret.txt")
    with pytest.raises(PluginCallError, match="symbolic links"):
        host.call("write", "dir/planted.txt", "x")
    assert not (outside / "planted.txt").exists()


def test_write_through_symlink_does_not_touch_target(setup) -> None:
    host, files, _o, secret, *_ = setup
    os.symlink(secret, files / "trap.txt")
    with pytest.raises(PluginCallError):
        host.call("write", "trap.txt", "overwritten")
    with pytest.raises(PluginCallError):
        host.call("append", "trap.txt", "more")
    assert secret.read_text() == SECRET


def test_delete_of_symlink_removes_link_only(setup) -> None:
    host, files, _o, secret, *_ = setup
    os.symlink(secret, files / "gone.txt")
    assert host.call("rm", "gone.txt") is True
    assert secret.read_text() == SECRET and not os.path.lexists(files / "gone.txt")


def test_symlink_in_granted_root_is_not_followed(setup) -> None:
    host, _f, _o, secret, ro, _rw = setup
    os.symlink(secret, ro / "sneaky.txt")
    with pytest.raises(PluginCallError, match="symbolic links"):
        host.call("read", str(ro / "sneaky.txt"))


def test_fifo_is_refused_without_blocking(setup) -> None:
    host, files, *_ = setup
    os.mkfifo(files / "pipe")
    with pytest.raises(PluginCallError, match="regular files"):
        host.call("read", "pipe")


def test_store_file_is_out_of_fs_reach(setup) -> None:
    host, *_ = setup
    with pytest.raises(PluginCallError):
        host.call("read", "../store.json")
