"""Spotify sign-in that lasts: the host keeps the refresh token and renews the access token.

``midimon plugins auth spotify`` runs the authorization code flow with PKCE and leaves a refresh
token in the plugin's secret store (the host's, never the plugin's). Here, before a call, the
access token is renewed when it expires within a minute, and once more after the Web API
answers 401. The refresh goes through spotipy (``SpotifyPKCE.refresh_access_token``) on the same
one-origin session as the API calls, so the accounts base must be in the granted hosts too.
Tokens never cross to the plugin and never reach the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler

#: Renew this long before the access token expires (Spotify's last an hour).
REFRESH_MARGIN = 60.0
DEFAULT_ACCOUNTS_BASE = "https://accounts.spotify.com"
SIGN_IN = "sign in with: midimon plugins auth spotify"


class SecretStore(Protocol):
    """What ``HostServices.secret_store(plugin)`` returns (midimon.plugins.secrets)."""

    def all(self) -> dict[str, Any]: ...

    def update(self, values: dict[str, Any]) -> None: ...


class SignInNeeded(Exception):
    """No usable token: the message says how to sign in."""


def refresh_with_spotipy(
    session: requests.Session, token_url: str, client_id: str, refresh_token: str, timeout: float
) -> dict[str, Any]:
    """One refresh request; spotipy builds it and reads the answer (expires_at added)."""
    auth = spotipy.SpotifyPKCE(
        client_id=client_id,
        redirect_uri="http://127.0.0.1/callback",  # not used by a refresh; spotipy wants one
        cache_handler=MemoryCacheHandler(),
        requests_session=session,
        requests_timeout=timeout,
        open_browser=False,
    )
    auth.OAUTH_TOKEN_URL = token_url
    info = auth.refresh_access_token(refresh_token)
    if not isinstance(info, dict) or not isinstance(info.get("access_token"), str):
        raise SignInNeeded("the Spotify accounts service answered without an access token; " + SIGN_IN)
    return info


class SpotifyTokens:
    """The access token for the next call: the signed-in one (renewed as needed), else the
    token the plugin configured (the old way, which expires within the hour)."""

    def __init__(self, store: Callable[[], SecretStore | None]) -> None:
        self._store = store
        self.configured: str | None = None
        self.refreshes = 0

    def signed_in(self) -> dict[str, Any] | None:
        store = self._store()
        data = store.all() if store is not None else {}
        return data if isinstance(data.get("refresh_token"), str) and data["refresh_token"] else None

    def access_token(self, refresh: Callable[[dict[str, Any]], dict[str, Any]], *, force: bool = False) -> str:
        """``refresh(data)`` renews from the stored data and returns the new token info."""
        data = self.signed_in()
        if data is None:
            if self.configured:
                return self.configured
            raise SignInNeeded(f"not signed in to Spotify; {SIGN_IN}")
        expires_at = data.get("expires_at")
        fresh = isinstance(expires_at, (int, float)) and expires_at - REFRESH_MARGIN > time.time()
        if force or not fresh or not isinstance(data.get("access_token"), str):
            info = refresh(data)
            self.refreshes += 1
            data = {
                "access_token": info["access_token"],
                "expires_at": info.get("expires_at", int(time.time()) + 3600),
                "refresh_token": info.get("refresh_token") or data["refresh_token"],
                "scope": info.get("scope", data.get("scope")),
            }
            store = self._store()
            if store is not None:
                store.update(data)
        return str(data["access_token"])
