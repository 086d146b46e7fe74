"""The first-party plugins (shipped, or installed as a copy like any plugin) run in the real
sandbox against real local servers: an http.server, a fake of the Spotify Web API, and
mosquitto. The plan's params and the sign-in are in test_plan_*.py."""

from __future__ import annotations

import json
import threading

import pytest
from pluginkit import cli_json
from testkit.jack import wait_for


def grant(home, name, *grant_args):
    cli_json("plugins", "grant", name, *grant_args, home=home)


def install(home, name, *grant_args):
    cli_json("plugins", "install", f"builtin:{name}", home=home)
    if grant_args:
        cli_json("plugins", "grant", name, *grant_args, home=home)


def test_http_request_posts_json_to_a_granted_host(home, plugins_dir, manager, http_server):
    install(home, "http_request", "network", "--scope", f"hosts={http_server.url}")
    cli_json("plugins", "config", "http_request", "--set", "token=s3cret", home=home)
    m = manager()
    status = m.plugin_call(
        "http_request",
        {"url": http_server.url + "/hook", "json": {"scene": 2}, "include_context": True},
        {"note": 36, "velocity": 90},
    )
    assert status == 200
    req = http_server.requests[-1]
    assert req["method"] == "POST" and req["path"] == "/hook"
    body = json.loads(req["body"])
    assert body["params"] == {"scene": 2} and body["context"]["note"] == 36
    assert req["headers"]["Authorization"] == "Bearer s3cret"


def test_http_request_to_an_ungranted_host_sends_nothing(home, plugins_dir, manager, http_server):
    from midimon.plugins.errors import PluginActionError as ActionError

    install(home, "http_request", "network", "--scope", "hosts=https://hooks.example.com")
    m = manager()
    with pytest.raises(ActionError, match="denied"):
        m.plugin_call("http_request", {"url": http_server.url + "/x"}, {})
    assert http_server.requests == []


def test_spotify_against_a_fake_web_api(home, plugins_dir, manager, fake_spotify):
    grant(home, "spotify", "network", "--scope", f"hosts={fake_spotify.url}")  # ships with midimon
    cli_json(
        "plugins",
        "config",
        "spotify",
        "--set",
        "access_token=tok",
        "--set",
        f"api_base={fake_spotify.url}/v1",
        home=home,
    )
    m = manager()
    call = lambda **p: m.plugin_call("spotify", p, {"value": 127})
    call(action="play")
    assert fake_spotify.player["is_playing"] is True
    call(action="play_pause")
    assert fake_spotify.player["is_playing"] is False
    call(action="next")
    assert call(action="now_playing") == "So What"
    call(action="previous")
    assert fake_spotify.player["track"] == 0
    assert call(action="volume") == 100 and fake_spotify.player["volume"] == 100
    assert call(action="volume_down", step=30) == 70 and fake_spotify.player["volume"] == 70
    assert all(r["headers"]["Authorization"] == "Bearer tok" for r in fake_spotify.requests)
    # the requests spotipy makes for each command, nothing more
    assert [(r["method"], r["path"].split("?")[0].removeprefix("/v1/me/player/")) for r in fake_spotify.requests] == [
        ("PUT", "play"),
        ("GET", "currently-playing"),
        ("PUT", "pause"),
        ("POST", "next"),
        ("GET", "currently-playing"),
        ("POST", "previous"),
        ("PUT", "volume"),
        ("GET", "devices"),  # volume_down starts from the device's volume
        ("PUT", "volume"),
    ]
    assert fake_spotify.requests[-1]["path"] == "/v1/me/player/volume?volume_percent=70"
    call(action="play", uri="spotify:album:1weenld61qoidwYuZ1GESA", device_id="dev1")
    req = fake_spotify.requests[-1]
    assert req["path"] == "/v1/me/player/play?device_id=dev1"
    assert json.loads(req["body"]) == {"context_uri": "spotify:album:1weenld61qoidwYuZ1GESA"}


def test_spotify_without_a_token_says_what_to_do(home, plugins_dir, manager, fake_spotify):
    from midimon.plugins.errors import PluginActionError as ActionError

    grant(home, "spotify", "network", "--scope", f"hosts={fake_spotify.url}")  # ships with midimon
    m = manager()
    with pytest.raises(ActionError, match="midimon plugins auth spotify"):
        m.plugin_call("spotify", {"action": "play"}, {})
    assert fake_spotify.requests == []


def test_spotify_with_an_api_base_on_an_unscoped_host_contacts_nothing(
    home, plugins_dir, manager, fake_spotify, http_server
):
    from midimon.plugins.errors import PluginActionError as ActionError

    grant(home, "spotify", "network", "--scope", f"hosts={fake_spotify.url}")  # ships with midimon
    cli_json(
        "plugins",
        "config",
        "spotify",
        "--set",
        "access_token=tok",
        "--set",
        f"api_base={http_server.url}/v1",
        home=home,
    )
    m = manager()
    with pytest.raises(ActionError, match="not in the plugin's granted hosts"):
        m.plugin_call("spotify", {"action": "play"}, {})
    assert http_server.requests == [] and fake_spotify.requests == []


