"""http_request as the plan writes it: the plan's params, the event's values filled in on the
host, bearer and basic auth from the settings, forms and multipart files, against a local
http.server."""

from __future__ import annotations

import base64
import json
import tomllib
from pathlib import Path

import pytest
from plankit import first_party

from midimon.sandbox import SandboxError

# The plan's snippet, verbatim but for the host (a loopback server in the test).
PLAN_PARAMS = """
url = "https://api.example.com/webhook"
method = "POST"
headers = { "Content-Type" = "application/json", "Authorization" = "Bearer token123" }
body = { event = "pad_pressed", note = 1 }
timeout_ms = 5000
"""


def net(server) -> dict:
    return {"capabilities": ["network"], "allow": {"hosts": [server.url]}}


def test_the_plans_params_post_json_with_its_headers(home: Path, http_server) -> None:
    params = tomllib.loads(PLAN_PARAMS)
    params["url"] = http_server.url + "/webhook"
    with first_party("http_request", home, grants=net(http_server)) as plugin:
        assert plugin.execute(params, {"note": 1, "velocity": 100}) == 200
    req = http_server.requests[-1]
    assert req["method"] == "POST" and req["path"] == "/webhook"
    assert json.loads(req["body"]) == {"event": "pad_pressed", "note": 1}
    assert req["headers"]["Authorization"] == "Bearer token123"
    assert req["headers"]["Content-Type"] == "application/json"


def test_placeholders_are_filled_on_the_host_with_types_kept(home: Path, http_server) -> None:
    params = {
        "url": http_server.url + "/pad/{note}?mode={mode}",
        "method": "PUT",
        "headers": {"X-Velocity": "{velocity}"},
        "body": {"velocity": "{velocity}", "text": "note {note} at {{literal}}", "value": "{value}"},
    }
    with first_party("http_request", home, grants=net(http_server)) as plugin:
        plugin.execute(params, {"note": 36, "velocity": 99, "mode": "Live", "value": None})
    req = http_server.requests[-1]
    assert req["method"] == "PUT" and req["path"] == "/pad/36?mode=Live"
    assert req["headers"]["X-Velocity"] == "99"
    assert json.loads(req["body"]) == {"velocity": 99, "text": "note 36 at {literal}", "value": None}


def test_an_unknown_placeholder_names_itself_and_sends_nothing(home: Path, http_server) -> None:
    with first_party("http_request", home, grants=net(http_server)) as plugin:
        with pytest.raises(SandboxError, match=r"\{nope\} is not a value of this event"):
            plugin.execute({"url": http_server.url + "/{nope}"}, {"note": 1})
    assert http_server.requests == []


def test_a_string_body_is_sent_as_it_is(home: Path, http_server) -> None:
    raw = '{"already": "json", "n": {note}}'
    with first_party("http_request", home, grants=net(http_server)) as plugin:
        plugin.execute({"url": http_server.url, "body": raw, "headers": {"Content-Type": "text/plain"}}, {"note": 5})
    assert http_server.requests[-1]["body"] == '{"already": "json", "n": 5}'


def test_bearer_token_from_the_settings(home: Path, http_server) -> None:
    with first_party("http_request", home, grants=net(http_server), settings={"token": "s3cret"}) as plugin:
        plugin.execute({"url": http_server.url, "method": "GET", "auth": "bearer"})
    assert http_server.requests[-1]["headers"]["Authorization"] == "Bearer s3cret"


def test_basic_auth_from_the_settings_is_encoded_on_the_host(home: Path, http_server) -> None:
    settings = {"username": "ada", "password": "p:w"}
    with first_party("http_request", home, grants=net(http_server), settings=settings) as plugin:
        plugin.execute({"url": http_server.url, "method": "DELETE", "auth": "basic"})
    req = http_server.requests[-1]
    assert req["method"] == "DELETE"
    assert base64.b64decode(req["headers"]["Authorization"].split()[1]) == b"ada:p:w"


def test_form_fields_are_form_encoded(home: Path, http_server) -> None:
    with first_party("http_request", home, grants=net(http_server)) as plugin:
        plugin.execute({"url": http_server.url, "form": {"pad": "{note}", "on": True}}, {"note": 7})
    req = http_server.requests[-1]
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert req["body"] == "pad=7&on=true"


def test_a_granted_file_goes_multipart_and_an_ungranted_one_sends_nothing(
    home: Path, http_server, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "scene.txt").write_text("lights: warm")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not send")
    grants = {
        "capabilities": ["network", "filesystem"],
        "allow": {"hosts": [http_server.url], "read_paths": [str(shared)]},
    }
    with first_party("http_request", home, grants=grants) as plugin:
        plugin.execute({"url": http_server.url, "form": {"caption": "hi", "f": {"file": str(shared / "scene.txt")}}})
        req = http_server.requests[-1]
        assert req["headers"]["Content-Type"].startswith("multipart/form-data")
        assert "lights: warm" in req["body"] and 'filename="scene.txt"' in req["body"]
        with pytest.raises(SandboxError, match="denied"):
            plugin.execute({"url": http_server.url, "form": {"f": {"file": str(secret)}}})
    assert len(http_server.requests) == 1
    assert "do not send" not in json.dumps(http_server.requests)


def test_old_params_json_and_timeout_still_work(home: Path, http_server) -> None:
    with first_party("http_request", home, grants=net(http_server)) as plugin:
        assert plugin.execute({"url": http_server.url, "json": {"scene": 2}, "timeout": 2}) == 200
    assert json.loads(http_server.requests[-1]["body"]) == {"scene": 2}


def test_an_ungranted_host_gets_no_request(home: Path, http_server) -> None:
    grants = {"capabilities": ["network"], "allow": {"hosts": ["https://api.example.com"]}}
    with first_party("http_request", home, grants=grants) as plugin:
        with pytest.raises(SandboxError, match="not in the plugin's granted hosts"):
            plugin.execute({"url": http_server.url + "/x"})
    assert http_server.requests == []
