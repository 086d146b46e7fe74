"""Desktop notifications for reload outcomes, through ``notify-send`` where it exists.

Only a failed reload, and the first good one after a failure, make a notification: a
notification for every save would be noise.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

log = logging.getLogger("midimon.notify")


def first_problem(outcome: dict) -> str:
    diags = outcome.get("diagnostics") or []
    if diags:
        d = diags[0]
        where = d.get("file") or "config"
        if d.get("line") is not None:
            where += f":{d['line']}"
        key = f" {d['path']}:" if d.get("path") else ""
        more = f" (+{len(diags) - 1} more)" if len(diags) > 1 else ""
        return f"{where}:{key} {d.get('message', '')}{more}"
    return str(outcome.get("error") or "unknown error")


class Notifier:
    def __init__(self, command: str | None = None) -> None:
        self.command = command if command is not None else shutil.which("notify-send")
        self._failing = False
        self.sent = 0

    def on_reload(self, outcome: dict) -> None:
        if outcome.get("ok") is False and outcome.get("error"):
            self._failing = True
            self.send(
                "midimon: config not loaded",
                "The previous config keeps running.\n" + first_problem(outcome),
                urgency="critical",
            )
        elif outcome.get("ok") and self._failing:
            self._failing = False
            self.send("midimon: config loaded", f"{outcome.get('mappings', '?')} mappings, mode {outcome.get('mode')}")

    def send(self, title: str, body: str, urgency: str = "normal") -> None:
        if not self.command:
            return
        self.sent += 1
        argv = [self.command, "--app-name=midimon", f"--urgency={urgency}", title, body]

        def run() -> None:
            try:
                subprocess.run(
                    argv,
                    timeout=5,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
            except Exception as exc:  # no session bus, a hung notification daemon...
                log.debug("notify-send failed: %s", exc)

        threading.Thread(target=run, name="midimon-notify", daemon=True).start()
