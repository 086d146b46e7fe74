"""Helpers for the plugin tests (fixtures are in conftest.py)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

MIDIMON = str(Path(sys.executable).with_name("midimon"))


def write(path: Path, text: str) -> Path:
    """Save like an editor: a temporary file renamed over the target (atomic)."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def cli(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "MIDIMON_HOME": str(home)}
    env.pop("XDG_RUNTIME_DIR", None)
    proc = subprocess.run([MIDIMON, *args], env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"midimon {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def cli_json(*args: str, home: Path, check: bool = True) -> dict:
    proc = cli(*args, "--json", home=home, check=check)
    return json.loads(proc.stdout)


def store_of(home: Path, plugin: str) -> dict:
    try:
        return json.loads((home / "plugins-data" / plugin / "store.json").read_text())
    except (OSError, ValueError):
        return {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder(http.server.BaseHTTPRequestHandler):
    """Records every request (method, path, headers, body) and answers from a route table."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers),
                "body": body.decode("utf-8", "replace"),
            }
        )
        status, payload = self.server.route(self.command, self.path)
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


class LocalServer:
    def __init__(self, route=None) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.httpd.requests = []
        self.httpd.route = route or (lambda method, path: (200, {"ok": True}))
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def requests(self) -> list[dict]:
        return self.httpd.requests

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeSpotify(LocalServer):
    """The Spotify Web API endpoints spotipy calls for the player controls. Checks the bearer
    token (401 otherwise) and answers 404 NO_ACTIVE_DEVICE when ``active_device`` is False."""

    def __init__(self, token: str = "tok") -> None:
        self.token = token
        self.active_device = True
        self.player = {"is_playing": False, "volume": 50, "track": 0}
        tracks = ["Blue in Green", "So What", "Freddie Freeloader"]

        def error(status: int, message: str, reason: str | None = None):
            body = {"status": status, "message": message}
            if reason:
                body["reason"] = reason
            return status, {"error": body}

        def route(method: str, path: str):
            base, _, query = path.partition("?")
            args = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            # requests are answered one at a time in these tests: the last recorded is this one
            if self.requests[-1]["headers"].get("Authorization") != f"Bearer {self.token}":
                return error(401, "Invalid access token")
            p = self.player
            if method == "GET" and base == "/v1/me/player/currently-playing":
                return 200, {
                    "is_playing": p["is_playing"],
                    "item": {
                        "name": tracks[p["track"]],
                        "type": "track",
                        "uri": f"spotify:track:t{p['track']}",
                        "artists": [{"name": "Miles Davis"}],
                    },
                }
            if method == "GET" and base == "/v1/me/player/devices":
                return 200, {
                    "devices": [
                        {
                            "id": "dev1",
                            "name": "Desk",
                            "type": "Computer",
                            "is_active": self.active_device,
                            "volume_percent": p["volume"],
                        }
                    ]
                }
            commands = {
                ("PUT", "/v1/me/player/play"),
                ("PUT", "/v1/me/player/pause"),
                ("POST", "/v1/me/player/next"),
                ("POST", "/v1/me/player/previous"),
                ("PUT", "/v1/me/player/volume"),
            }
            if (method, base) not in commands:
                return error(404, "Service not found")
            if not self.active_device:
                return error(404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE")
            if base.endswith("/play"):
                p["is_playing"] = True
            elif base.endswith("/pause"):
                p["is_playing"] = False
            elif base.endswith("/next"):
                p["track"] = (p["track"] + 1) % len(tracks)
            elif base.endswith("/previous"):
                p["track"] = (p["track"] - 1) % len(tracks)
            else:
                p["volume"] = int(args.get("volume_percent", p["volume"]))
            return 204, None

        super().__init__(route)
