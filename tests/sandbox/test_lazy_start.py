"""``PluginHost.start(lazy=True)``: compile now, fork the worker at the first call.

A lazily started plugin still refuses a mistake at start (with its line), costs no process
until it is called, and its first call starts the worker, runs ``on_restart`` first (where the
runtime re-initialises a plugin) and is not counted as a restart.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from midimon.sandbox import PluginCompileError, PluginHost
from midimon.sandbox.policy import compile_plugin_cached

SOURCE = """
calls = []

def execute(params, context):
    calls.append(1)
    return {"n": len(calls), "pid_known": True}
"""


def test_lazy_start_forks_no_worker_until_the_first_call(make_host: Callable[..., PluginHost]) -> None:
    seen: list[int | None] = []
    host = make_host(SOURCE, start=False, on_restart=lambda h: seen.append(h.state["pid"]))
    assert host.start(lazy=True) == {}
    state = host.state
    assert state["pid"] is None and state["status"] == "idle" and state["starts"] == 0
    assert host.call("execute", {}, {}) == {"n": 1, "pid_known": True}
    state = host.state
    assert state["pid"] is not None and os.path.exists(f"/proc/{state['pid']}")
    assert state["starts"] == 1 and state["restarts"] == 0 and state["status"] == "running"
    assert seen == [state["pid"]]  # on_restart ran once, with the fresh worker, before the call
    assert host.call("execute", {}, {}) == {"n": 2, "pid_known": True}  # the same worker after
    assert host.state["starts"] == 1


def test_lazy_start_still_refuses_a_compile_error_with_its_line(make_host: Callable[..., PluginHost]) -> None:
    host = make_host("x = 1\ndef execute(params, context):\n    return _secret\n", start=False)
    with pytest.raises(PluginCompileError) as info:
        host.start(lazy=True)
    assert info.value.lineno == 3
    assert host.state["status"] == "broken" and host.state["pid"] is None
    with pytest.raises(PluginCompileError):
        host.call("execute", {}, {})
    assert host.state["starts"] == 0  # no worker was ever forked for it


def test_a_top_level_error_of_a_lazy_plugin_shows_at_its_first_call(make_host: Callable[..., PluginHost]) -> None:
    host = make_host("x = 1 / 0\ndef execute(params, context):\n    return 1\n", start=False)
    assert host.start(lazy=True) == {}
    with pytest.raises(Exception) as info:
        host.call("execute", {}, {})
    assert "ZeroDivisionError" in str(info.value) or "division" in str(info.value)
    assert host.state["last_error"]


def test_the_compile_cache_is_keyed_by_the_source() -> None:
    a = compile_plugin_cached("x = 1\n", "p.py")
    assert compile_plugin_cached("x = 1\n", "p.py") is a
    b = compile_plugin_cached("x = 2\n", "p.py")
    assert b is not a
    namespace: dict[str, Any] = {}
    exec(b.code, namespace)  # the test's own source
    assert namespace["x"] == 2
    assert compile_plugin_cached("x = 1\n", "q.py") is not a  # the name is in the code object
