"""spotify against a local fake of the Spotify Web API, through a real PluginHost and worker:
grant, host scope of the API base, clean errors, audit, and set_grants on a running worker."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from midimon.sandbox import Grants, PluginCallError, PluginHost
from midimon.sandbox.stubs import STUB_METHODS, make_stub

from .conftest import LocalServer, free_port

TOKEN = "tok-0123456789"


class FakeSpotifyHandler(http.server.BaseHTTPRequestHandler):
    api: FakeSpotifyApi

    def _serve(self) -> None:
        api = self.api
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        api.requests.append(
            {
                "method": self.command,
                "path": split.path,
                "query": {k: v[0] for k, v in parse_qs(split.query).items()},
                "auth": self.headers.get("Authorization"),
                "body": json.loads(body) if body else None,
            }
        )
        status, payload, headers = api.route(self.command, split.path, parse_qs(split.query), self.headers)
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass


def _error(status: int, message: str, reason: str | None = None) -> tuple[int, dict, dict]:
    err: dict[str, Any] = {"status": status, "message": message}
    if reason:
        err["reason"] = reason
    return status, {"error": err}, {}


class FakeSpotifyApi:
    """The player endpoints spotipy calls for play/pause/next/previous/volume/current/devices.
    Records every request; answers 401 to a wrong bearer token, 404 NO_ACTIVE_DEVICE when
    ``active_device`` is False, and a redirect when ``redirect_to`` is set."""

    TRACKS = [
        ("Blue in Green", "spotify:track:0aWMVrwxPNYkKmFthzmpRi"),
        ("So What", "spotify:track:4vLYewWIvqHfKtJDk8c8tq"),
    ]

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.player = {"is_playing": False, "volume": 50, "track": 0}
        self.active_device = True
        self.redirect_to: str | None = None
        self.huge = False
        handler = type("Handler", (FakeSpotifyHandler,), {"api": self})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if self.redirect_to:
            return 307, None, {"Location": self.redirect_to + path}
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return _error(401, "Invalid access token")
        p = self.player
        if method == "GET" and path == "/v1/me/player/devices":
            if self.huge:
                return 200, {"devices": [{"id": "x" * 1000}] * 1100}, {}
            return (
                200,
                {
                    "devices": [
                        {
                            "id": "dev1",
                            "name": "Kitchen",
                            "type": "Speaker",
                            "is_active": self.active_device,
                            "volume_percent": p["volume"],
                            "is_private_session": False,
                        }
                    ]
                },
                {},
            )
        if method == "GET" and path == "/v1/me/player/currently-playing":
            if not p["is_playing"] and p["track"] is None:
                return 204, None, {}
            name, uri = self.TRACKS[p["track"]]
            return (
                200,
                {
                    "is_playing": p["is_playing"],
                    "progress_ms": 1234,
                    "currently_playing_type": "track",
                    "context": None,
                    "item": {
                        "name": name,
                        "uri": uri,
                        "id": uri.rsplit(":", 1)[1],
                        "type": "track",
                        "duration_ms": 330000,
                        "album": {"name": "Kind of Blue", "images": [{"url": "x"}]},
                        "artists": [{"name": "Miles Davis", "id": "m"}],
                    },
                },
                {},
            )
        known = {
            ("PUT", "/v1/me/player/play"),
            ("PUT", "/v1/me/player/pause"),
            ("POST", "/v1/me/player/next"),
            ("POST", "/v1/me/player/previous"),
            ("PUT", "/v1/me/player/volume"),
        }
        if (method, path) not in known:
            return _error(404, "Service not found")
        if not self.active_device:
            return _error(404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE")
        if path.endswith("/play"):
            p["is_playing"] = True
        elif path.endswith("/pause"):
            p["is_playing"] = False
        elif path.endswith("/next"):
            p["track"] = (p["track"] + 1) % len(self.TRACKS)
        elif path.endswith("/previous"):
            p["track"] = (p["track"] - 1) % len(self.TRACKS)
        else:
            p["volume"] = int(query["volume_percent"][0])
        return 204, None, {}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake() -> Iterator[FakeSpotifyApi]:
    s = FakeSpotifyApi()
    yield s
    s.close()


PLAYER = """
capabilities = ["network"]

def setup(token, base):
    return spotify.configure(token, base)

def do(method, *args):
    return getattr(spotify, method)(*args)

def play(uri, device):
    return spotify.play(uri=uri, device_id=device)

def volume(percent):
    return spotify.volume(percent)

def caught(method, *args):
    try:
        getattr(spotify, method)(*args)
    except CapabilityError as exc:
        return str(exc)
    return "no error"
