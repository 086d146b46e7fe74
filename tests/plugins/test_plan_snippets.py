"""The plan's three config examples on a new home: they validate with no install step, their
params are checked at once, the old names and params still work with a warning at the line, and
`midimon config migrate` rewrites them. Then, over JACK through `midimon run`, each works live
after running the one grant command `midimon validate` printed (hosts swapped for a local
http.server, mosquitto and the Spotify fakes)."""

from __future__ import annotations

import json
import logging
import re
import shlex
import time
from pathlib import Path

import pytest
from e2ekit import press, ready, wait_for
from plankit import sign_in
from pluginkit import cli, cli_json, write
from testkit.fakes.spotify import FakeAccounts, FakeWebApi
from testkit.mqtt_sub import Subscriber
from testkit.plan_snippets import HOME_AUTOMATION, HTTP, SPOTIFY

from midimon.plugins import aliases, discovery
from midimon.plugins.state import PluginState

# The appendix of the plan, verbatim (its hosts are replaced by the tests: HTTP_URL, BROKER).


def plan_config(http_url: str, broker: str, device: str = "") -> str:
    text = HTTP.replace("https://api.example.com", http_url) + SPOTIFY
    text += HOME_AUTOMATION.replace("mqtt://192.168.1.100:1883", broker)
    return f'{device}\n[[modes]]\nname = "Default"\n{text}'


def validate(home: Path) -> dict:
    return cli_json("validate", home=home, check=False)


def test_the_three_snippets_validate_on_a_new_home(home: Path) -> None:
    (home / "config.toml").write_text(plan_config("http://127.0.0.1:9", "mqtt://127.0.0.1:9"))
    out = validate(home)
    assert out["ok"] is True, out
    messages = " ".join(w["message"] for w in out["warnings"])
    assert "not installed" not in messages and "Additional properties" not in messages


def test_their_params_are_checked_at_once_with_the_line(home: Path) -> None:
    bad = plan_config("http://127.0.0.1:9", "mqtt://127.0.0.1:9").replace("timeout_ms = 5000", 'timeout_ms = "soon"')
    bad = bad.replace('action = "play_pause"', 'action = "shuffle_everything"')
    (home / "config.toml").write_text(bad)
    out = validate(home)
    assert out["ok"] is False
    lines = bad.splitlines()
    where = {(e["line"], e["path"].rsplit(".", 1)[-1]) for e in out["errors"]}
    assert (lines.index('timeout_ms = "soon"') + 1, "timeout_ms") in where
    assert (lines.index('action = "shuffle_everything"') + 1, "action") in where


OLD = """
[[modes]]
name = "Default"

[[modes.mappings]]
trigger = { type = "Note", note = 2 }
action = { type = "Plugin", plugin = "spotify_control", params = { command = "toggle" } }

[[modes.mappings]]
trigger = { type = "Note", note = 3 }
action = { type = "Plugin", plugin = "mqtt_publish", params = { topic = "home/x", payload = "ON" } }

[[modes.mappings]]
trigger = { type = "Note", note = 4 }
action = { type = "Plugin", plugin = "http_request", params = { url = "http://127.0.0.1:9/x", json = { a = 1 }, timeout = 2 } }
"""


def test_old_names_and_params_work_with_a_warning_at_their_line(home: Path) -> None:
    (home / "config.toml").write_text(OLD)
    out = validate(home)
    assert out["ok"] is True, out
    lines = OLD.splitlines()
    found = {(w["line"], w["message"].split(";")[0]) for w in out["warnings"]}
    spotify_line = next(i for i, x in enumerate(lines, 1) if "spotify_control" in x)
    mqtt_line = next(i for i, x in enumerate(lines, 1) if "mqtt_publish" in x)
    http_line = next(i for i, x in enumerate(lines, 1) if "json =" in x)
    assert (spotify_line, "plugin 'spotify_control' is now called 'spotify'") in found
    assert (mqtt_line, "plugin 'mqtt_publish' is now called 'home_automation'") in found
    texts = [w["message"] for w in out["warnings"] if w["line"] in (spotify_line, http_line)]
    assert any("'command' is now 'action'" in t for t in texts)
    assert any("'json' is now 'body'" in t for t in texts) and any("'timeout'" in t for t in texts)


