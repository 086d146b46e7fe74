"""`plugins info spotify` says whether the user is signed in and when the access token expires,
never a token: through a real sign-in (`midimon plugins auth spotify`) against the local fake of
Spotify's accounts service, then calls through the sandbox against the fake Web API."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from plankit import first_party, sign_in
from pluginkit import cli_json
from test_plan_spotify import configure, grants, services, settings
from testkit.fakes.spotify import FakeAccounts, FakeWebApi

from midimon.plugins.secrets import open_store


@pytest.fixture
def fakes():
    accounts = FakeAccounts()
    api = FakeWebApi(accounts)
    yield accounts, api
    api.close()
    accounts.close()


def _tokens(accounts: FakeAccounts) -> list[str]:
    tokens = list(accounts.access_tokens) + list(accounts.refresh_tokens)
    assert tokens  # a check for their absence means something only if there are some
    return tokens


def test_info_says_signed_in_and_the_expiry_and_no_token(home: Path, fakes) -> None:
    accounts, api = fakes
    configure(home, accounts, api)
    before = cli_json("plugins", "info", "spotify", home=home)
    assert before["auth"]["signed_in"] is False
    assert before["auth"]["sign_in"] == "midimon plugins auth spotify"
    assert before["auth"]["access_token_expires_at"] is None

    sign_in(home, accounts)
    stored = open_store(home, "spotify").all()
    with first_party(
        "spotify", home, grants=grants(accounts, api), settings=settings(accounts, api), services=services(home)
    ) as plugin:
        plugin.execute({"action": "play_pause"})
        open_store(home, "spotify").update({"expires_at": int(time.time()) + 10})  # renewed at the next call
        plugin.execute({"action": "play_pause"})
    assert accounts.refreshes == 1
    stored = open_store(home, "spotify").all()

    info = cli_json("plugins", "info", "spotify", home=home)
    auth = info["auth"]
    assert auth["signed_in"] is True and auth["sign_in"] is None
    assert auth["access_token_expires_at"] == stored["expires_at"]
    assert 0 < auth["access_token_expires_in_s"] <= stored["expires_at"] - time.time() + 1
    assert auth["sign_out"] == "midimon plugins auth spotify --logout"

    shown = json.dumps(info)
    audit = (home / "logs" / "audit.jsonl").read_text()
    assert '"spotify"' in audit  # the calls were audited: the search below looks at real records
    for token in _tokens(accounts):
        assert token not in shown and token not in audit


def test_the_info_page_says_it_in_words(home: Path, fakes, capsys) -> None:
    from midimon.engine.cli.plugins import info_page

    accounts, api = fakes
    configure(home, accounts, api)
    sign_in(home, accounts)
    page = info_page(cli_json("plugins", "info", "spotify", home=home))
    assert "signed in:   yes" in page and "--logout" in page
    for token in _tokens(accounts):
        assert token not in page


def test_a_plugin_that_does_not_sign_in_has_no_auth_section(home: Path) -> None:
    info = cli_json("plugins", "info", "http_request", home=home)
    assert "auth" not in info
