"""Every editor's way of saving reaches the daemon exactly once, with the final content."""

import hashlib
import os
import subprocess
import time

import pytest
from livekit import modes_config, settle_no_more, wait_for


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def d(live_daemon):
    return live_daemon(modes_config("A"))


def active(d):
    return d.daemon.engine.table.sha256


def check_one_reload(d, text):
    settle_no_more(lambda: len(d.file_reloads()), 1)
    assert d.file_reloads()[0]["ok"], d.file_reloads()[0]
    assert active(d) == sha(text)
    assert d.daemon.engine.mode == "A" and d.marker() == 1  # "A" stays current; it is now the second mode


def test_write_in_place(d):
    new = modes_config("B", "A")  # marker for A becomes 1
    with open(d.config, "r+") as f:  # overwrite without ever being empty
        f.write(new)
        f.truncate()
    check_one_reload(d, new)


def test_truncate_then_write_in_two_steps(d):
    new = modes_config("B", "A")
    with open(d.config, "w") as f:
        f.flush()
        time.sleep(0.4)  # longer than the debounce: the watcher sees an empty file
        f.write(new[:40])
        f.flush()
        time.sleep(0.02)
        f.write(new[40:])
    check_one_reload(d, new)
    assert all(o["ok"] for o in d.outcomes)  # the empty file was never taken as a config


def test_atomic_replace(d):
    new = modes_config("B", "A")
    tmp = d.config.with_name(".config.toml.swp123")
    tmp.write_text(new)
    os.replace(tmp, d.config)
    check_one_reload(d, new)


def test_vim_rename_and_rewrite(d):
    new = modes_config("B", "A")
    backup = d.config.with_name("config.toml~")
    os.rename(d.config, backup)  # vim's backupcopy=no: the original becomes the backup
    time.sleep(0.4)  # the file is missing for longer than the debounce
    with open(d.config, "w") as f:
        f.write(new)
        f.flush()
        os.fsync(f.fileno())
    os.unlink(backup)
    check_one_reload(d, new)
    assert all(o["ok"] for o in d.outcomes)


def test_sed_in_place(d):
    subprocess.run(["sed", "-i", 's/name = "A"/name = "Z"/', str(d.config)], check=True)
    settle_no_more(lambda: len(d.file_reloads()), 1)
    assert d.daemon.engine.mode == "Z"  # "A" is gone: the first mode
    assert active(d) == sha(d.config.read_text())


def test_burst_of_ten_writes_gives_one_reload_with_the_last(d):
    texts = [modes_config("A", f"V{i}") for i in range(10)]
    for t in texts:
        d.config.write_text(t)
        time.sleep(0.02)
    settle_no_more(lambda: len(d.file_reloads()), 1)
    assert active(d) == sha(texts[-1])
    assert d.daemon.engine.table.mode_order[-1] == "V9"


def test_touch_without_change_does_not_reload(d):
    os.utime(d.config)
    d.config.write_text(d.config.read_text())
    time.sleep(0.8)
    assert d.file_reloads() == []


def test_invalid_save_keeps_old_table_and_reports_file_line_key_then_recovers(d):
    good_sha = active(d)
    bad = modes_config("A").replace("note = 36 }", "note = 300 }")
    d.config.write_text(bad)
    settle_no_more(lambda: len(d.file_reloads()), 1)
    o = d.file_reloads()[0]
    assert not o["ok"]
    diag = o["diagnostics"][0]
    assert (
        diag["file"] == str(d.config)
        and diag["line"] == bad.splitlines().index(next(l for l in bad.splitlines() if "note = 300" in l)) + 1
    )
    assert diag["path"].startswith("modes[0].mappings[0].trigger")
    assert active(d) == good_sha and d.marker() == 0  # the old table still runs
    status = d.daemon.status()
    assert status["last_reload"]["ok"] is False
    assert any("config reload failed" in e["message"] for e in status["stats"]["recent_errors"])
    # a broken TOML next, then a good one: the watcher is not stuck in "reloading"
    d.config.write_text("[[modes]\nname = ")
    settle_no_more(lambda: len(d.file_reloads()), 2)
    fixed = modes_config("B", "A")
    d.config.write_text(fixed)
    settle_no_more(lambda: len(d.file_reloads()), 3)
    assert d.file_reloads()[-1]["ok"] and active(d) == sha(fixed)


def test_watcher_survives_a_crashing_reload_and_a_dead_observer(d):
    calls = []
    real = d.daemon.reload

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(*a, **kw)

    d.daemon.reload = flaky
    d.config.write_text(modes_config("A", "X"))
    wait_for(lambda: len(calls) == 1, 5, what="the crashing reload")
    w = d.live.watcher
    w._observer.stop()  # the observer dies (as if its folder vanished)
    w._observer.join(2)
    time.sleep(2.5)  # the supervisor notices within SUPERVISE_S
    final = modes_config("A", "Y")
    d.config.write_text(final)
    wait_for(lambda: active(d) == sha(final), 8, what="the save after the crash and the restart")
    assert w.state == "running"
