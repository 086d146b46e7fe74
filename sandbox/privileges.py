"""A worker keeps nothing of root: every capability set emptied, and another uid.

When the daemon runs as root, its zygote and so every worker start as root. A root process
without Landlock could write any file root owns, load kernel modules, reboot, read the kernel
log; even with no capabilities left, uid 0 still *owns* root's files (``/etc/passwd`` is 0644
root: its owner may write it without any capability) and may signal every root process. So a
worker of a root daemon, before any plugin code exists in it:

1. drops every capability from the bounding set (no program it could ever run gets one back),
   clears the ambient set, and locks the securebits so that uid 0 means nothing special;
2. leaves root: no supplementary groups, gid and uid ``nobody`` (65534) for real, effective
   and saved ids;
3. empties the effective, permitted and inheritable sets (``capset``), in case 2 failed.

Why uid 65534 although the standard library may sit where only root can read (here
``/root/.pyenv``, mode 0700)? Landlock already limits a worker's reads to that library and the
time zone files, and the zygote imports everything a worker uses before it forks, so losing
read access costs at most a lazy import a plugin cannot reach anyway (``_strptime`` is refused
by the import allow list; codecs are preloaded by the zygote). Keeping uid 0 instead would leave
root's files writable wherever Landlock is missing. Not a per-worker uid: workers of one daemon
cannot reach each other anyway (not dumpable, no ``ptrace``, no ``kill`` under seccomp).
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Any

UNPRIVILEGED_UID = 65534
UNPRIVILEGED_GID = 65534

_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
# SECBIT_NOROOT, _LOCKED, SECBIT_NO_SETUID_FIXUP's lock, SECBIT_KEEP_CAPS_LOCKED,
# SECBIT_NO_CAP_AMBIENT_RAISE, _LOCKED: nothing can give capabilities back later.
_SECUREBITS = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7)
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}


_LIBC: Any = None


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        libc = ctypes.CDLL(None, use_errno=True)  # this module's own handle: its own argtypes
        libc.prctl.restype = ctypes.c_int
        # declared once, so each of the ~41 bounding-set drops passes plain ints (no objects
        # built per call); every prctl here takes integer arguments only
        libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        libc.syscall.restype = ctypes.c_long
        _LIBC = libc
    return _LIBC


def prepare() -> None:
    """Load libc's handle once (the zygote, before forking): each worker inherits it."""
    _libc()


def _prctl(libc: Any, *args: int) -> bool:
    return int(libc.prctl(*args, *(0,) * (5 - len(args)))) == 0


def last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


def _capset_empty(libc: Any) -> bool:
    import platform

    number = _SYS_CAPSET.get(platform.machine())
    if number is None:
        return False
    header = ctypes.create_string_buffer(struct.pack("=Ii", _LINUX_CAPABILITY_VERSION_3, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)  # two {effective, permitted, inheritable}
    return int(libc.syscall(ctypes.c_long(number), header, data)) == 0


def preload_codecs() -> None:
    """Import every codec now, while the standard library can still be read: after the uid
    change a lazy ``"x".encode("cp1252")`` could not open its module under a root-only folder."""
    global _codecs_loaded
    if _codecs_loaded:  # the zygote did it: a worker need not list the folder again (3 ms)
        return
    import encodings
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(encodings.__path__):
        try:
            importlib.import_module(f"encodings.{module.name}")
        except Exception:  # mbcs/oem exist on Windows only
            continue
    _codecs_loaded = True


_codecs_loaded = False


def drop(uid: int = UNPRIVILEGED_UID, gid: int = UNPRIVILEGED_GID, *, last_cap: int | None = None) -> list[str]:
    """Drop what root gives. Returns the steps that took effect; nothing when not root."""
    if os.geteuid() != 0:
        return []
    preload_codecs()  # a no-op in a worker: the zygote of a root daemon did it once
    done: list[str] = []
    libc = _libc()
    last = last_capability() if last_cap is None else last_cap
    if all(_prctl(libc, _PR_CAPBSET_DROP, cap) for cap in range(last + 1)):
        done.append("capbset")
    if _prctl(libc, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL):
        done.append("ambient")
    if _prctl(libc, _PR_SET_SECUREBITS, _SECUREBITS):
        done.append("securebits")
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        done.append(f"uid{uid}")
    except OSError:
        pass
    if _capset_empty(libc):
        done.append("caps")
    return done
