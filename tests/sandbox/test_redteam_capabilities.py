"""Red team: capability arguments that confuse the host's checks, and abuse of what is granted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from midimon.sandbox import AuditLog, Grants, PluginHost

# -- numeric IPv4 spellings: the resolver connects them to 127.0.0.1 -------------------------------

SPELLINGS = ["2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]"]


def _get_source(url: str) -> str:
    return (
        "def attack():\n"
        "    try:\n"
        f"        return http.get({url!r})['text']\n"
        "    except CapabilityError as e:\n"
        "        return 'refused: ' + str(e)\n"
    )


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_spelling_really_reaches_localhost(spelling: str, server: Any) -> None:
    """Control: each spelling, as the HTTP client resolves it, connects to 127.0.0.1."""
    try:
        httpx.get(f"http://{spelling}:{server.port}/control", timeout=2)
    except httpx.ConnectError:
        pytest.skip(f"{spelling} does not connect on this machine")
    assert "/control" in server.hits


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_redteam_numeric_ip_does_not_bypass_host_deny(
    spelling: str, server: Any, make_host: Callable[..., PluginHost]
) -> None:
    """A plugin declares an odd-looking host ('2130706433'); the user grants it, trusting the
    deny entry for their own machine. Before the fix the scope compared the raw spelling, so
    the deny never matched and the request reached the local service."""
    url = f"http://{spelling}:{server.port}/steal"
    grants = Grants.from_dict(
        {
            "capabilities": ["network"],
            "allow": {"hosts": [f"http://{spelling}:{server.port}"]},
            "deny": {"hosts": ["http://127.0.0.1:*"]},
        }
    )
    host = make_host(_get_source(url), grants)
    result = host.call("attack")
    assert server.hits == [], f"the denied local server was contacted: {result}"
    assert result.startswith("refused")


# -- the audit log: one record, one line, for every reader -----------------------------------------


def test_redteam_plugin_cannot_hide_its_audit_records(make_host: Callable[..., PluginHost], audit: AuditLog) -> None:
    """U+2028 in a path: json leaves it raw, str.splitlines() (``plugins info``) breaks the line
    there and the record became two unparsable halves, so the write vanished from the audit."""
    host = make_host(
        "def attack():\n"
        "    fs.write_text('notes\\u2028hidden.txt', 'x')\n"
        "    fs.write_text('b\\u2029c\\x85d.txt', 'y')\n"
        "    return 'done'\n",
        Grants.from_dict({"capabilities": ["filesystem"]}),
    )
    assert host.call("attack") == "done"
    records = []
    for line in audit.path.read_text("utf-8").splitlines():
        records.append(json.loads(line))  # every line is a whole record
    writes = [r for r in records if r["action"] == "fs.write_text"]
    assert [r["target"] for r in writes] == ["notes\u2028hidden.txt", "b\u2029c\x85d.txt"]
    assert len(audit.read()) == len(records)


# -- filling the disk through the plugin's own data folder -----------------------------------------


def _tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*")]
    return sum(p.stat().st_size for p in files if p.is_file()), len(files)


def test_redteam_fs_cannot_fill_the_disk(make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    """Each write was capped at 1 MiB, but not their number: a plugin with ``filesystem`` wrote
    file after file into its data folder, as fast as the disk took them."""
    from midimon.sandbox import Limits
    from midimon.sandbox.capabilities.fs import MAX_HOME_BYTES

    host = make_host(
        "def attack():\n"
        "    chunk = 'x' * 1000000\n"
        "    n = 0\n"
        "    try:\n"
        "        while n < 200:\n"
        "            fs.write_text('f' + str(n), chunk)\n"
        "            n = n + 1\n"
        "    except CapabilityError as e:\n"
        "        return [n, str(e)]\n"
        "    return [n, 'never refused']\n",
        Grants.from_dict({"capabilities": ["filesystem"]}),
        limits=Limits(call_timeout=30.0),
        data_dir=tmp_path / "d",
    )
    written, message = host.call("attack")
    size, _count = _tree_size(tmp_path / "d" / "files")
    assert size <= MAX_HOME_BYTES, f"{size} bytes written ({message})"
    assert "full" in message and written == MAX_HOME_BYTES // 1000000


def test_redteam_fs_cannot_exhaust_inodes(make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    from midimon.sandbox import Limits
    from midimon.sandbox.capabilities.fs import MAX_HOME_ENTRIES

    host = make_host(
        "def attack():\n"
        "    n = 0\n"
        "    try:\n"
        "        while n < 20000:\n"
        "            fs.write_text('e' + str(n), '')\n"
        "            n = n + 1\n"
        "    except CapabilityError as e:\n"
        "        return n\n"
        "    return n\n"
        "def rewrite():\n"
        "    fs.delete('e0')\n"
        "    fs.write_text('e1', 'still writable in place')\n"
        "    return fs.write_text('new', 'x')\n",
        Grants.from_dict({"capabilities": ["filesystem"]}),
        limits=Limits(call_timeout=30.0),
        data_dir=tmp_path / "d",
    )
    host.call("attack")
    _size, count = _tree_size(tmp_path / "d" / "files")
    assert count <= MAX_HOME_ENTRIES
    assert host.call("rewrite") == 1  # deleting frees room; rewriting a file is not a new entry
