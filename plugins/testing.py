"""Test a plugin the way the daemon runs it: in a real sandbox worker, with chosen grants.

from midimon.plugins.testing import load

def test_hello(tmp_path):
    with load("~/.midimon/plugins/hello.py", data_dir=tmp_path) as plugin:
        assert plugin.execute({"name": "Ada"}, {"note": 36}) == "hello Ada"
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from midimon.sandbox import AuditLog, Grants, Limits, PluginHost

from .discovery import Candidate, read
from .manager import plain_context


class LoadedForTest:
    def __init__(self, host: PluginHost, settings: dict[str, Any]) -> None:
        self.host = host
        self.info = host.start()
        if "initialize" in self.info.get("functions", []):
            host.call("initialize", settings)

    def execute(self, params: dict[str, Any], context: dict[str, Any] | None = None) -> Any:
        return self.host.call("execute", params, plain_context(context or {}))

    def poll_events(self) -> Any:
        return self.host.call("poll_events")

    def call(self, fn: str, *args: Any) -> Any:
        return self.host.call(fn, *args)

    @property
    def logs(self) -> list[tuple[str, str]]:
        return list(self.host.recent_logs)

    def close(self) -> None:
        if "shutdown" in (self.info.get("functions") or []):
            try:
                self.host.call("shutdown", timeout=2.0)
            except Exception:
                pass
        self.host.stop()

    def __enter__(self) -> LoadedForTest:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load(
    path: str | Path,
    *,
    grants: Grants | dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    limits: Limits | None = None,
) -> LoadedForTest:
    path = Path(path).expanduser()
    cand = Candidate(path.stem if path.is_file() else path.name, "file" if path.is_file() else "folder", path)
    verified = read(cand)
    if isinstance(grants, dict):
        grants = Grants.from_dict(grants)
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="midimon-plugin-test-"))
    host = PluginHost(
        cand.name,
        verified.source,
        verified.filename,
        grants=grants or Grants(),
        limits=limits or Limits(call_timeout=5.0),
        data_dir=data / "data",
        audit=AuditLog(data / "audit.jsonl"),
    )
    from midimon.plugins.manager import with_defaults

    return LoadedForTest(host, with_defaults(settings or {}, verified.decl.config_schema))
