"""Every request passes here first: the defences of a UI that a local daemon serves.

- Host allow-list (127.0.0.1, localhost, [::1], with our port): a DNS-rebinding page that makes
  ``evil.example`` resolve to 127.0.0.1 sends ``Host: evil.example`` and is refused.
- The token: ``?token=`` on any page is traded for an HttpOnly, SameSite=Strict cookie and a
  redirect to the same URL without it; every page, API call and stream needs the cookie.
- State-changing requests (anything but GET/HEAD) need a same-origin ``Origin`` and the custom
  header ``X-Midimon-UI``: a cross-site HTML form can set neither, and a cross-site ``fetch``
  that sets the header is preflighted, which this server never approves. Streams refuse a
  foreign Origin and cross-site fetch metadata too.
- Every answer carries the CSP and friends, so a script that slipped in could not load or
  frame anything.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_HEADER = "x-midimon-ui"
COOKIE_PREFIX = "midimon_ui_"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD"})
STREAM_PATHS = ("/api/events", "/api/monitor")
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


@dataclass
class GuardConfig:
    token: str
    port: int = 0  # set once the socket is bound (``--port 0`` learns it then)
    refused: dict[str, int] = field(default_factory=dict)  # reason -> count, shown in /api/ui

    @property
    def cookie_name(self) -> str:
        # cookies ignore ports: two UIs on one machine must not overwrite each other's
        return f"{COOKIE_PREFIX}{self.port}"

    def allowed_hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in LOOPBACK_NAMES}

    def allowed_origins(self) -> set[str]:
        return {f"http://{host}" for host in self.allowed_hosts()}


class Guard:
    def __init__(self, app: ASGIApp, config: GuardConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # no websockets here
        headers = _headers(scope)
        refusal = self._check(scope, headers)
        if refusal is not None:
            status, code, message = refusal
            self.config.refused[code] = self.config.refused.get(code, 0) + 1
            await _plain(send, status, {"ok": False, "error": {"code": code, "message": message}})
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query and scope["method"] in SAFE_METHODS:
            await self._trade_token(scope, query, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_secured)

    def _check(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        cfg = self.config
        host = headers.get("host", "")
        if host not in cfg.allowed_hosts():
            return 421, "bad_host", f"this UI answers only at 127.0.0.1:{cfg.port}, localhost or [::1]; not {host!r}"
        method = scope["method"]
        path: str = scope.get("path", "/")
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        mutating = method not in SAFE_METHODS
        if mutating or path.startswith(STREAM_PATHS):
            if origin is not None and origin not in cfg.allowed_origins():
                return 403, "bad_origin", f"requests from {origin!r} are refused"
            if fetch_site in ("cross-site", "same-site"):
                return 403, "bad_origin", "cross-site requests are refused"
        if mutating:
            if origin is None:
                return 403, "bad_origin", "a state-changing request must carry its Origin"
            if headers.get(CSRF_HEADER) != "1":
                return 403, "csrf", f"a state-changing request needs the {CSRF_HEADER} header"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query and method in SAFE_METHODS:
            if hmac.compare_digest(query["token"].encode(), cfg.token.encode()):
                return None
            return 403, "bad_token", "this token is not (or no longer) valid: open the URL `midimon ui` prints"
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:
            pass
        morsel = cookie.get(cfg.cookie_name)
        if morsel is None or not hmac.compare_digest(morsel.value.encode(), cfg.token.encode()):
            return 401, "no_token", "open the URL that `midimon ui` prints (it carries the access token)"
        return None

    async def _trade_token(self, scope: Scope, query: dict[str, str], send: Send) -> None:
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        location = scope.get("path", "/") + (f"?{rest}" if rest else "")
        cookie = f"{self.config.cookie_name}={self.config.token}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1")),
                    (b"set-cookie", cookie.encode("latin-1")),
                    (b"cache-control", b"no-store"),
                    (b"content-length", b"0"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_key, raw_value in scope.get("headers", []):
        key = raw_key.decode("latin-1").lower()
        # a second Host (or Origin) header is an attack or a broken client: keep the worst
        out[key] = "\x00conflict" if key in out and key in ("host", "origin") else raw_value.decode("latin-1")
    return out


async def _plain(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
