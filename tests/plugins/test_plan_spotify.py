"""spotify as the plan writes it, and a sign-in that lasts: `midimon plugins auth spotify` against
a local fake of Spotify's accounts service (authorize, token with PKCE verification, refresh),
then the plugin's actions against a fake Web API across a token expiry and a revoke."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
import requests
from plankit import first_party, sign_in
from pluginkit import cli_json
from testkit.fakes.spotify import FakeAccounts, FakeWebApi

from midimon.plugins.secrets import open_store, opener
from midimon.sandbox import HostServices, SandboxError


@pytest.fixture
def spotify_fakes():
    accounts = FakeAccounts()
    api = FakeWebApi(accounts)
    yield accounts, api
    api.close()
    accounts.close()


def configure(home: Path, accounts: FakeAccounts, api: FakeWebApi) -> None:
    cli_json(
        "plugins",
        "config",
        "spotify",
        "--set",
        f"client_id={accounts.client_id}",
        "--set",
        f"api_base={api.url}/v1",
        "--set",
        f"accounts_base={accounts.url}",
        home=home,
    )


def services(home: Path, notes: list | None = None) -> HostServices:
    notify = (lambda title, body: notes.append((title, body))) if notes is not None else HostServices().notify
    return HostServices(secret_store=opener(home), notify=notify)


def grants(accounts: FakeAccounts, api: FakeWebApi) -> dict:
    return {"capabilities": ["network"], "allow": {"hosts": [api.url, accounts.url]}}


def settings(accounts: FakeAccounts, api: FakeWebApi) -> dict:
    return {"client_id": accounts.client_id, "api_base": api.url + "/v1", "accounts_base": accounts.url}


def test_sign_in_with_pkce_stores_the_refresh_token_privately(home: Path, spotify_fakes) -> None:
    accounts, api = spotify_fakes
    configure(home, accounts, api)
    result = sign_in(home, accounts)
    assert result["signed_in"] is True and accounts.exchanges == 1
    store = open_store(home, "spotify")
    saved = store.all()
    assert saved["refresh_token"] in accounts.refresh_tokens
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    # nothing the CLI prints carries a token
    shown = json.dumps(result) + json.dumps(cli_json("plugins", "info", "spotify", home=home))
    assert saved["refresh_token"] not in shown and saved["access_token"] not in shown


def test_a_wrong_code_verifier_gets_no_token(home: Path, spotify_fakes) -> None:
    accounts, _api = spotify_fakes
    answer = requests.post(
        accounts.url + "/api/token",
        data={
            "client_id": accounts.client_id,
            "grant_type": "authorization_code",
            "code": "nope",
            "redirect_uri": "http://127.0.0.1:1/callback",
        },
        timeout=5,
    )
    assert answer.status_code == 400 and accounts.exchanges == 0


def test_the_plans_play_pause_keeps_working_across_expiry_and_revoke(home: Path, spotify_fakes) -> None:
    accounts, api = spotify_fakes
    configure(home, accounts, api)
    sign_in(home, accounts)
    store = open_store(home, "spotify")
    with first_party(
        "spotify", home, grants=grants(accounts, api), settings=settings(accounts, api), services=services(home)
    ) as plugin:
        plugin.execute({"action": "play_pause"})
        assert api.player["is_playing"] is True and accounts.refreshes == 0
        # the access token is about to expire: renewed before the call, no 401 seen
        store.update({"expires_at": int(time.time()) + 10})
        plugin.execute({"action": "play_pause"})
        assert api.player["is_playing"] is False and accounts.refreshes == 1
        assert not any(r["path"].startswith("/v1") and False for r in api.requests)
        # revoked early (the API answers 401): renewed once and the press still works
        accounts.expire_tokens()
        before = len([r for r in api.requests if r["method"] == "PUT"])
        plugin.execute({"action": "play"})
        assert api.player["is_playing"] is True and accounts.refreshes == 2
        assert len([r for r in api.requests if r["method"] == "PUT"]) == before + 2  # 401, then the retry
    audit = (home / "logs" / "audit.jsonl").read_text()
    for token in list(accounts.access_tokens) + list(accounts.refresh_tokens):
        assert token not in audit


def test_every_plan_action_against_the_web_api(home: Path, spotify_fakes) -> None:
    accounts, api = spotify_fakes
    configure(home, accounts, api)
    sign_in(home, accounts)
    notes: list = []
    with first_party(
        "spotify",
        home,
        grants=grants(accounts, api),
        settings=settings(accounts, api),
        services=services(home, notes),
    ) as plugin:
        plugin.execute({"action": "next"})
        assert api.player["track"] == 1
        assert plugin.execute({"action": "now_playing"}) == "So What"
        assert notes == [("Now playing: So What", "Miles Davis \u2014 Kind of Blue")]
        plugin.execute({"action": "previous"})
        assert api.player["track"] == 0
        assert plugin.execute({"action": "volume", "volume": 30}) == 30
        assert plugin.execute({"action": "volume"}, {"value": 127}) == 100  # follows a knob
        assert plugin.execute({"action": "volume_down", "step": 25}) == 75 and api.player["volume"] == 75
        assert plugin.execute({"action": "volume_up"}) == 85
        plugin.execute({"action": "pause"})
        assert api.player["is_playing"] is False
        uri = plugin.execute({"action": "play_playlist", "playlist": "morning jazz"})
        assert uri == api.playlists["Morning Jazz"] and api.player["context"] == uri
        plugin.execute({"action": "play_playlist", "playlist": "spotify:album:1weenld61qoidwYuZ1GESA"})
        assert api.player["context"] == "spotify:album:1weenld61qoidwYuZ1GESA"
        with pytest.raises(SandboxError, match="no playlist named 'Nope'"):
            plugin.execute({"action": "play_playlist", "playlist": "Nope"})
        plugin.execute({"command": "toggle"})  # the old params still work
        assert api.player["is_playing"] is False


def test_not_signed_in_says_how_and_contacts_nothing(home: Path, spotify_fakes) -> None:
    accounts, api = spotify_fakes
    with first_party(
        "spotify", home, grants=grants(accounts, api), settings=settings(accounts, api), services=services(home)
    ) as plugin:
        with pytest.raises(SandboxError, match="midimon plugins auth spotify"):
            plugin.execute({"action": "play"})
    assert api.requests == [] and accounts.requests == []


def test_an_accounts_base_outside_the_grant_is_not_contacted(home: Path, spotify_fakes) -> None:
    accounts, api = spotify_fakes
    configure(home, accounts, api)
    sign_in(home, accounts)
    open_store(home, "spotify").update({"expires_at": 0})
    only_api = {"capabilities": ["network"], "allow": {"hosts": [api.url]}}
    before = len(accounts.requests)
    with first_party(
        "spotify", home, grants=only_api, settings=settings(accounts, api), services=services(home)
    ) as plugin:
        with pytest.raises(SandboxError, match="accounts base"):
            plugin.execute({"action": "play"})
    assert len(accounts.requests) == before and accounts.refreshes == 0


def test_logout_forgets_the_sign_in(home: Path, spotify_fakes) -> None:
    accounts, api = spotify_fakes
    configure(home, accounts, api)
    sign_in(home, accounts)
    out = cli_json("plugins", "auth", "spotify", "--logout", home=home)
    assert out["was_signed_in"] is True
    assert not open_store(home, "spotify").path.exists()
