"""http against real local servers: scope, userinfo trick, redirects, proxies, size cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from midimon.sandbox import PluginCallError, PluginHost

from .conftest import LocalServer

CLIENT = """
def get(url):
    r = http.get(url)
    return {"status": r["status"], "text": r["text"], "url": r["url"]}
def post(url, payload):
    return http.post(url, json=payload)["status"]
def lying_get(url):
    class Liar(str):
        def startswith(self, prefix):
            return True
        def __eq__(self, other):
            return True
    return http.get(Liar(url))["text"]
"""


def client(make_host: Callable[..., PluginHost], server: LocalServer, **extra: Any) -> PluginHost:
    grants = {"capabilities": ["network"], "allow": {"hosts": [server.url]}, **extra}
    return make_host(CLIENT, grants)


def test_granted_origin_works_and_is_audited(make_host: Callable[..., PluginHost], server: LocalServer, audit) -> None:
    host = client(make_host, server)
    assert host.call("get", server.url + "/hello")["text"] == "hello from /hello"
    assert host.call("post", server.url + "/p", {"a": 1}) == 200
    assert server.hits == ["/hello", "/p"]
    uses = [r for r in audit.read() if r["action"] == "http.get"]
    assert uses and uses[-1]["outcome"] == "allowed" and "/hello" in uses[-1]["target"]


def test_ungranted_network_names_the_grant_command(
    make_host: Callable[..., PluginHost], server: LocalServer, audit
) -> None:
    host = make_host(CLIENT, {"capabilities": []})
    with pytest.raises(PluginCallError) as info:
        host.call("get", server.url + "/x")
    assert "'testplug'" in info.value.message and "'network'" in info.value.message
    assert "midimon plugins grant testplug network" in info.value.message
    assert server.hits == []
    assert audit.read()[-1]["outcome"] == "denied"


def test_other_port_on_same_host_is_out_of_scope(
    make_host: Callable[..., PluginHost], server: LocalServer, evil_server: LocalServer
) -> None:
    host = client(make_host, server)
    with pytest.raises(PluginCallError, match="not in the plugin's granted hosts"):
        host.call("get", evil_server.url + "/steal")
    assert evil_server.hits == []


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{ok}@127.0.0.1:{evil}/steal",  # userinfo: host is after the @
        "http://127.0.0.1:{ok}%40127.0.0.1:{evil}/steal",
        "http://user:pw@127.0.0.1:{evil}/steal",
        "http://127.0.0.1:{evil}#@127.0.0.1:{ok}/",
        "http://127.0.0.1:{evil}\\@127.0.0.1:{ok}/",
        "http://127.1:{evil}/steal",
        "http://2130706433:{evil}/steal",
        "file:///etc/passwd",
        "ftp://127.0.0.1:{ok}/",
    ],
)
def test_url_tricks_never_reach_another_server(
    make_host: Callable[..., PluginHost], server: LocalServer, evil_server: LocalServer, template: str
) -> None:
    host = client(make_host, server)
    url = template.format(ok=server.port, evil=evil_server.port)
    with pytest.raises(PluginCallError):
        host.call("get", url)
    assert evil_server.hits == []


def test_redirect_within_scope_is_followed(make_host: Callable[..., PluginHost], server: LocalServer) -> None:
    server.route("/start", 302, Location="/end")
    host = client(make_host, server)
    result = host.call("get", server.url + "/start")
    assert result["text"] == "hello from /end" and result["url"].endswith("/end")
    assert server.hits == ["/start", "/end"]


def test_redirect_out_of_scope_is_refused(
    make_host: Callable[..., PluginHost], server: LocalServer, evil_server: LocalServer, audit
) -> None:
    server.route("/start", 307, Location=evil_server.url + "/steal")
    host = client(make_host, server)
    with pytest.raises(PluginCallError, match="denied"):
        host.call("get", server.url + "/start")
    assert server.hits == ["/start"] and evil_server.hits == []
    assert any(r["outcome"] == "denied" and "steal" in r["target"] for r in audit.read())


def test_proxy_environment_is_ignored(
    make_host: Callable[..., PluginHost], server: LocalServer, evil_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, evil_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    host = client(make_host, server)
    assert host.call("get", server.url + "/direct")["status"] == 200
    assert evil_server.hits == [] and server.hits == ["/direct"]


def test_deny_beats_allow(make_host: Callable[..., PluginHost], server: LocalServer) -> None:
    host = client(make_host, server, deny={"hosts": [server.url]})
    with pytest.raises(PluginCallError, match="explicitly denied"):
        host.call("get", server.url + "/x")
    assert server.hits == []


def test_denied_capability_beats_grant(make_host: Callable[..., PluginHost], server: LocalServer) -> None:
    host = client(make_host, server, denied_capabilities=["network"])
    with pytest.raises(PluginCallError, match="denied the 'network' capability"):
        host.call("get", server.url + "/x")
    assert server.hits == []


def test_str_subclass_cannot_lie_to_the_scope_check(
    make_host: Callable[..., PluginHost], server: LocalServer, evil_server: LocalServer
) -> None:
    host = client(make_host, server)
    with pytest.raises(PluginCallError):
        host.call("lying_get", evil_server.url + "/steal")
    assert evil_server.hits == []


def test_response_size_is_capped(make_host: Callable[..., PluginHost], server: LocalServer) -> None:
    server.route("/big", 200, b"x" * (2 * 1024 * 1024))
    host = client(make_host, server)
    with pytest.raises(PluginCallError, match="larger than|limit"):
        host.call("get", server.url + "/big")