def test_spotify_errors_from_the_api_are_clean(home, plugins_dir, manager, fake_spotify):
    from midimon.plugins.errors import PluginActionError as ActionError

    grant(home, "spotify", "network", "--scope", f"hosts={fake_spotify.url}")  # ships with midimon
    cli_json(
        "plugins",
        "config",
        "spotify",
        "--set",
        "access_token=tok",
        "--set",
        f"api_base={fake_spotify.url}/v1",
        home=home,
    )
    m = manager()
    fake_spotify.active_device = False
    with pytest.raises(ActionError) as info:
        m.plugin_call("spotify", {"action": "next"}, {})
    assert (
        "spotify.next(): Spotify answered 404 Not Found (NO_ACTIVE_DEVICE): "
        "Player command failed: No active device found"
    ) in str(info.value)
    fake_spotify.token = "another"
    with pytest.raises(ActionError, match="401 Unauthorized: Invalid access token"):
        m.plugin_call("spotify", {"action": "pause"}, {})
    assert "Traceback" not in str(info.value)


def test_spotify_revoke_and_grant_apply_to_the_running_worker(home, plugins_dir, manager, fake_spotify):
    from midimon.plugins.errors import PluginActionError as ActionError

    grant(home, "spotify", "network", "--scope", f"hosts={fake_spotify.url}")  # ships with midimon
    cli_json(
        "plugins",
        "config",
        "spotify",
        "--set",
        "access_token=tok",
        "--set",
        f"api_base={fake_spotify.url}/v1",
        home=home,
    )
    m = manager()
    m.plugin_call("spotify", {"action": "play"}, {})
    version = m.runtime.active["spotify"]
    pid = version.host.state["pid"]
    cli_json("plugins", "revoke", "spotify", "network", home=home)
    m.sync("watch")  # what the state file's watcher runs (watch=False here)
    with pytest.raises(ActionError, match="was not granted the 'network' capability"):
        m.plugin_call("spotify", {"action": "pause"}, {})
    assert len(fake_spotify.requests) == 1 and fake_spotify.player["is_playing"] is True
    cli_json("plugins", "grant", "spotify", "network", "--scope", f"hosts={fake_spotify.url}", home=home)
    m.sync("watch")
    m.plugin_call("spotify", {"action": "pause"}, {})
    assert fake_spotify.player["is_playing"] is False
    # same version, same worker: no reload, no restart
    assert m.runtime.active["spotify"] is version
    assert version.host.state["pid"] == pid and version.host.state["starts"] == 1


def _subscriber(host, port, topic):
    import paho.mqtt.client as paho

    got, ready = [], threading.Event()
    c = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2)
    c.on_connect = lambda *a: c.subscribe(topic)
    c.on_subscribe = lambda *a: ready.set()
    c.on_message = lambda cl, u, msg: got.append((msg.topic, msg.payload.decode()))
    c.connect(host, port)
    c.loop_start()
    assert ready.wait(5)
    return c, got


@pytest.mark.mqtt
def test_home_automation_reaches_a_real_broker(home, plugins_dir, manager, mqtt_broker):
    host, port = mqtt_broker
    grant(home, "home_automation", "network", "--scope", f"brokers={host}:{port}", "--scope", "publish=midimon-test/#")
    cli_json("plugins", "config", "home_automation", "--set", f"broker={host}:{port}", home=home)
    client, got = _subscriber(host, port, "midimon-test/#")
    try:
        m = manager()
        m.plugin_call("home_automation", {"topic": "midimon-test/light", "payload": "on"}, {})
        m.plugin_call("home_automation", {"topic": "midimon-test/ctx"}, {"note": 40, "velocity": 7})
        wait_for(lambda: len(got) == 2, 5, what="two messages")
        assert got[0] == ("midimon-test/light", "on")
        assert json.loads(got[1][1])["note"] == 40
        # a topic outside the grant is refused and never published
        from midimon.plugins.errors import PluginActionError as ActionError

        with pytest.raises(ActionError, match="denied"):
            m.plugin_call("home_automation", {"topic": "other/x", "payload": "no"}, {})
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.mqtt
def test_mqtt_listen_turns_messages_into_plugin_events(home, plugins_dir, manager, mqtt_broker):
    import paho.mqtt.publish as publish

    from midimon.engine import events as E

    host, port = mqtt_broker
    install(
        home, "mqtt_listen", "network", "--scope", f"brokers={host}:{port}", "--scope", "subscribe=midimon-listen/#"
    )
    cli_json(
        "plugins",
        "config",
        "mqtt_listen",
        "--set",
        f"broker={host}:{port}",
        "--set",
        'topics=["midimon-listen/#"]',
        home=home,
    )
    m = manager()
    wait_for(lambda: m.pollers.get("mqtt_listen") and m.pollers["mqtt_listen"].polls > 0, 5, what="polling")
    publish.single("midimon-listen/button", '{"pressed": true}', hostname=host, port=port)
    publish.single("midimon-listen/raw", "hello", hostname=host, port=port)
    wait_for(lambda: len(m.events) >= 2, 5, what="two events")
    ev = m.events[0]
    assert ev.kind == E.PLUGIN and ev.device == "mqtt_listen" and ev.name == "message"
    assert ev.data == {"topic": "midimon-listen/button", "payload": '{"pressed": true}', "value": {"pressed": True}}
    assert m.events[1].data["value"] == "hello"
