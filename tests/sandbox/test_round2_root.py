"""Round 2, finding 12: a worker that got out of RestrictedPython keeps nothing of root.

The tests run as root here, so they check it for real: an attacker process confined exactly as a
worker confines itself (``confine.apply``) tries what root could do, and each effect is checked on
the host side (the file's mode, the victim process, the errno the kernel answered). Every call is
one whose *permission check* comes first in the kernel and that fails harmlessly after it (a bad
``reboot`` magic, a NULL module image, a mount of a missing folder): so the control run, without
confinement, proves the check was passed (EINVAL, EFAULT, ENOENT...) and nothing happens either.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from midimon.sandbox import confine, syscalls

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or platform.system() != "Linux" or platform.machine() != "x86_64",
    reason="needs root on Linux x86_64 (the attack calls use x86_64 numbers)",
)

#: The attacks: name -> (syscall number, arguments). Each is harmless after its permission check.
ATTACKS = r"""
import ctypes, json, os, sys
cfg = json.loads(sys.argv[1])
OUT = os.dup(1)
from midimon.sandbox import confine
applied = confine.apply((OUT,)) if cfg["confine"] else []
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return [int(r), ctypes.get_errno() if r < 0 else 0]
res = {"applied": applied, "uid": os.getuid()}
res["reboot"] = call(169, 0, 0, 0, 0)                       # bad magic: EINVAL once permitted
res["init_module"] = call(175, 0, 0, ctypes.c_char_p(b""))   # NULL image: EFAULT once permitted
res["finit_module"] = call(313, -1, ctypes.c_char_p(b""), 0) # bad fd: EBADF once permitted
res["delete_module"] = call(176, ctypes.c_char_p(b"midimon_no_such_module"), 0)
res["kexec_load"] = call(246, 0, 0, 0, 0xFFFF0000)           # bad flags: EINVAL once permitted
res["mount"] = call(165, ctypes.c_char_p(b"none"), ctypes.c_char_p(cfg["missing"].encode()),
                    ctypes.c_char_p(b"tmpfs"), 0, 0)         # missing target: ENOENT once permitted
res["syslog"] = call(103, 10, 0, 0)                          # SIZE_BUFFER: the kernel log's size
res["ptrace"] = call(101, 16, cfg["victim"], 0, 0)           # PTRACE_ATTACH the victim
if res["ptrace"][0] == 0:
    call(101, 17, cfg["victim"], 0, 0)                       # detach again (control run)
