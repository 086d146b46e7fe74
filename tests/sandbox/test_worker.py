"""PluginHost and its worker: calls, errors as plain data, restarts, suspension, info, state."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from midimon.sandbox import (
    Limits,
    PluginCallError,
    PluginCompileError,
    PluginCrashed,
    PluginHost,
    PluginLoadError,
    PluginSuspended,
    PluginTimeout,
)

PLUGIN = '''"""Counts things.

Longer description here."""
VERSION = "1.2.0"
KIND = "action"
CAPABILITIES = ["network"]
SCOPES = {"hosts": ["https://api.example.com"]}
PARAMS_SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}
counter = {"n": 0}

class Box:
    def __init__(self, v):
        self.v = v

def bump(by):
    counter["n"] = counter["n"] + by
    return counter["n"]

def echo(*args):
    return list(args)

def boxed(v):
    b = Box(v)
    b.v = b.v * 2
    return b.v

def fail():
    raise ValueError("bad value " + str(counter["n"]))

def custom():
    class Oops(Exception):
        pass
    raise Oops("mine")

def not_plain():
    return Box(1)

def sleepy(t):
    import time
    time.sleep(t)
    return t
'''


@pytest.fixture
def host(make_host: Callable[..., PluginHost]) -> PluginHost:
    return make_host(PLUGIN)


def test_info_reports_declarations(host: PluginHost) -> None:
    info = host.info()
    assert info["description"] == "Counts things."
    assert info["version"] == "1.2.0"
    assert info["kind"] == "action"
    assert info["capabilities"] == ["network"]
    assert info["scopes"] == {"hosts": ["https://api.example.com"]}
    assert info["params_schema"]["properties"]["n"]["type"] == "integer"
    assert {"bump", "echo", "fail"} <= set(info["functions"])
    assert "Box" not in info["functions"]


def test_state_persists_between_calls_and_plain_data_round_trips(host: PluginHost) -> None:
    assert host.call("bump", 2) == 2
    assert host.call("bump", 3) == 5
    value = {"a": [1, 2.5, None, True, "ü"], "b": {"c": "d"}}
    assert host.call("echo", value, "x") == [value, "x"]
    assert host.call("boxed", 21) == 42  # a plugin may write attributes of its own objects


def test_plugin_exception_arrives_as_plain_fields(host: PluginHost) -> None:
    with pytest.raises(PluginCallError) as info:
        host.call("fail")
    err = info.value
    assert (err.type_name, err.message, err.filename, err.lineno) == ("ValueError", "bad value 0", "testplug.py", 28)
    assert str(err) == "testplug.py:28: ValueError: bad value 0"
    assert err.__cause__ is None and err.__context__ is None
    with pytest.raises(PluginCallError, match="Oops: mine"):
        host.call("custom")


def test_non_plain_arguments_and_results_are_refused(host: PluginHost) -> None:
    with pytest.raises(TypeError, match="plain data"):
        host.call("echo", object())
    with pytest.raises(PluginCallError, match="plain data"):
        host.call("not_plain")


def test_only_plugin_functions_can_be_called(host: PluginHost) -> None:
    for name in ("getattr", "_getattr_", "Box", "counter", "missing", "__import__"):
        with pytest.raises(PluginCallError, match="defines no function"):
            host.call(name)


def test_timeout_kills_and_restarts_with_fresh_state(make_host: Callable[..., PluginHost]) -> None:
    restarted: list[int] = []
    host = make_host(PLUGIN, limits=Limits(call_timeout=0.5), on_restart=lambda h: restarted.append(h.state["pid"]))
    host.call("bump", 7)
    old_pid = host.state["pid"]
    started = time.monotonic()
    with pytest.raises(PluginTimeout):
        host.call("sleepy", 10)
    assert time.monotonic() - started < 1.5
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)  # killed and reaped
    assert host.call("bump", 1) == 1  # module state starts over in the new worker
    assert restarted == [host.state["pid"]]
    assert host.state["timeouts"] == 1 and host.state["restarts"] == 1


def test_per_call_timeout_overrides_default(host: PluginHost) -> None:
    assert host.call("sleepy", 0.2, timeout=2.0) == 0.2
    with pytest.raises(PluginTimeout):
        host.call("sleepy", 1.0, timeout=0.2)


def test_crash_is_reported_and_worker_restarts(host: PluginHost) -> None:
    host.call("bump", 1)
    os.kill(host.state["pid"], signal.SIGKILL)  # like the OOM killer would
    with pytest.raises(PluginCrashed, match="SIGKILL"):
        host.call("bump", 1)
    assert host.call("bump", 1) == 1
    assert host.state["crashes"] == 1


def test_suspension_after_failures_in_a_row_and_resume(make_host: Callable[..., PluginHost]) -> None:
    host = make_host(PLUGIN, limits=Limits(max_failures=3))
    for _ in range(2):
        with pytest.raises(PluginCallError):
            host.call("fail")
    assert host.call("bump", 1) == 1  # a success resets the count
    for _ in range(3):
        with pytest.raises(PluginCallError):
            host.call("fail")
    assert host.state["status"] == "suspended"
    with pytest.raises(PluginSuspended, match="3 failures in a row"):
        host.call("bump", 1)
    host.resume()
    assert host.call("bump", 1) == 1


def test_compile_error_from_start(make_host: Callable[..., PluginHost]) -> None:
    host = make_host("def f():\n    return f.__code__\n", start=False)
    with pytest.raises(PluginCompileError) as info:
        host.start()
    assert (info.value.lineno, info.value.col) == (2, 12)
    assert host.state["status"] == "broken" and host.state["pid"] is None
    with pytest.raises(PluginCompileError):
        host.call("f")


def test_module_level_failure_is_a_load_error(make_host: Callable[..., PluginHost]) -> None:
    host = make_host("x = 1\nraise RuntimeError('nope')\n", start=False)
    with pytest.raises(PluginLoadError) as info:
        host.start()
    assert (info.value.type_name, info.value.lineno) == ("RuntimeError", 2)
    assert "nope" in str(info.value)


def test_module_level_loop_hits_load_timeout(make_host: Callable[..., PluginHost]) -> None:
    host = make_host("while True:\n    pass\n", start=False, limits=Limits(load_timeout=0.5))
    started = time.monotonic()
    with pytest.raises(PluginLoadError, match="did not finish"):
        host.start()
    assert time.monotonic() - started < 1.5


def test_print_and_log_reach_the_host_log(
    host: PluginHost, make_host: Callable[..., PluginHost], caplog: pytest.LogCaptureFixture
) -> None:
    h = make_host("def f():\n    print('hello', 1)\n    log.warning('careful', 2)\n    return 0\n", name="talker")
    with caplog.at_level("INFO", logger="midimon.plugin.talker"):
        h.call("f")
    assert ("print", "hello 1\n") in list(h.recent_logs)
    assert ("warning", "careful 2") in list(h.recent_logs)
    assert any("careful 2" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_calls_from_many_threads_are_serialised(host: PluginHost) -> None:
    def worker() -> None:
        for _ in range(50):
            host.call("bump", 1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert host.call("bump", 0) == 200


def test_stop_kills_the_worker(host: PluginHost) -> None:
    pid = host.state["pid"]
    host.stop()
    assert host.state["status"] == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_worker_environment_is_empty(make_host: Callable[..., PluginHost]) -> None:
    os.environ["MIDIMON_TEST_TOKEN"] = "should-not-leak"
    try:
        host = make_host("def f():\n    return 1\n")
        environ = open(f"/proc/{host.state['pid']}/environ", "rb").read()
    finally:
        del os.environ["MIDIMON_TEST_TOKEN"]
    assert b"should-not-leak" not in environ


def test_hot_swap_pattern_shares_the_store(make_host: Callable[..., PluginHost], tmp_path) -> None:
    """What the lifecycle layer will do on reload: new host, same data dir, swap."""
    data = tmp_path / "shared"
    old = make_host("def put(v):\n    store.set('k', v)\n", data_dir=data)
    old.call("put", {"kept": True})
    new = make_host("def get():\n    return store.get('k')\n", data_dir=data)
    old.stop()
    assert new.call("get") == {"kept": True}


def test_stop_during_a_call_interrupts_it_without_counting_a_failure(make_host: Callable[..., PluginHost]) -> None:
    host = make_host(PLUGIN, limits=Limits(call_timeout=30))
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            host.call("sleepy", 20)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    host.stop(timeout=0.2)
    t.join(5)
    assert time.monotonic() - started < 2
    assert len(errors) == 1 and isinstance(errors[0], PluginCrashed)
    assert "stopped by the host" in str(errors[0])
    assert host.state["consecutive_failures"] == 0


def test_a_dead_zygote_is_replaced(make_host: Callable[..., PluginHost]) -> None:
    from midimon.sandbox import spawner

    orphan = make_host("def f():\n    return 1\n")
    old = spawner._zygote.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    time.sleep(0.1)
    host = make_host("def f():\n    return 2\n", name="after")
    assert host.call("f") == 2
    assert spawner._zygote.pid != old
    # The worker of the dead zygote still answers, and stop() still kills it.
    assert orphan.call("f") == 1
    orphan_pid = orphan.state["pid"]
    orphan.stop()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            state = open(f"/proc/{orphan_pid}/stat").read().split()[2]
        except FileNotFoundError:
            break
        if state == "Z":
            break
        time.sleep(0.02)
    else:
        pytest.fail("the orphaned worker was not killed")


def test_oversized_source_is_refused_before_any_worker(make_host: Callable[..., PluginHost]) -> None:
    with pytest.raises(PluginCompileError, match="larger than"):
        make_host("x = 1\n" * 100, start=False, limits=Limits(max_source_bytes=100))
