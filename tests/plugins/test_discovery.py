"""Finding plugins: files, folders, entry points, and the watcher that notices edits."""

from __future__ import annotations

import os
import time

from pluginkit import write
from testkit.jack import wait_for

from midimon.plugins import discovery
from midimon.plugins.watch import Debouncer

CODE = "def execute(params, context):\n    return 1\n"


def test_scan_finds_files_and_folders(tmp_path):
    (tmp_path / "alpha.py").write_text(CODE)
    (tmp_path / "beta").mkdir()
    (tmp_path / "beta" / "plugin.toml").write_text('[plugin]\nname = "beta"\n')
    (tmp_path / "not_a_plugin").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    found, problems = discovery.scan(tmp_path, with_first_party=False)
    assert {n: c.packaging for n, c in found.items()} == {"alpha": "file", "beta": "folder"}
    assert problems == []


def test_editor_temporaries_are_ignored(tmp_path):
    for name in (".alpha.py.swp", "alpha.py~", ".#alpha.py", "_private.py", "alpha.py.tmp"):
        (tmp_path / name).write_text(CODE)
    assert discovery.scan(tmp_path, with_first_party=False)[0] == {}


def test_invalid_names_are_reported_not_loaded(tmp_path):
    (tmp_path / "Bad-Name.py").write_text(CODE)
    found, problems = discovery.scan(tmp_path, with_first_party=False)
    assert found == {} and "invalid plugin name" in problems[0][1]


def test_symlinks_in_the_folder_are_reported(tmp_path):
    (tmp_path / "real.txt").write_text(CODE)
    (tmp_path / "linked.py").symlink_to(tmp_path / "real.txt")
    found, problems = discovery.scan(tmp_path, with_first_party=False)
    assert found == {} and "symbolic links" in problems[0][1]


def test_missing_folder_is_empty(tmp_path):
    assert discovery.scan(tmp_path / "nope", with_first_party=False) == ({}, [])


def test_entry_point_plugins_are_trusted(tmp_path, monkeypatch, manager, plugins_dir):
    pkg = tmp_path / "site"
    (pkg / "acme_plugin").mkdir(parents=True)
    (pkg / "acme_plugin" / "__init__.py").write_text(
        "def execute(params, context):\n    import os\n    return 'trusted ' + str(os.getpid() > 0)\n"
    )
    dist = pkg / "acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[midimon.plugins]\nacme = acme_plugin\n")
    monkeypatch.syspath_prepend(str(pkg))
    assert discovery.entry_points()["acme"].trusted
    m = manager()
    assert m.plugin_call("acme", {}, {}) == "trusted True"
    status = next(p for p in m.status()["plugins"] if p["name"] == "acme")
    assert status["source"] == "entry_point" and status["signature"]["status"] == "trusted"


def test_debouncer_collapses_a_burst_into_one_call():
    calls = []
    d = Debouncer(lambda: calls.append(time.monotonic()), quiet=0.05, max_delay=1.0)
    try:
        for _ in range(10):
            d.poke()
            time.sleep(0.01)
        wait_for(lambda: calls, 2, what="the debounced call")
        time.sleep(0.15)
        assert len(calls) == 1
    finally:
        d.close()


def test_watcher_loads_new_files_and_atomic_saves(plugins_dir, manager):
    m = manager(watch=True)
    write(plugins_dir / "fresh.py", CODE)
    wait_for(lambda: "fresh" in m.runtime.active, 5, what="the new plugin")
    first = m.runtime.active["fresh"].generation
    write(plugins_dir / "fresh.py", CODE.replace("1", "2"))
    wait_for(lambda: m.runtime.active["fresh"].generation > first, 5, what="the edit")
    assert m.plugin_call("fresh", {}, {}) == 2
    # a file written in two steps (caught mid-write) ends on the complete version
    with open(plugins_dir / "fresh.py", "w") as f:
        f.write("def execute(params, context):\n")
        f.flush()
        os.fsync(f.fileno())
        time.sleep(0.3)
        f.write("    return 3\n")
    wait_for(lambda: "fresh" in m.runtime.active and m.plugin_call("fresh", {}, {}) == 3, 5, what="the completed write")
    (plugins_dir / "fresh.py").unlink()
    wait_for(lambda: "fresh" not in m.runtime.active, 5, what="the removal")
