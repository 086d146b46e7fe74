"""A threaded http.server on 127.0.0.1:0 that records requests and answers from ``route``."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

#: route(method, path, headers, body) -> (status, JSON payload or None, extra headers)
Answer = tuple[int, Any, dict[str, str]]


class _Handler(http.server.BaseHTTPRequestHandler):
    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        fake: FakeServer = self.server.fake  # type: ignore[attr-defined]
        request = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        with fake.lock:
            fake.requests.append(request)
            status, payload, extra = fake.route(self.command, self.path, dict(self.headers), body)
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


class FakeServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def route(self, method: str, path: str, headers: dict[str, str], body: str) -> Answer:
        return 404, {"error": "not found"}, {}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
