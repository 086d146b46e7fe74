"""Red team: what a plugin could do *after* getting out of RestrictedPython inside its worker.

Before ``confine.py`` the worker was an ordinary process of the daemon's user: it could read and
write the user's files, open any socket (the daemon's control socket, the X server, D-Bus), kill
the daemon, fork, exec, and read the daemon's environment (tokens) from /proc/self/environ,
where ``os.environ.clear()`` does not reach. These tests run the escaped attacker's actions in a
process confined exactly as a worker confines itself, and check each effect on the host side.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from midimon.sandbox import Limits, PluginHost, PluginTimeout, confine, spawner

SECRET = "s3cr3t-token-redteam-os"

#: Runs as the escaped plugin would: unrestricted Python in a (maybe) confined worker process.
ESCAPED = r"""
import json, os, socket, sys
cfg = json.loads(sys.argv[1])
OUT = os.dup(1)
from midimon.sandbox import confine
applied = confine.apply((OUT,)) if cfg["confine"] else []
res = {"applied": applied}
def attempt(name, f):
    try:
        res[name] = ["ok", repr(f())[:200]]
    except BaseException as e:
        res[name] = ["fail", type(e).__name__]
attempt("read_secret", lambda: open(cfg["secret"]).read())
attempt("write_marker", lambda: open(cfg["marker"], "w").write("pwned"))
attempt("truncate", lambda: open(cfg["secret2"], "w").close())
attempt("tcp", lambda: socket.create_connection(("127.0.0.1", cfg["port"]), timeout=2)
        .sendall(b"GET /escaped HTTP/1.0\r\n\r\n"))
attempt("unix", lambda: socket.socket(socket.AF_UNIX).connect(cfg["unix"]))
attempt("kill", lambda: os.kill(cfg["victim"], 9))
attempt("environ", lambda: open("/proc/%d/environ" % cfg["victim"], "rb").read())
def fork():
    pid = os.fork()
    if pid == 0:
        open(cfg["marker"] + ".child", "w").write("x")
        os._exit(0)
    return os.waitpid(pid, 0)
