"""Fakes of Spotify's accounts service (authorize, token with PKCE verification, refresh) and of
the Web API endpoints the spotify plugin uses. The Web API accepts exactly the access tokens the
accounts fake issued and has not expired (``expire_tokens()`` ends them early, like a revoke)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse
from typing import Any

from .base import Answer, FakeServer


def _form(body: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}


class FakeAccounts(FakeServer):
    def __init__(self, client_id: str = "test-client", expires_in: int = 3600) -> None:
        self.client_id = client_id
        self.expires_in = expires_in
        self.codes: dict[str, dict[str, str]] = {}  # code -> challenge, redirect_uri, scope
        self.refresh_tokens: set[str] = set()
        self.access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self.refreshes = 0
        self.exchanges = 0
        super().__init__()

    def expire_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    def valid(self, token: str) -> bool:
        with self.lock:
            return self.access_tokens.get(token, 0) > time.time()

    def _issue(self, scope: str) -> dict[str, Any]:
        access, refresh = "at-" + secrets.token_hex(8), "rt-" + secrets.token_hex(8)
        self.access_tokens[access] = time.time() + self.expires_in
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "scope": scope,
        }

    def route(self, method: str, path: str, headers: dict[str, str], body: str) -> Answer:
        base, _, query = path.partition("?")
        if method == "GET" and base == "/authorize":
            q = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
            if q.get("client_id") != self.client_id or q.get("response_type") != "code":
                return 400, {"error": "invalid_client"}, {}
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return 400, {"error": "invalid_request", "error_description": "PKCE S256 required"}, {}
            code = "code-" + secrets.token_hex(8)
            self.codes[code] = {
                "challenge": q["code_challenge"],
                "redirect_uri": q["redirect_uri"],
                "scope": q.get("scope", ""),
            }
            where = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q.get("state", "")})
            return 302, None, {"Location": where}
        if method == "POST" and base == "/api/token":
            f = _form(body)
            if f.get("client_id") != self.client_id:
                return 400, {"error": "invalid_client"}, {}
            if f.get("grant_type") == "authorization_code":
                grant = self.codes.pop(f.get("code", ""), None)
                if grant is None or grant["redirect_uri"] != f.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}, {}
                digest = hashlib.sha256(f.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                    return 400, {"error": "invalid_grant", "error_description": "code_verifier was incorrect"}, {}
                self.exchanges += 1
                return 200, self._issue(grant["scope"]), {}
            if f.get("grant_type") == "refresh_token":
                old = f.get("refresh_token", "")
                if old not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}, {}
                self.refreshes += 1
                self.refresh_tokens.discard(old)  # rotated, as Spotify may do
                return 200, self._issue("user-modify-playback-state"), {}
            return 400, {"error": "unsupported_grant_type"}, {}
        return 404, {"error": "not found"}, {}


class FakeWebApi(FakeServer):
    TRACKS = ("Blue in Green", "So What", "Freddie Freeloader")

    def __init__(self, accounts: FakeAccounts, playlists: dict[str, str] | None = None) -> None:
        self.accounts = accounts
        self.player: dict[str, Any] = {"is_playing": False, "volume": 50, "track": 0, "context": None}
        self.playlists = playlists or {"Morning Jazz": "spotify:playlist:37i9dQZF1DX0SM0LYsmbMT"}
        super().__init__()

    def route(self, method: str, path: str, headers: dict[str, str], body: str) -> Answer:
        import json

        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not self.accounts.valid(auth[7:]):
            return 401, {"error": {"status": 401, "message": "The access token expired"}}, {}
        base, _, query = path.partition("?")
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        p = self.player
        if method == "GET" and base == "/v1/me/player/currently-playing":
            item = {
                "name": self.TRACKS[p["track"]],
                "type": "track",
                "uri": f"spotify:track:t{p['track']}",
                "artists": [{"name": "Miles Davis"}],
                "album": {"name": "Kind of Blue"},
            }
            return 200, {"is_playing": p["is_playing"], "item": item}, {}
        if method == "GET" and base == "/v1/me/player/devices":
            device = {"id": "dev1", "name": "Desk", "type": "Computer", "is_active": True}
            return 200, {"devices": [{**device, "volume_percent": p["volume"]}]}, {}
        if method == "GET" and base == "/v1/me/playlists":
            items = [{"name": n, "uri": u, "id": u.rsplit(":", 1)[-1]} for n, u in self.playlists.items()]
            return 200, {"items": items, "next": None}, {}
        if method == "PUT" and base == "/v1/me/player/play":
            p["is_playing"] = True
            if body:
                p["context"] = json.loads(body).get("context_uri")
            return 204, None, {}
        if method == "PUT" and base == "/v1/me/player/pause":
            p["is_playing"] = False
            return 204, None, {}
        if method == "POST" and base in ("/v1/me/player/next", "/v1/me/player/previous"):
            p["track"] = (p["track"] + (1 if base.endswith("next") else -1)) % len(self.TRACKS)
            return 204, None, {}
        if method == "PUT" and base == "/v1/me/player/volume":
            p["volume"] = int(q.get("volume_percent", p["volume"]))
            return 204, None, {}
        return 404, {"error": {"status": 404, "message": "Service not found"}}, {}
