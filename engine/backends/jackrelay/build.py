"""Compile relay.c once, into a cache folder keyed by the sources' sha256, and load it.

The library is built at first use rather than at install: midimon installs as plain Python,
and a machine without a C compiler or without libjack simply runs without the relay. The
cached file is named after the source's hash, so an upgraded relay.c never loads a stale
build, and it is written aside and renamed into place so two daemons starting at once never
load a half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib.resources import files
from pathlib import Path

from midimon.config.errors import MidimonError


class RelayUnavailable(MidimonError):
    """The in-cycle relay cannot run here; the message says what is missing."""


#: relay.c and the headers it includes: one translation unit
SOURCES = ("relay.c", "jack_api.h", "ring.h", "table.h")


def sources() -> dict[str, bytes]:
    pkg = files("midimon.engine.backends.jackrelay")
    return {name: pkg.joinpath(name).read_bytes() for name in SOURCES}


def library_path(cache: Path, src: dict[str, bytes]) -> Path:
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + src[name] + b"\0")
    return cache / f"jackrelay-{digest.hexdigest()[:16]}.so"


def compile_library(cache: Path) -> Path:
    """The path of the built library, building it first when the cache has none."""
    src = sources()
    target = library_path(cache, src)
    if target.exists():
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RelayUnavailable("no C compiler (install gcc) to build the in-cycle JACK relay")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
        for name, data in src.items():
            (Path(tmp) / name).write_bytes(data)
        c_file = Path(tmp) / "relay.c"
        out = Path(tmp) / "relay.so"
        try:
            proc = subprocess.run(
                [cc, "-O2", "-shared", "-fPIC", "-std=gnu11", "-o", str(out), str(c_file), "-ldl", "-lpthread"],
                capture_output=True,
                text=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RelayUnavailable(f"cannot run the C compiler {cc} to build the in-cycle JACK relay: {exc}") from None
        if proc.returncode != 0:
            first = (proc.stderr or proc.stdout).strip().splitlines()[:3]
            raise RelayUnavailable(f"building the in-cycle JACK relay with {cc} failed: {' / '.join(first)}")
        os.replace(out, target)
    return target


def load(cache: Path) -> ctypes.CDLL:
    """Build if needed, load, and declare every function's signature (ctypes guesses ints)."""
    path = compile_library(cache)
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise RelayUnavailable(f"cannot load the in-cycle JACK relay {path}: {exc}") from None
    c = ctypes
    vp, u32, u64, i32, cp = c.c_void_p, c.c_uint32, c.c_uint64, c.c_int, c.c_char_p
    sigs: dict[str, tuple[object, list[object]]] = {
        "relay_error": (cp, []),
        "relay_open": (vp, [cp, cp, u32]),
        "relay_close": (None, [vp]),
        "relay_client_name": (cp, [vp]),
        "relay_buffer_size": (u32, [vp]),
        "relay_sample_rate": (u32, [vp]),
        "relay_add_port": (i32, [vp, cp, i32]),
        "relay_remove_port": (None, [vp, i32]),
        "relay_port_name": (cp, [vp, i32]),
        "relay_port_connected": (i32, [vp, i32]),
        "relay_connect": (i32, [vp, cp, cp]),
        "relay_swap": (vp, [vp, vp]),
        "relay_retire": (i32, [vp, vp]),
        "relay_set_mode": (None, [vp, u32]),
        "relay_release": (None, [vp, u64]),
        "relay_send": (i32, [vp, i32, cp, u32, u64]),
        "relay_stamp_sent": (None, [vp, i32]),
        "relay_wait": (i32, [vp, i32]),
        "relay_wake": (None, [vp]),
        "relay_next": (i32, [vp, *[c.POINTER(u64)], *[c.POINTER(u32)] * 4, c.c_char_p, u32]),
        "relay_stats": (None, [vp, c.POINTER(u64), u32]),
        "relay_server_gone": (i32, [vp]),
        "relay_table_new": (vp, [u32, cp, cp, u32, cp, u32, cp, u32]),
        "relay_table_free": (None, [vp]),
        "relay_table_set_mode": (None, [vp, u32]),
        "relay_table_eval": (i32, [vp, cp, u32, c.c_char_p, u32]),
        "relay_sizeof_entry": (u32, []),
        "relay_sizeof_out": (u32, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib
