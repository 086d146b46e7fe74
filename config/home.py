"""``Home``: every path midimon uses, worked out once and passed down.

``Home.from_env()`` is the only place that reads ``MIDIMON_HOME`` and ``XDG_RUNTIME_DIR`` for a
path; ``midimon run`` and the CLI call it once (``--config`` overrides the config file) and hand
the object to everything they build. Nothing else reads the environment for a path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Home:
    root: Path
    runtime: Path
    config: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, config: str | os.PathLike[str] | None = None) -> Home:
        """The home ``MIDIMON_HOME`` names (default ``~/.midimon``); the runtime folder is
        ``$XDG_RUNTIME_DIR/midimon`` or, when that is unset, ``<home>/run``."""
        env = os.environ if env is None else env
        raw = env.get("MIDIMON_HOME")
        root = Path(raw).expanduser() if raw else Path.home() / ".midimon"
        xdg = env.get("XDG_RUNTIME_DIR")
        runtime = Path(xdg) / "midimon" if xdg else root / "run"
        cfg = Path(config).expanduser() if config else root / "config.toml"
        return cls(root=root, runtime=runtime, config=cfg)

    @classmethod
    def at(cls, root: str | os.PathLike[str], *, runtime: str | os.PathLike[str] | None = None) -> Home:
        """A home rooted at ``root`` (tests, tools); the runtime folder defaults to ``root/run``."""
        r = Path(root).expanduser()
        return cls(root=r, runtime=Path(runtime) if runtime else r / "run", config=r / "config.toml")

    def with_config(self, config: str | os.PathLike[str]) -> Home:
        return replace(self, config=Path(config).expanduser())

    # -- the files and folders under the home -------------------------------------------------
    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def plugin_state(self) -> Path:
        return self.root / "plugin-state.json"

    @property
    def plugin_data(self) -> Path:
        return self.root / "plugins-data"

    def data_dir(self, plugin: str) -> Path:
        return self.plugin_data / plugin

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def trusted_keys(self) -> Path:
        return self.root / "trusted_keys"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def audit(self) -> Path:
        return self.logs / "audit.jsonl"

    @property
    def lock(self) -> Path:
        return self.root / "midimon.lock"

    # -- the runtime folder (sockets, tokens: things that die with the session) ----------------
    @property
    def socket(self) -> Path:
        return self.runtime / "midimon.sock"

    @property
    def ui_token(self) -> Path:
        return self.runtime / "ui-token"

    def to_json(self) -> dict[str, str]:
        return {
            "home": str(self.root),
            "config": str(self.config),
            "plugins": str(self.plugins),
            "state": str(self.state),
            "plugin_state": str(self.plugin_state),
            "plugin_data": str(self.plugin_data),
            "trusted_keys": str(self.trusted_keys),
            "logs": str(self.logs),
            "audit": str(self.audit),
            "runtime": str(self.runtime),
            "socket": str(self.socket),
        }