res["kill"] = call(62, cfg["victim"], 0)                     # signal 0: may I signal it?
res["chmod"] = call(90, ctypes.c_char_p(cfg["rootfile"].encode()), 0o777)
res["setuid0"] = call(105, 0)
res["unshare"] = call(272, 0x10000000)                       # CLONE_NEWUSER
res["bpf"] = call(321, 0xFFFF, 0, 0)                         # bad command: EINVAL once permitted
res["socket"] = call(41, 1, 1, 0)                            # AF_UNIX stream
res["tiocsti"] = call(16, 0, 0x5412, ctypes.c_char_p(b"x"))  # push a byte into a terminal
os.write(OUT, json.dumps(res).encode() + b"\n")
import time
time.sleep(20)  # while the test reads /proc/<pid>/status (Landlock hides it from us)
"""

REFUSED = (
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "mount",
    "syslog",
    "ptrace",
    "kill",
    "chmod",
    "setuid0",
    "unshare",
    "bpf",
    "socket",
    "tiocsti",
)


def _attack(tmp_path: Path, confined: bool) -> tuple[dict[str, Any], int]:
    rootfile = tmp_path / "root-owned.conf"
    rootfile.write_text("keep\n")
    os.chmod(rootfile, 0o644)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        cfg = {
            "confine": confined,
            "victim": victim.pid,
            "rootfile": str(rootfile),
            "missing": str(tmp_path / "no-such-dir"),
        }
        proc = subprocess.Popen([sys.executable, "-c", ATTACKS, json.dumps(cfg)], stdout=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line, "the attacker process died"
            result = json.loads(line)
            result["status"] = Path(f"/proc/{proc.pid}/status").read_text()
        finally:
            proc.kill()
            proc.wait()
        mode = stat.S_IMODE(rootfile.stat().st_mode)
        assert victim.poll() is None, "the victim process died"
        return result, mode
    finally:
        victim.kill()
        victim.wait()


def _status(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def test_control_unconfined_root_passes_every_permission_check(tmp_path: Path) -> None:
    """Without confinement the same calls get past the permission check (so the test can fail)."""
    result, mode = _attack(tmp_path, confined=False)
    assert result["reboot"] == [-1, errno.EINVAL]
    assert result["mount"] == [-1, errno.ENOENT]
    assert result["kill"] == [0, 0]
    assert result["chmod"] == [0, 0] and mode == 0o777
    assert result["syslog"][0] > 0 or result["syslog"][1] != errno.EPERM
    assert result["uid"] == 0


def test_confined_worker_of_a_root_daemon_is_refused_all_of_it(tmp_path: Path) -> None:
    result, mode = _attack(tmp_path, confined=True)
    assert {"capbset", "ambient", "uid65534", "caps", "seccomp"} <= set(result["applied"])
    refused = {name: result[name] for name in REFUSED}
    assert all(r == [-1, errno.EPERM] for r in refused.values()), refused
    assert mode == 0o644, "chmod of a root-owned file took effect"
    status = _status(result["status"])
    assert status["Uid"].split() == ["65534"] * 4 and status["Gid"].split() == ["65534"] * 4
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[key], 16) == 0, (key, status[key])
    assert status["Seccomp"] == "2" and status["NoNewPrivs"] == "1"


def test_allow_list_is_an_allow_list() -> None:
    """The filter allows what is listed and nothing it does not name: every refused call of the
    attack list is absent, and the program ends in a refusal, not an allow."""
    _, numbers = syscalls.TABLES["x86_64"]
    for name in ("reboot", "init_module", "kexec_load", "mount", "ptrace", "syslog", "kill", "socket", "execve"):
        assert name not in syscalls.ALLOWED
    assert set(syscalls.ALLOWED) >= {"read", "write", "recvfrom", "sendto", "mmap", "exit_group"}
    assert all(name in numbers for name in syscalls.ALLOWED)
    prog = syscalls.program("x86_64")
    assert len(prog) < 255 and all(len(i) == 8 for i in prog)


def test_root_worker_still_works_after_dropping_root(tmp_path: Path) -> None:
    """Canary: lazy codec imports and local time still work as uid 65534 (the zygote preloads
    the codecs; the library under /root is not readable by nobody)."""
    script = (
        "import json, os, sys, time\n"
        "OUT = os.dup(1)\n"
        "from midimon.sandbox import confine\n"
        "applied = confine.apply((OUT,))\n"
        "os.write(OUT, json.dumps([applied, 'é'.encode('cp1252').hex(), time.localtime().tm_year > 2000]).encode())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    applied, codec, clock = json.loads(proc.stdout)
    assert "uid65534" in applied and codec == "e9" and clock is True
    assert confine.landlock_abi() == 0 or any(s.startswith("landlock") for s in applied)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat_line = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat_line.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def test_workers_of_a_real_root_daemon_keep_nothing_of_root(home: Path) -> None:
    """Through `midimon run` as root: the worker that runs the plugin has uid/gid 65534, no
    capability in any set, seccomp on, while the daemon itself is still root."""
    from testkit.daemon import DaemonProcess
    from testkit.jack import wait_for

    plugins = home / "plugins"
    plugins.mkdir()
    (plugins / "idle.py").write_text('"""Does nothing."""\ndef execute(params, context):\n    return 1\n')
    config = (
        '[[modes]]\nname = "Play"\n[[modes.mappings]]\ntrigger = { type = "Note", note = 36 }\n'
        'action = { type = "Plugin", plugin = "idle" }\n'
    )
    d = DaemonProcess(home, config)
    try:
        d.wait_log("plugin idle: version", timeout=30)
        d.wait_log("control socket", timeout=30)

        def workers() -> list[int]:
            return [w for z in _children(d.proc.pid) for w in _children(z)]

        pids = wait_for(workers, 20, what="a worker process of the daemon")
        for pid in pids:
            status = _status(Path(f"/proc/{pid}/status").read_text())
            assert status["Uid"].split() == ["65534"] * 4, status["Uid"]
            assert all(int(status[k], 16) == 0 for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")), status
            assert status["Seccomp"] == "2"
        assert _status(Path(f"/proc/{d.proc.pid}/status").read_text())["Uid"].split()[0] == "0"
    finally:
        d.stop()