"""


def network(*hosts: str, deny: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"capabilities": ["network"], "allow": {"hosts": list(hosts)}, "deny": {"hosts": list(deny)}}


def player(
    make_host: Callable[..., PluginHost],
    fake: FakeSpotifyApi,
    grants: dict[str, Any] | None = None,
    base: str | None = None,
) -> PluginHost:
    host = make_host(PLAYER, network(fake.url) if grants is None else grants)
    host.call("setup", TOKEN, fake.url + "/v1" if base is None else base)
    return host


def test_the_stub_is_only_a_few_methods() -> None:
    stub = make_stub("spotify", lambda *a: None)
    public = sorted(n for n in vars(type(stub)) if not n.startswith("_"))
    assert (
        public
        == sorted(STUB_METHODS["spotify"])
        == sorted(
            [
                "configure",
                "play",
                "pause",
                "next",
                "previous",
                "volume",
                "current",
                "devices",
                "playlists",
                "now_playing",
            ]
        )
    )
    assert Grants.from_dict({"capabilities": ["network"]}).has("network")
    from midimon.sandbox.grants import OBJECT_TO_CAPABILITY

    assert OBJECT_TO_CAPABILITY["spotify"] == "network"


def test_granted_calls_reach_the_api_with_the_right_method_path_and_token(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi, audit
) -> None:
    host = player(make_host, fake)
    assert host.call("play", None, None) is None
    assert host.call("play", "spotify:album:1weenld61qoidwYuZ1GESA", "dev1") is None
    assert host.call("play", "spotify:track:4vLYewWIvqHfKtJDk8c8tq", None) is None
    host.call("do", "pause")
    host.call("do", "next")
    host.call("do", "previous", "dev1")
    assert host.call("volume", 30) == 30
    now = host.call("do", "current")
    devices = host.call("do", "devices")
    seen = [(r["method"], r["path"], r["query"], r["body"]) for r in fake.requests]
    assert seen == [
        ("PUT", "/v1/me/player/play", {}, None),
        ("PUT", "/v1/me/player/play", {"device_id": "dev1"}, {"context_uri": "spotify:album:1weenld61qoidwYuZ1GESA"}),
        ("PUT", "/v1/me/player/play", {}, {"uris": ["spotify:track:4vLYewWIvqHfKtJDk8c8tq"]}),
        ("PUT", "/v1/me/player/pause", {}, None),
        ("POST", "/v1/me/player/next", {}, None),
        ("POST", "/v1/me/player/previous", {"device_id": "dev1"}, None),
        ("PUT", "/v1/me/player/volume", {"volume_percent": "30"}, None),
        ("GET", "/v1/me/player/currently-playing", {"additional_types": "track"}, None),
        ("GET", "/v1/me/player/devices", {}, None),
    ]
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in fake.requests)
    assert fake.player == {"is_playing": False, "volume": 30, "track": 0}
    # plain data, shaped by midimon, not Spotify's whole answer
    assert now == {
        "is_playing": False,
        "progress_ms": 1234,
        "type": "track",
        "context": None,
        "item": {
            "name": "Blue in Green",
            "uri": "spotify:track:0aWMVrwxPNYkKmFthzmpRi",
            "id": "0aWMVrwxPNYkKmFthzmpRi",
            "type": "track",
            "duration_ms": 330000,
            "artists": ["Miles Davis"],
            "album": "Kind of Blue",
        },
    }
    assert devices == [{"id": "dev1", "name": "Kitchen", "type": "Speaker", "is_active": True, "volume_percent": 30}]
    uses = [r for r in audit.read() if r["action"].startswith("spotify.")]
    assert [r["action"] for r in uses] == [
        "spotify.configure",
        "spotify.play",
        "spotify.play",
        "spotify.play",
        "spotify.pause",
        "spotify.next",
        "spotify.previous",
        "spotify.volume",
        "spotify.current",
        "spotify.devices",
    ]
    assert all(r["outcome"] == "allowed" and r["capability"] == "network" for r in uses)
    assert uses[-2]["target"].startswith(fake.url + "/v1/me/player/currently-playing")
    assert uses[1]["detail"] == "PUT status 204"
    assert TOKEN not in audit.path.read_text()


def test_an_ungranted_plugin_reaches_nothing(make_host: Callable[..., PluginHost], fake: FakeSpotifyApi, audit) -> None:
    host = player(make_host, fake, grants={"capabilities": []})  # configure needs no grant
    for method in ("pause", "next", "current", "devices"):
        message = host.call("caught", method)
        assert "was not granted the 'network' capability needed for spotify." + method in message
        assert "midimon plugins grant testplug network" in message
    assert fake.requests == []
    assert audit.read()[-1]["outcome"] == "denied"


def test_network_without_the_api_host_in_scope_reaches_nothing(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi
) -> None:
    host = player(make_host, fake, grants=network("https://api.spotify.com"))
    assert "not in the plugin's granted hosts" in host.call("caught", "pause")
    host = player(make_host, fake, grants=network(fake.url, deny=(fake.url,)))
    assert "explicitly denied" in host.call("caught", "pause")
    assert fake.requests == []


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{evil}/v1",
        "http://127.1:{evil}/v1",
        "http://2130706433:{evil}/v1",
        "http://127.0.0.1:{ok}@127.0.0.1:{evil}/v1",
        "http://127.0.0.1:{evil}#@127.0.0.1:{ok}/v1",
        "http://127.0.0.1:{evil}\\@127.0.0.1:{ok}/v1",
        "http://127.0.0.1:{ok}/v1?x=@127.0.0.1:{evil}",
        "https://127.0.0.1:{ok}/v1",
        "file:///etc/passwd",
    ],
)
def test_an_api_base_on_an_unscoped_host_is_refused_and_nothing_is_contacted(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi, template: str, audit
) -> None:
    evil = FakeSpotifyApi()
    try:
        host = make_host(PLAYER, network(fake.url))
        base = template.format(ok=fake.port, evil=evil.port)
        try:
            host.call("setup", TOKEN, base)
        except PluginCallError as exc:
            assert "CapabilityError" == exc.type_name and "denied" in exc.message
        else:
            message = host.call("caught", "play")
            assert "denied" in message
        assert evil.requests == [] and fake.requests == []
        assert audit.read()[-1]["outcome"] == "denied"
    finally:
        evil.close()


@pytest.mark.parametrize(
    "template", ["http://127.0.0.1:{ok}/v1", "HTTP://127.0.0.1:{ok}/v1/", "http://127.0.0.1.:{ok}/v1"]
)
def test_other_spellings_of_the_granted_origin_work(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi, template: str
) -> None:
    host = player(make_host, fake, base=template.format(ok=fake.port))
    host.call("do", "pause")
    assert [(r["method"], r["path"]) for r in fake.requests] == [("PUT", "/v1/me/player/pause")]


def test_errors_from_the_api_arrive_as_clean_sentences(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi, audit
) -> None:
    host = player(make_host, fake)
    fake.active_device = False
    message = host.call("caught", "pause")
    assert message == (
        "spotify.pause(): Spotify answered 404 Not Found (NO_ACTIVE_DEVICE): "
        "Player command failed: No active device found"
    )
    assert audit.read()[-1]["outcome"] == "error" and audit.read()[-1]["detail"] == "status 404"
    host.call("setup", "wrong-token", fake.url + "/v1")
    message = host.call("caught", "next")
    assert message == "spotify.next(): Spotify answered 401 Unauthorized: Invalid access token"
    # the plugin catches it as CapabilityError; uncaught it is a PluginCallError with that text
    with pytest.raises(PluginCallError) as info:
        host.call("do", "current")
    assert info.value.type_name == "CapabilityError" and "401 Unauthorized" in info.value.message
    for text in (message, info.value.message):
        assert "Traceback" not in text and " object at 0x" not in text and "wrong-token" not in text


def test_a_closed_port_and_bad_arguments_fail_cleanly(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi
) -> None:
    port = free_port()
    host = player(
        make_host, fake, grants=network(fake.url, f"http://127.0.0.1:{port}"), base=f"http://127.0.0.1:{port}/v1"
    )
    assert host.call("caught", "pause") == (
        f"spotify.pause(): the Spotify API at http://127.0.0.1:{port} could not be reached (ConnectionError)"
    )
    host = player(make_host, fake)
    assert "0 to 100" in host.call("caught", "volume", 101)
    assert "0 to 100" in host.call("caught", "volume", True)
    assert "device_id" in host.call("caught", "pause", "dev1&volume_percent=100")
    assert "not a Spotify URI" in host.call("caught", "play", "http://127.0.0.1/x")
    assert fake.requests == []


def test_an_answer_over_the_size_limit_is_refused(make_host: Callable[..., PluginHost], fake: FakeSpotifyApi) -> None:
    host = player(make_host, fake)
    fake.huge = True
    assert host.call("caught", "devices") == ("spotify.devices(): the Spotify API answered more than 1048576 bytes")


def test_without_a_token_the_plugin_is_told_what_to_do(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi
) -> None:
    host = make_host(PLAYER, network(fake.url))
    host.call("setup", None, fake.url + "/v1")
    assert "not signed in to Spotify" in host.call("caught", "pause")
    assert "midimon plugins auth spotify" in host.call("caught", "pause")
    assert fake.requests == []


def test_redirects_are_not_followed(make_host: Callable[..., PluginHost], fake: FakeSpotifyApi) -> None:
    evil = LocalServer()
    try:
        host = player(make_host, fake)
        fake.redirect_to = evil.url
        assert "redirect" in host.call("caught", "pause")
        assert evil.hits == [] and len(fake.requests) == 1
    finally:
        evil.close()


def test_proxy_settings_in_the_environment_are_ignored(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi, monkeypatch
) -> None:
    proxy = LocalServer()
    try:
        for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(var, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        host = player(make_host, fake)
        host.call("do", "pause")
        assert proxy.hits == [] and len(fake.requests) == 1
    finally:
        proxy.close()


def test_set_grants_revoke_applies_to_the_next_call_without_a_restart(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi, audit
) -> None:
    host = player(make_host, fake)
    host.call("do", "pause")
    pid = host.state["pid"]
    host.set_grants(Grants())
    message = host.call("caught", "next")
    assert "was not granted the 'network' capability" in message
    assert len(fake.requests) == 1
    # a narrower scope applies just the same
    host.set_grants(Grants.from_dict(network("https://api.spotify.com")))
    assert "not in the plugin's granted hosts" in host.call("caught", "next")
    assert len(fake.requests) == 1
    # granted again: works at once, with the token the plugin configured before
    host.set_grants(Grants.from_dict(network(fake.url)))
    host.call("do", "next")
    assert len(fake.requests) == 2 and fake.player["track"] == 1
    assert host.state["pid"] == pid and host.state["starts"] == 1
    assert host.grants == Grants.from_dict(network(fake.url))
    changes = [r for r in audit.read() if r["action"] == "set_grants"]
    assert [r["outcome"] for r in changes] == ["revoked", "granted", "granted"]
    assert "removed: network" in changes[0]["detail"]
    with pytest.raises(TypeError):
        host.set_grants({"capabilities": ["network"]})  # type: ignore[arg-type]


def test_set_grants_does_not_wait_for_a_running_call(
    make_host: Callable[..., PluginHost], fake: FakeSpotifyApi
) -> None:
    """A revoke from another thread while a call runs refuses that call's next request."""
    source = (
        PLAYER
        + """
import time

def slow_then_next():
    spotify.pause()
    t = time.monotonic()
    while time.monotonic() - t < 0.6:
        pass
    return caught("next")
"""
    )
    host = make_host(source, network(fake.url))
    host.call("setup", TOKEN, fake.url + "/v1")
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(host.call("slow_then_next")))
    worker.start()
    while not fake.requests:
        threading.Event().wait(0.01)
    done = threading.Event()
    threading.Thread(target=lambda: (host.set_grants(Grants()), done.set())).start()
    assert done.wait(0.3), "set_grants waited for the running call"
    worker.join(5)
    assert "was not granted the 'network' capability" in result[0]
    assert [r["path"] for r in fake.requests] == ["/v1/me/player/pause"]