attempt("fork", fork)
attempt("localtime", lambda: __import__("time").localtime().tm_year)
attempt("codec", lambda: "\u00e9".encode("cp1252"))
os.write(OUT, json.dumps(res).encode())
os.execv("/bin/sh", ["sh", "-c", "touch " + cfg["marker"] + ".exec"])  # last: replaces us
"""


def _needs_full_confinement() -> None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("OS confinement is implemented for Linux x86_64/aarch64")
    if confine.landlock_abi() < 6:
        pytest.skip("this kernel has no Landlock ABI 6 (file, TCP and signal scoping)")


def _run_escaped(tmp_path: Path, port: int, confined: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    secret2 = tmp_path / "precious.txt"
    secret2.write_text("keep me")
    marker = tmp_path / "pwned"
    unix_path = str(tmp_path / "control.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(unix_path)
    listener.listen()
    listener.setblocking(False)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env={"VICTIM_TOKEN": SECRET})
    try:
        cfg = {
            "confine": confined,
            "secret": str(secret),
            "secret2": str(secret2),
            "marker": str(marker),
            "port": port,
            "unix": unix_path,
            "victim": victim.pid,
        }
        proc = subprocess.run([sys.executable, "-c", ESCAPED, json.dumps(cfg)], capture_output=True, timeout=30)
        result = json.loads(proc.stdout or b"{}")
        try:
            conn, _ = listener.accept()
            conn.close()
            unix_contacted = True
        except BlockingIOError:
            unix_contacted = False
        time.sleep(0.05)
        effects = {
            "marker": marker.exists() or Path(f"{marker}.child").exists() or Path(f"{marker}.exec").exists(),
            "precious": secret2.read_text(),
            "unix_contacted": unix_contacted,
            "victim_alive": victim.poll() is None,
            "output": proc.stdout.decode("utf-8", "replace"),
        }
        return result, effects
    finally:
        listener.close()
        if victim.poll() is None:
            victim.kill()
        victim.wait()


def test_escaped_worker_without_confinement_owns_the_user(tmp_path: Path, server: Any) -> None:
    """Control: the same attacker in an unconfined process reaches everything."""
    result, effects = _run_escaped(tmp_path, server.port, confined=False)
    assert SECRET in effects["output"]
    assert effects["marker"] and effects["precious"] == ""
    assert Path(tmp_path / "pwned.exec").exists()
    assert "/escaped" in " ".join(server.hits) or server.hits
    assert effects["unix_contacted"]
    assert not effects["victim_alive"]


def test_redteam_escaped_worker_is_confined(tmp_path: Path, server: Any) -> None:
    _needs_full_confinement()
    result, effects = _run_escaped(tmp_path, server.port, confined=True)
    assert {"fds", "rlimits", "no_new_privs", "not_dumpable", "seccomp"} <= set(result["applied"])
    assert SECRET not in effects["output"], "read a file of the user, or the daemon's environ"
    assert not effects["marker"], "wrote a file, or forked/exec'd a program that did"
    assert effects["precious"] == "keep me", "truncated a file of the user"
    assert server.hits == [], "contacted a local TCP service"
    assert not effects["unix_contacted"], "connected to a Unix socket (control socket, X, D-Bus)"
    assert effects["victim_alive"], "killed another process of the user"
    # ...while what plugins legitimately use still works: time zones and lazy codec imports.
    assert result["localtime"][0] == "ok" and result["codec"] == ["ok", "b'\\xe9'"]


def _status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def test_redteam_real_worker_applies_confinement(make_host: Callable[..., PluginHost]) -> None:
    """The worker a plugin really runs in is confined before plugin code exists: no inherited
    descriptor but its socket, stdout/stderr not the daemon's, no new privileges, seccomp on."""
    host = make_host("def f():\n    return 1\n")
    assert host.call("f") == 1
    pid = host.state["pid"]
    status = _status(pid)
    assert status["NoNewPrivs"] == "1"
    if platform.machine() in ("x86_64", "aarch64"):
        assert status["Seccomp"] == "2"
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert all(fds[fd] == "/dev/null" for fd in (0, 1, 2)), fds
    assert [t for fd, t in fds.items() if fd > 2 and not t.startswith("socket:")] == []
    assert len([t for t in fds.values() if t.startswith("socket:")]) == 1
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert any(line.startswith("Max file size") and line.split()[3] == "0" for line in limits.splitlines())
    assert os.readlink(f"/proc/{pid}/cwd") == "/"


def test_redteam_worker_environ_has_no_daemon_secrets(
    make_host: Callable[..., PluginHost], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.environ.clear()`` left the daemon's variables in /proc/self/environ (the start-up
    environment block), readable by an escaped worker; the zygote now starts without them."""
    monkeypatch.setenv("MIDIMON_REDTEAM_TOKEN", SECRET)
    spawner.shutdown()  # the next worker comes from a zygote started with the secret set
    try:
        host = make_host("def f():\n    return 1\n")
        assert host.call("f") == 1
        worker_env = Path(f"/proc/{host.state['pid']}/environ").read_bytes()
        zygote_env = Path(f"/proc/{spawner._zygote.pid}/environ").read_bytes()
        assert SECRET.encode() not in worker_env
        assert SECRET.encode() not in zygote_env
    finally:
        host.stop()
        spawner.shutdown()


def test_redteam_confined_worker_is_still_killed_on_timeout(make_host: Callable[..., PluginHost]) -> None:
    """Canary for the kill path: signal scoping stops signals *out of* the worker, not the
    host's SIGKILL into it; a looping plugin is still stopped and the next call works."""
    host = make_host(
        "def spin():\n    while True:\n        pass\ndef ok():\n    return 2\n", limits=Limits(call_timeout=0.5)
    )
    pid = host.state["pid"]
    with pytest.raises(PluginTimeout):
        host.call("spin")
    assert not Path(f"/proc/{pid}").exists() or "zombie" in _status(pid).get("State", "")
    assert host.call("ok") == 2
