"""Operating-system confinement of a worker: what still holds if plugin code escapes Python.

RestrictedPython and the guards are the first wall inside the worker; this is the second. A
worker needs nothing from the system once it runs: it computes, and it talks to the host over the
one socket it was handed. So after the worker has set itself up, and before any plugin code
exists in the process, it takes away what it will never need (Linux only, each step best effort):

- no stray file descriptors (only 0-2 on /dev/null and the host socket), cwd ``/``, umask 077;
- limits: no new files bigger than 0 bytes (RLIMIT_FSIZE), no new processes (RLIMIT_NPROC 0),
  a few descriptors (RLIMIT_NOFILE), no core files;
- no new privileges (PR_SET_NO_NEW_PRIVS), not dumpable (other processes of the user cannot
  read its memory or ``/proc`` files);
- Landlock (kernel 5.13+): no file may be written, created, removed or executed anywhere, and
  only the Python standard library and the time zone files may be read; with ABI 4+, no TCP
  connect or bind; with ABI 6+, no signals to processes outside the worker and no abstract
  Unix sockets outside it;
- when the daemon runs as root (``privileges.py``): every capability set emptied (bounding,
  ambient, effective, permitted, inheritable), securebits locked, uid and gid ``nobody``;
- seccomp: an allow list of the calls a worker makes (``syscalls.py``); every other call fails
  with EPERM: no socket (the daemon's control socket, the X server, D-Bus), no
  ``fork``/``clone``/``execve`` (even for root, which RLIMIT_NPROC does not stop), no
  ``ptrace``, ``kill``, ``reboot``, module loading, ``kexec``, ``mount``, ``syslog``...

``apply()`` returns what was applied, by name; ``status()`` of the worker reports it to the host.
"""

from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import os
import platform
import resource
import signal
import struct
import sysconfig
from typing import Any

from . import privileges, syscalls

_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2

# -- Landlock (linux/landlock.h) -------------------------------------------------------------------
_SYS_LANDLOCK = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_FS_READ = (1 << 2) | (1 << 3)  # READ_FILE | READ_DIR
_NET_TCP = (1 << 0) | (1 << 1)  # BIND_TCP | CONNECT_TCP (ABI 4)
_SCOPE_ALL = (1 << 0) | (1 << 1)  # ABSTRACT_UNIX_SOCKET | SIGNAL (ABI 6)

_libc: Any = None


def _load() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
    return _libc


def _syscall(*args: Any) -> int:
    result = int(_load().syscall(*args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _prctl(option: int, arg: int, arg3: Any = None) -> None:
    if (
        _load().prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg),
            arg3 if arg3 is not None else ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
        != 0
    ):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    numbers = _SYS_LANDLOCK.get(platform.machine())
    if numbers is None:
        return 0
    try:
        return _syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except OSError:
        return 0


def readable_roots() -> list[str]:
    """What a confined worker may still read: Python's own library (lazy imports such as codecs
    or ``_strptime``) and the time zone database (``time.localtime``)."""
    paths = sysconfig.get_paths()
    roots = {
        paths.get("stdlib"),
        paths.get("platstdlib"),
        "/usr/share/zoneinfo",
        "/etc/localtime",
        os.path.realpath("/etc/localtime"),
    }
    return sorted(p for p in roots if p and os.path.exists(p))


def _ruleset(abi: int, read_only: list[str] | tuple[str, ...]) -> int:
    """A Landlock ruleset that handles every file access and allows only reads of
    ``read_only`` (and, with ABI 4+/6+, no TCP and no signals or abstract sockets outside)."""
    create, add_rule, _restrict = _SYS_LANDLOCK[platform.machine()]
    fs = (
        _FS_ABI1
        | (_FS_REFER if abi >= 2 else 0)
        | (_FS_TRUNCATE if abi >= 3 else 0)
        | (_FS_IOCTL_DEV if abi >= 5 else 0)
    )
    net = _NET_TCP if abi >= 4 else 0
    scoped = _SCOPE_ALL if abi >= 6 else 0
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _syscall(create, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    try:
        for path in read_only:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                access = _FS_READ if os.path.isdir(path) else (1 << 2)
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access, fd), 12)
                _syscall(add_rule, ctypes.c_int(ruleset), ctypes.c_int(1), rule, ctypes.c_uint32(0))
            finally:
                os.close(fd)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def _landlock(ruleset: int) -> None:
    _syscall(_SYS_LANDLOCK[platform.machine()][2], ctypes.c_int(ruleset), ctypes.c_uint32(0))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _seccomp(code: bytes) -> None:
    filt = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // 8, ctypes.cast(filt, ctypes.c_void_p))
    _prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog))


