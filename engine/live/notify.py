"""Desktop notifications, through ``notify-send`` where it exists: the one helper that sends them.

Only a failed reload, the first good one after a failure, a plugin version that failed to
load and the first denial of each kind make a notification: a notification for every save would
be noise. The plugin system (``plugins/``) never notifies by itself: it publishes
``plugin_error`` and ``permission_request`` on the change feed, and :meth:`Notifier.on_change`,
a feed listener, turns those into notifications here.
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
        # (plugin, capability, scope) already notified: a trigger polling every 50 ms is denied
        # 20 times a second, and the user needs to read the grant command once
        self._requests: set[tuple[str, str, str]] = set()
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
        if change.kind == "permission_request":
            self._on_request(change.data)
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

    def _on_request(self, req: dict[str, Any]) -> None:
        key = (str(req.get("plugin")), str(req.get("capability")), str(req.get("scope")))
        command = req.get("command")
        if key in self._requests or not isinstance(command, str):
            return
        self._requests.add(key)
        # the command is complete as printed (issue 11 point 5): quoted whole, on its own line;
        # every part of it that the plugin chose is escaped, so it is shown, never interpreted
        self.send(
            f"midimon: plugin {printable(key[0])} needs a grant",
            f"{printable(key[2])} needs the {printable(key[1])} capability. Grant it with:\n{printable(command)}",
        )

    def send(self, title: str, body: str, urgency: str = "normal") -> None:
        if not self.command:
            return
        self.sent += 1
        notify(title, body, urgency=urgency, command=self.command)
