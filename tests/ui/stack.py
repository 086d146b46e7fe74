"""A real `midimon run` and a real `midimon ui` on one home, for the browser tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from testkit.daemon import DaemonProcess
from testkit.jack import wait_for

EXE = str(Path(sys.executable).with_name("midimon"))


def env_for(home: Path) -> dict[str, str]:
    env = {**os.environ, "MIDIMON_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def cli(home: Path, *args: str, timeout: float = 30.0) -> Any:
    """Run `midimon ARGS --json` and return its one JSON document."""
    out = subprocess.run([EXE, *args, "--json"], env=env_for(home), capture_output=True, text=True, timeout=timeout)
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise AssertionError(f"midimon {' '.join(args)} printed no JSON:\n{out.stdout}\n{out.stderr}") from None


class UIProcess:
    def __init__(self, home: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [EXE, "ui", "--port", "0", "--no-browser", *args],
            env=env_for(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        line = wait_for(lambda: next((l for l in self.lines if l.startswith("midimon ui: ")), None), 20, what="UI URL")
        self.url = line.split("midimon ui: ", 1)[1].strip()
        self.base = self.url.split("/?token=")[0]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Stack:
    def __init__(self, home: Path, config_text: str) -> None:
        self.home = home
        self.daemon = DaemonProcess(home, config_text)
        self.daemon.wait_log("control socket", timeout=30)
        self.ui = UIProcess(home)

    def info(self, name: str) -> Any:
        return cli(self.home, "plugins", "info", name)

    def send(self, *fields: str) -> None:
        subprocess.run([EXE, "send", *fields], env=env_for(self.home), check=True, capture_output=True, timeout=20)

    def close(self) -> None:
        self.ui.stop()
        self.daemon.stop()