@dataclasses.dataclass(frozen=True)
class Prepared:
    """What every worker's ``apply()`` needs and no worker changes: the Landlock ABI and a
    ruleset already holding the read rules, the last capability number, the seccomp program.

    The zygote makes it once before it forks (``prepare()``), so a worker inherits it instead of
    recomputing it (the paths' checks and opens, /proc reads, building the BPF program: about
    2 ms a worker). The values are the ones each worker computed before, on the same machine;
    each worker still applies every step to itself."""

    abi: int
    roots: tuple[str, ...]
    ruleset: int | None  # a Landlock ruleset fd (inherited by fork; each worker closes its copy)
    last_cap: int
    seccomp: bytes | None


_prepared: Prepared | None = None


def prepare() -> Prepared:
    """Compute (once per process) what ``apply()`` needs; the zygote calls it before forking."""
    global _prepared
    if _prepared is None:
        _load()
        privileges.prepare()
        abi = landlock_abi()
        roots = tuple(readable_roots())
        ruleset = None
        if abi:
            try:
                ruleset = _ruleset(abi, roots)
                if ruleset < 3:  # apply() points 0-2 at /dev/null: keep the ruleset above them
                    ruleset, low = fcntl.fcntl(ruleset, fcntl.F_DUPFD_CLOEXEC, 3), ruleset
                    os.close(low)
            except OSError:
                ruleset = None
        # read now: once Landlock is on, /proc/sys is hidden
        seccomp = b"".join(syscalls.program()) if syscalls.supported() else None
        _prepared = Prepared(abi, roots, ruleset, privileges.last_capability(), seccomp)
    return _prepared


def apply(keep_fds: tuple[int, ...] = (), *, max_open_files: int = 32, drop_root: bool = True) -> list[str]:
    """Confine the calling process for good. Returns the names of the steps that took effect."""
    global _prepared
    done: list[str] = []
    ready = prepare()  # inherited from the zygote; computed here when apply() runs alone
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        # stdout/stderr were the daemon's: a worker must not write into the daemon's log.
        os.dup2(devnull, fd)
    os.close(devnull)
    keep = sorted({0, 1, 2, *keep_fds})
    # the ruleset survives the sweep until it is applied, then goes too (before any plugin code)
    ruleset = ready.ruleset if ready.ruleset is not None and ready.ruleset not in keep else None
    start = 3
    for fd in sorted({*keep[3:], *([ruleset] if ruleset is not None else [])}) + [
        resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    ]:
        os.closerange(start, fd)
        start = fd + 1
    done.append("fds")
    os.chdir("/")
    os.umask(0o077)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails with EFBIG
    for which, value in (
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_NOFILE, max(max_open_files, keep[-1] + 1, (ruleset or 0) + 1)),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            continue
    done.append("rlimits")
    try:
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        done.append("no_new_privs")
    except OSError:
        if ruleset is not None:
            os.close(ruleset)
        return done
    if ready.abi:
        # Before leaving root: the rules are made from paths opened by root (the zygote, or
        # this process), and the standard library may sit where only root can traverse.
        _prepared = dataclasses.replace(ready, ruleset=None)  # this copy is used up below
        try:
            if ruleset is None:  # apply() called again in one process: make the rules again
                ruleset = _ruleset(ready.abi, ready.roots)
            _landlock(ruleset)
            done.append(f"landlock{ready.abi}")
        except OSError:
            pass
        finally:
            if ruleset is not None:
                os.close(ruleset)
    if drop_root:
        done += privileges.drop(last_cap=ready.last_cap)
    try:
        # After the uid change, which resets the dumpable flag to the system default.
        _prctl(_PR_SET_DUMPABLE, 0)
        done.append("not_dumpable")
    except OSError:
        pass
    if ready.seccomp is not None:
        try:
            _seccomp(ready.seccomp)
            done.append("seccomp")
        except OSError:
            pass
    return done
