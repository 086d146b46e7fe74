"""Run a first-party plugin the way the daemon does (discovery, a real sandbox worker, the
user's grants), with the host services the tests choose."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from pluginkit import MIDIMON, free_port

from midimon.plugins import discovery
from midimon.plugins.manager import plain_context, with_defaults
from midimon.sandbox import AuditLog, Grants, HostServices, Limits, PluginHost


class Running:
    def __init__(self, host: PluginHost, audit: Path) -> None:
        self.host = host
        self.audit_path = audit

    def execute(self, params: dict[str, Any], context: dict[str, Any] | None = None) -> Any:
        return self.host.call("execute", params, plain_context(context or {}))

    def audit(self) -> list[dict[str, Any]]:
        import json

        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def first_party(
    name: str,
    home: Path,
    *,
    grants: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    services: HostServices | None = None,
) -> Iterator[Running]:
    """``grants`` is a Grants dict: {"capabilities": [...], "allow": {"hosts": [...]}}."""
    found, _ = discovery.scan(home / "plugins")
    cand = found[name]
    verified = discovery.read(cand)
    audit = home / "logs" / "audit.jsonl"
    host = PluginHost(
        name,
        verified.source,
        verified.filename,
        grants=Grants.from_dict(grants or {}),
        limits=Limits(call_timeout=5.0),
        services=services or HostServices(),
        data_dir=home / "plugins-data" / name,
        audit=AuditLog(audit),
    )
    try:
        info = host.start()
        if "initialize" in (info.get("functions") or []):
            host.call("initialize", with_defaults(settings or {}, verified.decl.config_schema))
        yield Running(host, audit)
    finally:
        host.stop()


def sign_in(home: Path, accounts: Any) -> dict:
    """Run the CLI like a user, and play the browser's part: open the printed URL, follow the
    accounts service's redirect to the CLI's loopback callback."""
    port = free_port()
    env = {**os.environ, "MIDIMON_HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    proc = subprocess.Popen(
        [MIDIMON, "plugins", "auth", "spotify", "--no-browser", "--port", str(port), "--timeout", "30", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = ""
        while not url.startswith("http"):
            line = proc.stderr.readline()
            assert line, "the CLI ended without printing the sign-in URL"
            url = line.strip()
        assert url.startswith(accounts.url + "/authorize?")
        answer = requests.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302
        callback = answer.headers["Location"]
        assert callback.startswith(f"http://127.0.0.1:{port}/callback?")
        assert requests.get(callback, timeout=10).status_code == 200
        out, _err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    return json.loads(out)
