"""``midimon plugins auth spotify [--no-browser] [--port N] [--logout]``: sign in to Spotify once.

The authorization code flow with PKCE (no client secret on this machine), spotipy building the
requests: the authorize URL is opened in the browser (or printed, with ``--no-browser``), the
answer comes back to ``http://127.0.0.1:PORT/callback`` (Spotify refuses ``localhost``
redirects; register this exact URI with your app), the code is traded for tokens and the refresh
token goes to the plugin's secret store (mode 0600), where the daemon renews the access token
from. Nothing here prints a token. docs/spotify-auth.md is the user's guide.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from midimon.engine.cli import add_json, fail, print_json

PROVIDERS = ("spotify",)
DEFAULT_PORT = 8888
DEFAULT_ACCOUNTS = "https://accounts.spotify.com"
#: What the spotify plugin's actions need: player control and state, the user's playlists.
SCOPES = (
    "user-read-playback-state",
    "user-modify-playback-state",
    "user-read-currently-playing",
    "playlist-read-private",
    "playlist-read-collaborative",
)


class AuthError(Exception):
    pass


def register(ps: argparse._SubParsersAction) -> None:
    c = ps.add_parser("auth", help="sign in to a service a plugin uses (spotify), once")
    c.add_argument("service", choices=PROVIDERS)
    c.add_argument("--no-browser", action="store_true", help="print the sign-in URL instead of opening it")
    c.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"redirect port (default {DEFAULT_PORT})")
    c.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the browser (default 300)")
    c.add_argument("--logout", action="store_true", help="forget the sign-in")
    add_json(c)
    c.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    home = args.home  # the CLI's one Home (engine/cli/__init__.py)
    try:
        result = logout(home) if args.logout else sign_in(home, args.port, not args.no_browser, args.timeout)
    except AuthError as exc:
        return fail(str(exc), as_json=args.json)
    if args.json:
        print_json({"ok": True, **result})
    elif args.logout:
        print("signed out of Spotify" if result["was_signed_in"] else "was not signed in to Spotify")
    else:
        print(f"signed in to Spotify (scopes: {result['scope']}); midimon renews the access token itself")
    return 0


def _settings(home: Any) -> dict[str, Any]:
    from midimon.plugins.state import PluginState

    return PluginState(home.plugin_state).entry("spotify")["settings"]


def logout(home: Any) -> dict[str, Any]:
    from midimon.plugins.secrets import open_store

    store = open_store(home, "spotify")
    return {"service": "spotify", "signed_out": True, "was_signed_in": store.clear()}


def sign_in(home: Any, port: int, open_browser: bool, timeout: float) -> dict[str, Any]:
    # here, not at the top: every `midimon plugins ...` command imports this module (24 ms)
    import secrets
    import webbrowser

    import requests
    import spotipy
    from spotipy.cache_handler import MemoryCacheHandler
    from spotipy.oauth2 import start_local_http_server

    from midimon.plugins.secrets import open_store

    settings = _settings(home)
    client_id = settings.get("client_id")
    if not client_id:
        raise AuthError(
            "set your Spotify app's client id first: midimon plugins config spotify --set client_id=YOUR_CLIENT_ID "
            "(docs/spotify-auth.md: create the app and register the redirect URI)"
        )
    if not 1 <= port <= 65535:
        raise AuthError(f"--port {port}: use a port from 1 to 65535")
    accounts = str(settings.get("accounts_base") or DEFAULT_ACCOUNTS).rstrip("/")
    redirect = f"http://127.0.0.1:{port}/callback"
    state = secrets.token_urlsafe(16)
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc of this shell gets the code or the tokens
    auth = spotipy.SpotifyPKCE(
        client_id=client_id,
        redirect_uri=redirect,
        state=state,
        scope=" ".join(SCOPES),
        cache_handler=MemoryCacheHandler(),
        requests_session=session,
        requests_timeout=15,
        open_browser=False,
    )
    auth.OAUTH_AUTHORIZE_URL = accounts + "/authorize"
    auth.OAUTH_TOKEN_URL = accounts + "/api/token"
    auth.get_pkce_handshake_parameters()
    try:
        server = start_local_http_server(port)  # listening before anyone can be sent to it
    except OSError as exc:
        raise AuthError(f"cannot listen on 127.0.0.1:{port} for the redirect ({exc.strerror}); try --port N") from None
    try:
        url = auth.get_authorize_url()
        print(f"Open this address to sign in to Spotify:\n  {url}\nWaiting for {redirect} ...", file=sys.stderr)
        if open_browser:
            webbrowser.open(url)
        code = _wait_for_code(server, state, timeout)
    finally:
        server.server_close()
    try:
        auth.get_access_token(code, check_cache=False)
    except spotipy.SpotifyOauthError as exc:
        raise AuthError(f"Spotify did not trade the code for a token: {exc.error_description or exc.error}") from None
    except requests.RequestException as exc:
        raise AuthError(f"cannot reach the Spotify accounts service at {accounts}: {type(exc).__name__}") from None
    info = auth.cache_handler.get_cached_token() or {}
    if not info.get("refresh_token"):
        raise AuthError("Spotify answered without a refresh token; try again")
    store = open_store(home, "spotify")
    store.update(
        {
            "refresh_token": info["refresh_token"],
            "access_token": info["access_token"],
            "expires_at": info.get("expires_at", int(time.time()) + 3600),
            "scope": info.get("scope", ""),
            "client_id": client_id,
        }
    )
    return {
        "service": "spotify",
        "signed_in": True,
        "scope": info.get("scope", ""),
        "expires_at": info.get("expires_at"),
        "secret_store": str(store.path),
        "redirect_uri": redirect,
    }


def _wait_for_code(server: Any, state: str, timeout: float) -> str:
    """Serve the redirect until it brings a code (other requests, e.g. a favicon, are ignored)."""
    deadline = time.monotonic() + timeout
    server.timeout = 0.5
    while time.monotonic() < deadline:
        server.handle_request()
        if server.error is not None:
            raise AuthError(f"Spotify refused the sign-in: {server.error}")
        if server.auth_code is not None:
            if getattr(server, "state", None) != state:
                raise AuthError("the redirect's state does not match this sign-in; start again")
            return str(server.auth_code)
    raise AuthError(f"no answer from the browser within {timeout:.0f} s; run the command again")
