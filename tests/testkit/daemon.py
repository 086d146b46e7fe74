"""Run `midimon run` as a real process and read its log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from testkit.jack import wait_for


class DaemonProcess:
    def __init__(
        self, home: Path, config_text: str | None = None, env: dict | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.home = home
        self.config = home / "config.toml"
        if config_text is not None:
            self.config.write_text(config_text)
        self.lines: list[str] = []
        full_env = {**os.environ, **(env or {}), "MIDIMON_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        full_env.pop("XDG_RUNTIME_DIR", None)
        exe = Path(sys.executable).with_name("midimon")
        self.proc = subprocess.Popen(
            [str(exe), "run", *args],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_log(self, text: str, timeout: float = 15.0, start: int = 0) -> str:
        def found():
            if self.proc.poll() is not None and not any(text in l for l in self.lines[start:]):
                raise AssertionError(f"midimon exited ({self.proc.returncode}) before logging {text!r}:\n{self.log()}")
            return next((l for l in self.lines[start:] if text in l), None)

        try:
            return wait_for(found, timeout, what=f"log line {text!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- daemon log ---\n{self.log()}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # worth knowing: a JACK client killed with open ports stalls jackd
                print(
                    f"\ntestkit: midimon (pid {self.proc.pid}) did not stop within {timeout} s; killing it\n"
                    f"--- its log ---\n{self.log()[-3000:]}",
                    file=sys.stderr,
                )
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(2)
        return self.proc.returncode
