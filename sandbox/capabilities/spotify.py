"""``spotify``: Spotify playback control with spotipy, signed in by the host.

The access token comes from the sign-in the host keeps (``midimon plugins auth spotify``, see
spotify_tokens.py), renewed before it expires and after a 401; a token the plugin configures
itself is still used when nobody signed in (the old way).

It is part of ``network``: every call checks the grant and that the API base is in the plugin's
``hosts`` scope (normalised exactly like ``http``), at the moment of the call. spotipy makes the
request through a session that only talks to that checked origin: the environment (proxies,
.netrc) is ignored, redirects are refused, retries are off and the answer is capped. Only plain
data crosses back; a Spotify error becomes one sentence with the status code and the reason.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, ClassVar

import requests
import spotipy

from ..errors import CapabilityFailed, ServiceUnavailable
from ..text import printable
from .base import Capability, CapabilityContext, require_str
from .scopes import Origin, ScopeError, origin_allowed, parse_url
from .spotify_session import OneOriginSession as _OneOriginSession
from .spotify_session import Refused as _Refused
from .spotify_tokens import DEFAULT_ACCOUNTS_BASE, SecretStore, SignInNeeded, SpotifyTokens, refresh_with_spotipy

DEFAULT_API_BASE = "https://api.spotify.com/v1"
DEFAULT_TIMEOUT = 10.0
# spotipy pastes a device id into the URL as is: only the characters real ids use.
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ID = r"[A-Za-z0-9]{1,64}"
_ITEM_URI = re.compile(rf"spotify:(track|episode):{_ID}")
_CONTEXT_URI = re.compile(
    rf"spotify:(album|artist|playlist|show):{_ID}|"
    rf"spotify:user:[A-Za-z0-9._-]{{1,64}}:playlist:{_ID}"
)

# spotipy logs every request at DEBUG with its headers (the bearer token) and every error
# response at ERROR; the capability reports both to the plugin and the audit log instead.
logging.getLogger("spotipy.client").addFilter(lambda record: False)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _track(item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    raw_album = item.get("album")
    album: dict[str, Any] = raw_album if isinstance(raw_album, dict) else {}
    raw_artists, raw_show = item.get("artists"), item.get("show")
    artists: list[Any] = raw_artists if isinstance(raw_artists, list) else []
    show: dict[str, Any] = raw_show if isinstance(raw_show, dict) else {}
    return {
        "name": _text(item.get("name")),
        "uri": _text(item.get("uri")),
        "id": _text(item.get("id")),
        "type": _text(item.get("type")),
        "duration_ms": _int(item.get("duration_ms")),
        "artists": [a["name"] for a in artists if isinstance(a, dict) and isinstance(a.get("name"), str)],
        "album": _text(album.get("name")) or _text(show.get("name")),
    }


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


class SpotifyCapability(Capability):
    obj_name = "spotify"
    capability = "network"
    methods: ClassVar[frozenset[str]] = frozenset(
        {"configure", "play", "pause", "next", "previous", "volume", "current", "devices", "playlists", "now_playing"}
    )
    #: ``configure`` only stores the plugin's token and API base for this plugin; it reaches
    #: nothing, so a plugin can call it from ``initialize`` before the user grants ``network``.
    #: Every other method checks the grant and the scope when it is called.
    without_grant: ClassVar[frozenset[str]] = frozenset({"configure"})

    def __init__(self, ctx: CapabilityContext) -> None:
        super().__init__(ctx)
        self._tokens = SpotifyTokens(self._secret_store)
        self._action = ""
        self._base_text = DEFAULT_API_BASE
        self._accounts_text = DEFAULT_ACCOUNTS_BASE
        self._client_id: str | None = None
        self._client: spotipy.Spotify | None = None
        self._session: _OneOriginSession | None = None

    # -- the plugin's surface --------------------------------------------------------------------
    def configure(
        self, access_token: Any = None, api_base: Any = None, accounts_base: Any = None, client_id: Any = None
    ) -> dict[str, Any]:
        """Set the API and accounts bases (None: Spotify's own), the app's client id (for the
        refresh), and optionally an access token of the plugin's own (None forgets it)."""
        if access_token is not None:
            access_token = require_str(access_token, "access_token", 4096)
            if not access_token or any(c.isspace() or not c.isprintable() for c in access_token):
                raise ValueError("access_token must be a non-empty token without spaces")
        base_text = DEFAULT_API_BASE if api_base is None else require_str(api_base, "api_base", 2048)
        try:
            base, _origin = self._canonical(base_text)
        except ScopeError as exc:
            raise self.deny("configure", base_text, str(exc)) from None
        accounts_text = DEFAULT_ACCOUNTS_BASE if accounts_base is None else require_str(accounts_base, "accounts_base")
        try:
            self._canonical(accounts_text)
        except ScopeError as exc:
            raise self.deny("configure", accounts_text, str(exc)) from None
        if client_id is not None:
            client_id = require_str(client_id, "client_id", 128)
        self._tokens.configured, self._base_text = access_token, base_text
        self._accounts_text, self._client_id = accounts_text, client_id or None
        signed_in = self._tokens.signed_in() is not None
        self.audit("configure", "allowed", base, "signed in" if signed_in else "not signed in")
        return {"api_base": base, "has_token": access_token is not None or signed_in, "signed_in": signed_in}

    def playlists(self, limit: Any = 200) -> list[dict[str, Any]]:
        """The user's playlists (name, uri, id), up to ``limit``."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise ValueError("limit must be an integer from 1 to 1000")
        out: list[dict[str, Any]] = []
        offset = 0
        while len(out) < limit:

            def page_at(sp: spotipy.Spotify, at: int = offset) -> Any:
                return sp.current_user_playlists(limit=50, offset=at)

            page = self._run("playlists", page_at)
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list) or not items:
                break
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("uri"), str):
                    out.append({"name": _text(item.get("name")), "uri": item["uri"], "id": _text(item.get("id"))})
            offset += len(items)
            if not page.get("next"):
                break
        return out[:limit]

    def now_playing(self, notify: Any = True) -> dict[str, Any] | None:
        """What plays now; also shown in a desktop notification when the daemon can show one."""
        now = self.current()
        item = now.get("item") if now else None
        if notify is True and item:
            title = printable(item.get("name") or "")
            body = printable(", ".join(item.get("artists") or []))
            if item.get("album"):
                body += f" \u2014 {printable(item['album'])}"
            try:
                self.ctx.services.notify("Now playing: " + title, body)
            except ServiceUnavailable:
                pass  # no desktop here: the plugin logs it
        return now

    def play(self, uri: Any = None, device_id: Any = None) -> None:
        body: dict[str, Any] = {}
        if uri is not None:
            uri = require_str(uri, "uri", 300)
            if _ITEM_URI.fullmatch(uri):
                body["uris"] = [uri]
            elif _CONTEXT_URI.fullmatch(uri):
                body["context_uri"] = uri
            else:
                raise ValueError(
                    f"uri {uri!r} is not a Spotify URI such as "
                    "'spotify:track:<id>', 'spotify:album:<id>' or "
                    "'spotify:playlist:<id>'"
                )
        device = self._device(device_id)
        self._run("play", lambda sp: sp.start_playback(device_id=device, **body))

    def pause(self, device_id: Any = None) -> None:
        device = self._device(device_id)
        self._run("pause", lambda sp: sp.pause_playback(device_id=device))

    def next(self, device_id: Any = None) -> None:
        device = self._device(device_id)
        self._run("next", lambda sp: sp.next_track(device_id=device))

    def previous(self, device_id: Any = None) -> None:
        device = self._device(device_id)
        self._run("previous", lambda sp: sp.previous_track(device_id=device))

    def volume(self, percent: Any, device_id: Any = None) -> int:
        # spotipy only logs a warning for a bad volume and sends nothing: check it here.
        if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
            raise ValueError("percent must be an integer from 0 to 100")
        device = self._device(device_id)
        self._run("volume", lambda sp: sp.volume(int(percent), device_id=device))
        return int(percent)

    def current(self) -> dict[str, Any] | None:
        """What plays now, or None when nothing does (Spotify answers 204)."""
        data = self._run("current", lambda sp: sp.current_user_playing_track())
        if not isinstance(data, dict):
            return None
        raw_context = data.get("context")
        context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
        return {
            "is_playing": bool(data.get("is_playing")),
            "progress_ms": _int(data.get("progress_ms")),
            "type": _text(data.get("currently_playing_type")),
            "context": _text(context.get("uri")),
            "item": _track(data.get("item")),
        }

    def devices(self) -> list[dict[str, Any]]:
        data = self._run("devices", lambda sp: sp.devices())
        found = data.get("devices") if isinstance(data, dict) else None
        return [
            {
                "id": _text(d.get("id")),
                "name": _text(d.get("name")),
                "type": _text(d.get("type")),
                "is_active": bool(d.get("is_active")),
                "volume_percent": _int(d.get("volume_percent")),
            }
            for d in (found if isinstance(found, list) else [])
            if isinstance(d, dict)
        ]

    # -- checks and the call ---------------------------------------------------------------------
    @staticmethod
    def _canonical(text: str) -> tuple[str, Origin]:
        """Parse like ``http`` does (httpx, normalised host), then rebuild the base from the
        checked parts, so the string spotipy and requests use has only one reading."""
        parsed, origin = parse_url(text)
        if parsed.query or parsed.fragment:
            raise ScopeError("the API base cannot have a query or a fragment")
        path = parsed.raw_path.decode("ascii")
        host = f"[{origin.host}]" if ":" in origin.host else origin.host
        return f"{origin.scheme}://{host}:{origin.port}{path.rstrip('/')}/", origin

    def _device(self, device_id: Any) -> str | None:
        if device_id is None or device_id == "":
            return None
        device_id = require_str(device_id, "device_id", 128)
        if not _DEVICE_ID.fullmatch(device_id):
            raise ValueError("device_id must be a Spotify device id (letters, digits, - and _)")
        return device_id

    def _secret_store(self) -> SecretStore | None:
        try:
            return self.ctx.services.secret_store(self.ctx.plugin)
        except ServiceUnavailable:
            return None

    def _checked_base(self, action: str, text: str | None = None, what: str = "API base") -> tuple[str, Origin]:
        """The API (or accounts) base, checked against the grants in force now (they can change
        between calls), or a denial that names the host and the grant to ask for."""
        text = self._base_text if text is None else text
        try:
            base, origin = self._canonical(text)
        except ScopeError as exc:
            raise self.deny(action, text, str(exc)) from None
        allow, deny = self.ctx.grants.allow.hosts, self.ctx.grants.deny.hosts
        if not origin_allowed(origin, allow, deny):
            why = (
                f"{origin} is explicitly denied"
                if origin_allowed(origin, deny, ())
                else f"the {what} {origin} is {self.scope_hint('hosts')}"
            )
            raise self.deny(action, text, why)
        return base, origin

    def _refresh(self, data: dict[str, Any]) -> dict[str, Any]:
        """Renew the access token at the accounts service (checked like the API base)."""
        action = self._action
        base, origin = self._checked_base(action, self._accounts_text, "accounts base")
        client_id = data.get("client_id") or self._client_id
        if not isinstance(client_id, str) or not client_id:
            raise SignInNeeded("the sign-in has no client id; sign in again with: midimon plugins auth spotify")
        session = _OneOriginSession(origin, lambda url, why: self.deny(action, url, why))
        budget = self.ctx.remaining(None, DEFAULT_TIMEOUT)
        session.deadline = time.monotonic() + budget
        try:
            info = refresh_with_spotipy(session, base + "api/token", client_id, data["refresh_token"], budget)
        except _Refused as exc:
            raise exc.error from None
        except spotipy.SpotifyOauthError as exc:
            self.audit(action, "error", base + "api/token", f"refresh refused: {exc.error}")
            raise SignInNeeded(
                f"Spotify refused to renew the sign-in ({exc.error}); sign in again with: midimon plugins auth spotify"
            ) from None
        except requests.RequestException as exc:
            self.audit(action, "error", base + "api/token", type(exc).__name__)
            raise CapabilityFailed(
                f"spotify.{action}(): the Spotify accounts service at {origin} could not be reached"
            ) from None
        finally:
            session.close()
        self.audit(action, "allowed", base + "api/token", "access token renewed")
        return info

    def _access_token(self, action: str, force: bool = False) -> str:
        try:
            return self._tokens.access_token(self._refresh, force=force)
        except SignInNeeded as exc:
            self.audit(action, "error", self._base_text, "not signed in")
            raise CapabilityFailed(f"spotify.{action}(): {exc}") from None

    def _spotipy(self, action: str, force: bool = False) -> tuple[spotipy.Spotify, _OneOriginSession]:
        self._action = action
        base, origin = self._checked_base(action)
        token = self._access_token(action, force)
        if self._session is None or self._session.origin != origin:
            self.close()
            self._session = _OneOriginSession(origin, lambda url, why: self.deny(self._action, url, why))
            # retries=0: one press is one request; spotipy's own retry adapter is not used
            # with a session we give it, and the numbers say so for a reader.
            self._client = spotipy.Spotify(requests_session=self._session, retries=0, status_retries=0, proxies=None)
        assert self._client is not None
        budget = self.ctx.remaining(None, DEFAULT_TIMEOUT)
        self._client.prefix = base
        self._client.requests_timeout = budget
        self._client.set_auth(token)
        self._session.deadline = time.monotonic() + budget
        self._session.last = None
        return self._client, self._session

    def _run(self, action: str, work: Callable[[spotipy.Spotify], Any]) -> Any:
        client, session = self._spotipy(action)
        try:
            try:
                result = work(client)
            except spotipy.SpotifyException as exc:
                if exc.http_status != 401 or self._tokens.signed_in() is None:
                    raise
                # the token was revoked or expired early: renew once and try again
                self.audit(action, "error", self._base_text, "status 401; renewing the access token")
                client, session = self._spotipy(action, force=True)
                result = work(client)
        except _Refused as exc:
            last = session.last
            if isinstance(exc.error, CapabilityFailed):
                self.audit(action, "error", last[1] if last else self._base_text, str(exc.error))
                raise CapabilityFailed(f"spotify.{action}(): {exc.error}") from None
            raise exc.error from None  # a denial: already audited
        except spotipy.SpotifyException as exc:
            message = self._describe(exc)
            last = session.last
            self.audit(action, "error", last[1] if last else self._base_text, f"status {exc.http_status}")
            raise CapabilityFailed(f"spotify.{action}(): {message}") from None
        except requests.RequestException as exc:
            self.audit(action, "error", self._base_text, type(exc).__name__)
            what = "did not answer in time" if isinstance(exc, requests.Timeout) else "could not be reached"
            raise CapabilityFailed(
                f"spotify.{action}(): the Spotify API at {session.origin} {what} ({type(exc).__name__})"
            ) from None
        except spotipy.SpotifyBaseException as exc:
            self.audit(action, "error", self._base_text, type(exc).__name__)
            raise CapabilityFailed(f"spotify.{action}(): {type(exc).__name__}") from None
        last = session.last
        self.audit(
            action, "allowed", last[1] if last else self._base_text, f"{last[0]} status {last[2]}" if last else ""
        )
        return result

    @staticmethod
    def _describe(exc: spotipy.SpotifyException) -> str:
        """'Spotify answered 404 Not Found (NO_ACTIVE_DEVICE): Player command failed: ...'"""
        status = exc.http_status if isinstance(exc.http_status, int) else 0
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        # spotipy's message is "<url>:\n <the API's message>"
        detail = str(exc.msg or "").split(":\n", 1)[-1].strip()
        if detail == "None":
            detail = ""
        reason = exc.reason if isinstance(exc.reason, str) and exc.reason else ""
        text = f"Spotify answered {status}{' ' + phrase if phrase else ''}"
        if reason:
            text += f" ({_one_line(reason, 60)})"
        if detail:
            text += f": {_one_line(detail)}"
        return text

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None
        self._client = None