def test_the_session_spotipy_uses_only_talks_to_the_checked_origin(fake: FakeSpotifyApi) -> None:
    """Defence in depth under the scope check: requests' own reading of each URL must be the
    checked origin, so a parser difference between httpx and requests cannot redirect spotipy."""
    from midimon.sandbox.capabilities.scopes import parse_url
    from midimon.sandbox.capabilities.spotify import SpotifyCapability, _OneOriginSession, _Refused
    from midimon.sandbox.errors import CapabilityDenied

    evil = FakeSpotifyApi()
    try:
        _, origin = parse_url(fake.url)
        session = _OneOriginSession(origin, lambda url, why: CapabilityDenied(why))
        for url in (
            evil.url + "/v1/me/player/devices",
            f"http://x@127.0.0.1:{fake.port}/v1",
            f"https://127.0.0.1:{fake.port}/v1",
        ):
            with pytest.raises(_Refused):
                session.get(url)
        assert evil.requests == [] and fake.requests == []
        assert session.get(fake.url + "/v1/me/player/devices").status_code == 401
        assert session.last == ("GET", fake.url + "/v1/me/player/devices", 401)
    finally:
        evil.close()
    canonical = SpotifyCapability._canonical
    assert canonical("HTTPS://API.Spotify.COM./v1")[0] == "https://api.spotify.com:443/v1/"
    assert canonical("http://[::1]:8080")[0] == "http://[::1]:8080/"
