"""``shell``: run a declared executable with an argv list; no shell, timeout, capped output."""

from __future__ import annotations

import os
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any, ClassVar

from .. import commands
from ..errors import CapabilityFailed
from .base import Capability, require_str

MAX_OUTPUT = 64 * 1024
DEFAULT_TIMEOUT = 10.0
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


def resolve_executable(name: str) -> str | None:
    """Absolute real path of an executable, resolving symlinks, or None."""
    if "/" in name:
        path = name if os.path.isabs(name) else None
    else:
        path = shutil.which(name, path=os.environ.get("PATH") or SAFE_PATH)
    if not path:
        return None
    real = os.path.realpath(path)
    return real if os.path.isfile(real) and os.access(real, os.X_OK) else None


class ShellCapability(Capability):
    obj_name = "shell"
    capability = "subprocess"
    methods: ClassVar[frozenset[str]] = frozenset({"run"})

    def _allowed_executable(self, args: list[str]) -> str:
        """The real path to run, if some allow pattern fits the whole argv and no deny does."""
        argv0 = args[0]
        wanted = resolve_executable(argv0)
        if wanted is None:
            raise self.deny("run", argv0, "no such executable")

        def fits(entries: tuple[str, ...]) -> bool:
            for entry in entries:
                try:
                    pattern = commands.parse(entry)
                except commands.PatternError:
                    continue  # an unreadable entry never allows (nor, alone, denies) anything
                if commands.same_program(pattern, argv0, resolve_executable) and commands.args_match(pattern, args[1:]):
                    return True
            return False

        if fits(self.ctx.grants.deny.commands):
            raise self.deny("run", shlex.join(args)[:300], "command is explicitly denied")
        if not fits(self.ctx.grants.allow.commands):
            raise self.deny("run", shlex.join(args)[:300], f"command is {self.scope_hint('commands')}")
        return wanted

    def run(self, argv: Any, timeout: Any = None, input: Any = None) -> dict[str, Any]:
        if not isinstance(argv, list) or not argv:
            raise TypeError(
                "shell.run() takes a non-empty list of strings (no shell command "
                "lines: pass ['git', 'status'], not 'git status')"
            )
        args = [require_str(a, "argument", 32768) for a in argv]
        executable = self._allowed_executable(args)
        stdin = require_str(input, "input", MAX_OUTPUT).encode("utf-8") if input is not None else None
        budget = self.ctx.remaining(timeout, DEFAULT_TIMEOUT)
        # A fresh, empty HOME and working directory per run, outside the plugin's data folder:
        # a program must never read a config file the plugin wrote (.gitconfig with
        # core.fsmonitor, .git/config of a repo in the working directory, .npmrc...), unless
        # the user granted exactly that (--scope data_home=true; never a default).
        grants = self.ctx.grants
        in_data = grants.allow.data_home and not grants.deny.data_home
        if in_data:
            home = str(self.ctx.data_dir / "files")
            os.makedirs(home, exist_ok=True)
        else:
            # Beside the plugins' data folders, in none of them: no plugin's fs root reaches it
            # (a shared /tmp would, for a plugin granted write_paths = /tmp).
            parent = self.ctx.data_dir.parent / ".command-homes"
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            home = tempfile.mkdtemp(prefix=f"{self.ctx.plugin}-", dir=parent)
        env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "HOME": home, "TMPDIR": home, "XDG_CONFIG_HOME": home}
        if not in_data:
            # git looks for a repository in every parent of its working directory: not here
            env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(home)
        try:
            return self._run_in(args, executable, stdin, budget, home, env)
        finally:
            if not in_data:
                shutil.rmtree(home, ignore_errors=True)

    def _run_in(
        self, args: list[str], executable: str, stdin: bytes | None, budget: float, home: str, env: dict[str, str]
    ) -> dict[str, Any]:
        try:
            proc = subprocess.Popen(
                args,
                executable=executable,
                cwd=home,
                env=env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise CapabilityFailed(f"shell.run: cannot start {args[0]!r}: {exc.strerror}") from None
        out, err, timed_out, truncated = self._collect(proc, stdin, budget)
        self.audit("run", "allowed", " ".join(args)[:300], f"rc={proc.returncode} timed_out={timed_out}")
        return {
            "returncode": proc.returncode,
            "stdout": out.decode("utf-8", "replace"),
            "stderr": err.decode("utf-8", "replace"),
            "timed_out": timed_out,
            "truncated": truncated,
        }

    def _collect(
        self, proc: subprocess.Popen[bytes], stdin: bytes | None, budget: float
    ) -> tuple[bytes, bytes, bool, bool]:
        # The deadline starts before stdin is written, and stdin is written without blocking
        # inside the same loop: a program that never reads its input (64 KiB fills the pipe)
        # made a blocking write outlast the call's deadline by minutes.
        deadline = time.monotonic() + budget
        assert proc.stdout is not None and proc.stderr is not None  # both are PIPE
        buffers = {proc.stdout: bytearray(), proc.stderr: bytearray()}
        timed_out = truncated = False
        pending = memoryview(stdin or b"")
        with selectors.DefaultSelector() as sel:
            for stream in buffers:
                sel.register(stream, selectors.EVENT_READ)
            if proc.stdin is not None:
                os.set_blocking(proc.stdin.fileno(), False)
                if pending:
                    sel.register(proc.stdin, selectors.EVENT_WRITE)
                else:
                    proc.stdin.close()
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(left):
                    if key.fileobj is proc.stdin:
                        try:
                            pending = pending[os.write(key.fd, pending[:65536]) :]
                        except BlockingIOError:
                            continue
                        except OSError:  # the program closed its input: the rest is not wanted
                            pending = pending[:0]
                        if not pending:
                            sel.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    buf = buffers[key.fileobj]  # type: ignore[index]
                    buf += chunk[: max(0, MAX_OUTPUT - len(buf))]
                    if len(buf) >= MAX_OUTPUT:
                        truncated = True
                if truncated:
                    break
        if not (timed_out or truncated) and not _exited(proc.pid, deadline):
            timed_out = True
        # The whole process group, always: a child the command started (``sleep 999 &``) must
        # not outlive the call, so a plugin never has more than its one subprocess at once.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        for stream in buffers:
            stream.close()
        return bytes(buffers[proc.stdout]), bytes(buffers[proc.stderr]), timed_out, truncated


def _exited(pid: int, deadline: float) -> bool:
    """Wait until ``pid`` exits or the deadline passes, without reaping it: while it is a zombie
    its process group id cannot be reused, so the ``killpg`` that follows reaches only its own."""
    delay = 0.001
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.02)
