"""Code the zygote compiles once for an idle first-party plugin (``spawner.precompile``).

A worker uses the zygote's code object only for exactly the source and file it is asked to
load; any other source (the same file name edited) is compiled as always, and a source that
does not compile is not kept.
"""

from __future__ import annotations

from collections.abc import Callable

from midimon.sandbox import PluginHost, spawner

LIMIT = 512 * 1024
A = "def execute(params, context):\n    return 'a'\n"
B = "def execute(params, context):\n    return 'b'\n"


def test_a_lazy_host_that_leaves_the_compile_runs_the_zygotes_code(make_host: Callable[..., PluginHost]) -> None:
    host = make_host(A, start=False)
    assert host.start(lazy=True, compile_now=False) == {}
    assert host.state["pid"] is None and host.state["status"] == "idle"
    assert host.call("execute", {}, {}) == "a"


def test_only_the_exact_source_is_taken_from_the_zygote(make_host: Callable[..., PluginHost]) -> None:
    first = make_host(A, start=False)
    first.start(lazy=True, compile_now=False)
    assert first.call("execute", {}, {}) == "a"
    edited = make_host(B, start=False)  # the same file name (the fixture's), another source
    assert edited.filename == first.filename
    edited.start()
    assert edited.call("execute", {}, {}) == "b"


def test_a_source_that_does_not_compile_is_not_kept() -> None:
    assert spawner.precompile(A, "/plugins/a.py", LIMIT)
    assert not spawner.precompile("def execute(:\n", "/plugins/broken.py", LIMIT)