def test_config_migrate_rewrites_names_and_params_keeping_the_rest(home: Path) -> None:
    path = home / "config.toml"
    path.write_text("# my controller\n" + OLD)
    cli("config", "migrate", str(path), home=home)
    text = path.read_text()
    assert text.startswith("# my controller\n")
    assert 'plugin = "spotify", params = { action = "play_pause" }' in text
    assert 'plugin = "home_automation"' in text
    assert "body = { a = 1 }, timeout_ms = 2000" in text
    assert "spotify_control" not in text and "mqtt_publish" not in text


def test_grants_settings_and_data_under_an_old_name_move_once(home: Path, caplog) -> None:
    state = PluginState(home / "plugin-state.json")
    state.update_plugin(
        "spotify_control",
        lambda e: e.update(
            grants={"network": {"scopes": {"hosts": ["https://api.spotify.com"]}}},
            settings={"access_token": "tok"},
        ),
    )
    old_data = home / "plugins-data" / "spotify_control"
    old_data.mkdir(parents=True)
    (old_data / "store.json").write_text('{"volume": 40}')
    with caplog.at_level(logging.WARNING, logger="midimon.plugins"):
        moved = aliases.migrate(home, state)
    assert moved and "'spotify_control' is now 'spotify'" in caplog.text
    entry = PluginState(home / "plugin-state.json").entry("spotify")
    assert entry["grants"]["network"]["scopes"]["hosts"] == ["https://api.spotify.com"]
    assert entry["settings"] == {"access_token": "tok"}
    assert "spotify_control" not in PluginState(home / "plugin-state.json").snapshot()["plugins"]
    assert json.loads((home / "plugins-data" / "spotify" / "store.json").read_text()) == {"volume": 40}
    assert not old_data.exists()
    assert aliases.migrate(home, state) == []  # the second start finds nothing to move


def test_a_plugin_of_the_same_name_in_the_folder_takes_precedence(home: Path) -> None:
    folder = home / "plugins"
    folder.mkdir()
    found, _ = discovery.scan(folder)
    assert {n for n, c in found.items() if c.first_party} >= {"http_request", "spotify", "home_automation"}
    write(folder / "http_request.py", '"""My own."""\n\ndef execute(params, context):\n    return 1\n')
    found, problems = discovery.scan(folder)
    mine = found["http_request"]
    assert mine.first_party is False and mine.shadows == "http_request" and mine.path == folder / "http_request.py"
    assert found["spotify"].first_party and found["spotify"].source == "first_party"
    write(folder / "spotify_control.py", '"""An old copy."""\n\ndef execute(params, context):\n    return 1\n')
    found, problems = discovery.scan(folder)
    assert "spotify_control" not in found
    assert any("old name of the first-party plugin 'spotify'" in m for _p, m in problems)


def test_a_first_party_plugin_cannot_be_uninstalled(home: Path) -> None:
    before = (discovery.FIRST_PARTY_DIR / "spotify.py").read_bytes()
    out = cli_json("plugins", "uninstall", "spotify", home=home, check=False)
    assert out["ok"] is False and "ships with midimon" in out["error"]
    assert (discovery.FIRST_PARTY_DIR / "spotify.py").read_bytes() == before


# -- live, over JACK ---------------------------------------------------------------------------


def printed_grants(home: Path) -> list[list[str]]:
    """The grant commands `midimon validate` prints, split like a POSIX shell would."""
    out = validate(home)
    commands = []
    for w in out.get("warnings", []):
        m = re.search(r"grant it with: (midimon plugins grant .+)$", w["message"])
        if m:
            commands.append(shlex.split(m.group(1)))
    return commands


