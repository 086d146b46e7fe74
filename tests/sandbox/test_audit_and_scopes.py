"""The audit log's format and rotation, and the scope rules on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from midimon.config.home import Home
from midimon.sandbox import AuditLog, Grants
from midimon.sandbox.capabilities.scopes import (
    ScopeError,
    filter_covers,
    filters_overlap,
    normalise_host,
    origin_allowed,
    parse_url,
    topic_matches,
)


def test_audit_lines_are_json(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "logs" / "audit.jsonl")
    log.record("p", "network", "http.get", "allowed", "https://x/", "status 200")
    log.grant("p", "network")
    lines = (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert {k: first[k] for k in ("plugin", "capability", "action", "outcome")} == {
        "plugin": "p",
        "capability": "network",
        "action": "http.get",
        "outcome": "allowed",
    }
    assert json.loads(lines[1])["outcome"] == "granted"


def test_audit_rotates_by_size(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=2000, backups=2)
    for i in range(100):
        log.record("p", "fs", "fs.read_text", "allowed", f"file{i}")
    assert (tmp_path / "audit.jsonl").stat().st_size <= 2000
    assert (tmp_path / "audit.jsonl.1").exists() and (tmp_path / "audit.jsonl.2").exists()
    assert not (tmp_path / "audit.jsonl.3").exists()
    assert log.read()[-1]["target"] == "file99"


def test_audit_log_is_where_the_home_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the sandbox reads no environment for a path: the caller's Home names the file
    monkeypatch.setenv("MIDIMON_HOME", str(tmp_path / "elsewhere"))
    home = Home.at(tmp_path / "home")
    log = AuditLog(home.audit)
    log.record("p", "fs", "fs.read_text", "allowed", "x")
    assert (tmp_path / "home" / "logs" / "audit.jsonl").is_file()
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("API.Example.COM.", "api.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
    ],
)
def test_host_normalisation(raw: str, expected: str) -> None:
    assert normalise_host(raw) == expected


def test_userinfo_host_is_the_part_after_at() -> None:
    with pytest.raises(ScopeError, match="evil.example"):
        parse_url("https://api.example.com@evil.example/")


def test_origin_matching() -> None:
    _, origin = parse_url("https://API.example.com./v1")
    assert origin_allowed(origin, ("https://api.example.com",), ())
    assert not origin_allowed(origin, ("http://api.example.com",), ())
    assert not origin_allowed(origin, ("https://api.example.com:8443",), ())
    assert origin_allowed(origin, ("https://*.example.com",), ())
    assert not origin_allowed(parse_url("https://example.com/")[1], ("https://*.example.com",), ())
    assert not origin_allowed(parse_url("https://evilexample.com/")[1], ("https://*.example.com",), ())
    assert not origin_allowed(origin, ("https://*.example.com",), ("api.example.com",))
    _, idn = parse_url("https://BÜCHER.example/")
    assert origin_allowed(idn, ("https://bücher.example",), ())


@pytest.mark.parametrize(
    "flt, topic, ok",
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "$SYS/x", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("a/b", "a/b/c", False),
    ],
)
def test_topic_matching(flt: str, topic: str, ok: bool) -> None:
    assert topic_matches(flt, topic) is ok


@pytest.mark.parametrize(
    "granted, wanted, ok",
    [
        ("a/#", "a/+/c", True),
        ("a/#", "a", True),
        ("a/+", "a/#", False),
        ("a/+", "a/b", True),
        ("a/b", "a/+", False),
        ("#", "$SYS/#", False),
        ("+/b", "x/b", True),
        ("a/+/c", "a/+/c", True),
    ],
)
def test_filter_cover(granted: str, wanted: str, ok: bool) -> None:
    assert filter_covers(granted, wanted) is ok


def test_filter_overlap() -> None:
    assert filters_overlap("home/+/pin", "home/secrets/#")
    assert not filters_overlap("home/lights/#", "home/secrets/#")
    assert filters_overlap("#", "anything")


def test_grants_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown capabilities"):
        Grants.from_dict({"capabilities": ["root"]})
    with pytest.raises(ValueError, match="unknown scope"):
        Grants.from_dict({"capabilities": ["network"], "allow": {"hostz": []}})
