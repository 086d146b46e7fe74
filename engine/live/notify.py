"""Desktop notifications, through ``notify-send`` where it exists: the one helper that sends them.

Only a failed reload, the first good one after a failure, and a plugin version that failed to
load make a notification: a notification for every save would be noise. The plugin system
(``plugins/``) never notifies by itself: it publishes ``plugin_error`` on the change feed, and
:meth:`Notifier.on_change`, a feed listener, turns that into a notification here.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from typing import TYPE_CHECKING, Any

from midimon.sandbox.text import printable

if TYPE_CHECKING:
    from midimon.engine.feed import Change

log = logging.getLogger("midimon.notify")


def notify(title: str, body: str, *, urgency: str = "normal", command: str | None = None) -> bool:
    """Show a desktop notification without waiting for it; False when there is no notifier.

    ``notify-send`` can hang on a session bus that does not answer, so it runs on its own
    thread with a deadline; a failure is only logged at debug level: a missing notification
    must never disturb the daemon.
    """
    exe = command or shutil.which("notify-send")
    if not exe:
        return False
    argv = [exe, "--app-name=midimon", f"--urgency={urgency}", title, body]

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
    return True


def first_problem(outcome: dict[str, Any]) -> str:
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
        self._plugin_errors: dict[str, str] = {}  # plugin -> the error last notified
        self.sent = 0

    def on_reload(self, outcome: dict[str, Any]) -> None:
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

    def on_change(self, change: Change) -> None:
        """A change feed listener: a plugin version that failed to load is worth a notification."""
        if change.kind == "plugin" and not change.data.get("error") and not change.data.get("failed_version"):
            self._plugin_errors.pop(str(change.data.get("name")), None)  # fixed: a new break is news
            return
        if change.kind != "plugin_error":
            return
        name = str(change.data.get("plugin") or "?")
        error = change.data.get("error") or {}
        text = str(error.get("text") or error.get("message") or "unknown error")
        if self._plugin_errors.get(name) == text:
            return  # the same broken file saved again: once is enough
        self._plugin_errors[name] = text
        keeps = "The previous version keeps running.\n" if error.get("keeps_previous_version") else ""
        # the plugin's name and error text are the plugin's words: shown, never interpreted
        self.send(
            f"midimon: plugin {printable(name)} not loaded",
            keeps + printable(text, keep_newlines=True),
            urgency="critical",
        )

    def send(self, title: str, body: str, urgency: str = "normal") -> None:
        if not self.command:
            return
        self.sent += 1
        notify(title, body, urgency=urgency, command=self.command)