@pytest.mark.jack
def test_the_three_snippets_work_live_after_the_printed_grants(
    harness, start_daemon, home, plugins_dir, http_server, mqtt_broker
) -> None:
    host, port = mqtt_broker
    accounts = FakeAccounts()
    api = FakeWebApi(accounts)
    try:
        cli_json(
            "plugins", "config", "spotify",
            "--set", f"client_id={accounts.client_id}",
            "--set", f"api_base={api.url}/v1",
            "--set", f"accounts_base={accounts.url}",
            home=home,
        )  # fmt: skip
        sign_in(home, accounts)
        device = f'[device]\nname = "{harness.out_name}"\n'
        (home / "config.toml").write_text(plan_config(http_server.url, f"mqtt://{host}:{port}", device))
        commands = printed_grants(home)
        plugins = sorted({c[3] for c in commands})
        assert plugins == ["home_automation", "http_request", "spotify"], commands
        for argv in commands:
            cli(*argv[1:], home=home)  # run exactly as printed
        assert printed_grants(home) == []
        d = start_daemon(None)
        ready(d, "http_request", "spotify", "home_automation")
        with Subscriber(host, port, "home/#") as sub:
            press(harness, 1)
            req = wait_for(lambda: http_server.requests and http_server.requests[-1], 10, what="the webhook")
            assert json.loads(req["body"]) == {"event": "pad_pressed", "note": 1}
            press(harness, 2)
            wait_for(lambda: api.player["is_playing"], 10, what="Spotify playing")
            accounts.expire_tokens()  # the sign-in lasts across an expiry
            press(harness, 2)
            wait_for(lambda: not api.player["is_playing"], 10, what="Spotify paused after a renewal")
            assert accounts.refreshes == 1
            press(harness, 3)
            got = sub.wait(lambda m: m, timeout=10)[0]
            assert (got["topic"], got["payload"], got["qos"]) == ("home/living_room/lights/set", "ON", 1)
        time.sleep(0.2)
    finally:
        api.close()
        accounts.close()


def test_the_cli_answers_an_old_name_with_the_new_one(home: Path) -> None:
    out = cli_json("plugins", "info", "spotify_control", home=home, check=False)
    assert out["ok"] is False and "'spotify_control' is now called 'spotify'" in out["error"]
    assert cli_json("plugins", "info", "spotify", home=home)["name"] == "spotify"


HA = """
[[modes]]
name = "Lights"

[[modes.mappings]]
trigger = { type = "Note", note = 36 }
action = { type = "Plugin", plugin = "home_automation", params = { service = "light.toggle", entity_id = "light.x" } }

[[modes.mappings]]
trigger = { type = "Note", note = 40 }
action = { type = "Plugin", plugin = "home_automation", params = { ha_trigger = "button_1" } }
"""


def test_home_assistant_mappings_get_exactly_the_grant_they_need(home: Path) -> None:
    cli_json(
        "plugins", "config", "home_automation",
        "--set", "ha_url=http://127.0.0.1:8123", "--set", "ha_token=t",
        "--set", "broker=mqtt://127.0.0.1:1884", "--set", "discovery=true",
        "--set", 'ha_triggers=[{"subtype": "button_1"}]',
        home=home,
    )  # fmt: skip
    (home / "config.toml").write_text(HA)
    commands = {" ".join(c) for c in printed_grants(home)}
    # the service call needs Home Assistant's host (not the broker); the device trigger needs the
    # broker and its discovery, availability and trigger topics
    assert commands == {
        "midimon plugins grant home_automation network --scope hosts=http://127.0.0.1:8123",
        "midimon plugins grant home_automation network --scope brokers=127.0.0.1:1884"
        " --scope publish=homeassistant/device_automation/midimon/# --scope publish=midimon/midimon/#",
    }
