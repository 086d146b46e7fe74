"""`midimon ui`: the printed URL, the kept token, loopback only, and its errors. No browser."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import httpx
from stack import EXE, UIProcess, env_for


def test_the_url_is_printed_and_the_same_on_a_second_run(tmp_path: Path):
    first = UIProcess(tmp_path)
    try:
        assert first.url.startswith("http://127.0.0.1:") and "/?token=" in first.url
        token_file = tmp_path / "run" / "ui-token"
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        assert first.url.endswith(token_file.read_text().strip())
        # the page works with that URL, and the server answers that the daemon is down
        with httpx.Client(follow_redirects=True) as c:
            assert c.get(first.url).status_code in (200, 503)  # 503: the front end is not built
            info = c.get(f"{first.base}/api/ui").json()["result"]
        assert info["daemon"]["up"] is False and "midimon run" in info["daemon"]["message"]
    finally:
        first.stop()
    second = UIProcess(tmp_path)
    try:
        assert second.url.split("/?token=")[1] == first.url.split("/?token=")[1]
    finally:
        second.stop()


def test_it_listens_on_loopback_only(tmp_path: Path):
    ui = UIProcess(tmp_path)
    try:
        port = int(ui.base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
        for addr in addrs - {"127.0.0.1"}:
            if addr.startswith("127."):
                continue
            s = socket.socket()
            s.settimeout(2)
            try:
                assert s.connect_ex((addr, port)) != 0, f"reachable on {addr}"
            finally:
                s.close()
    finally:
        ui.stop()


def test_a_port_in_use_is_said_plainly(tmp_path: Path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        out = subprocess.run(
            [EXE, "ui", "--port", str(port), "--no-browser", "--json"],
            env=env_for(tmp_path),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        busy.close()
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["ok"] is False and f"127.0.0.1:{port}" in doc["error"] and "--port" in doc["error"]
    assert "Traceback" not in out.stderr
