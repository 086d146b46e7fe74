"""What every route shares: the home, the daemon client, the staging folder, the guard's settings."""

from __future__ import annotations

from dataclasses import dataclass

from midimon.config.home import Home
from midimon.engine.ui.daemon import DaemonClient
from midimon.engine.ui.guards import GuardConfig
from midimon.engine.ui.staging import Staging


@dataclass
class UIContext:
    home: Home
    daemon: DaemonClient
    staging: Staging
    guard: GuardConfig

    @classmethod
    def build(cls, home: Home, token: str, port: int = 0) -> UIContext:
        return cls(home, DaemonClient(home.socket), Staging(home), GuardConfig(token=token, port=port))
