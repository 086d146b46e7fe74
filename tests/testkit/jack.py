"""Drive midimon through a real JACK MIDI graph.

scripts/test starts ``jackd -S -R -d dummy`` and exports MIDIMON_TEST_JACK=1 plus the JACK
environment. When run by hand without it, :func:`ensure_server` starts a private jackd for the
session (and the tests skip only when jackd is not installed and MIDIMON_REQUIRE_REAL is unset).

Facts worth keeping (DESIGN.md): never poll jack_lsp while clients open (it can freeze the graph
in sync mode); list ports through our own mido client; let a new client settle before connecting.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

JACK_ENV = {
    "JACK_NO_AUDIO_RESERVATION": "1",
    "JACK_NO_START_SERVER": "1",
    "MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK",
}

_private: subprocess.Popen | None = None


def _use_jack_in_this_process() -> None:
    # mido reads MIDO_BACKEND once, when first imported: set the back end explicitly too
    import mido

    mido.set_backend(JACK_ENV["MIDO_BACKEND"], load=True)


def ensure_server() -> dict:
    """Return the environment for JACK clients, starting a private server if needed."""
    global _private
    env = dict(JACK_ENV)
    if os.environ.get("MIDIMON_TEST_JACK"):
        if os.environ.get("JACK_DEFAULT_SERVER"):
            env["JACK_DEFAULT_SERVER"] = os.environ["JACK_DEFAULT_SERVER"]
        os.environ.update(env)
        _use_jack_in_this_process()
        return env
    if shutil.which("jackd") is None:
        if os.environ.get("MIDIMON_REQUIRE_REAL"):
            pytest.fail("jackd is not installed but MIDIMON_REQUIRE_REAL is set")
        pytest.skip("jackd is not installed (scripts/test installs jackd2)")
    if _private is None:
        name = f"midimon-pytest-{os.getpid()}"
        env["JACK_DEFAULT_SERVER"] = name
        log = open(Path(tempfile.gettempdir()) / f"{name}.log", "w")
        _private = subprocess.Popen(
            ["jackd", "-n", name, "-S", "-R", "-d", "dummy", "-r", "48000", "-p", "256"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        time.sleep(1.5)
        import atexit

        atexit.register(_stop_private)
    env["JACK_DEFAULT_SERVER"] = f"midimon-pytest-{os.getpid()}"
    os.environ.update(env)
    _use_jack_in_this_process()
    return env


def _stop_private() -> None:
    if _private is not None and _private.poll() is None:
        _private.send_signal(signal.SIGTERM)
        try:
            _private.wait(5)
        except subprocess.TimeoutExpired:
            _private.kill()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Harness:
    """A JACK client that plays into the daemon and records what the daemon sends back."""

    def __init__(self, tag: str) -> None:
        import mido

        # an explicit back end: mido reads MIDO_BACKEND once, at import, maybe before JACK was chosen
        self.mido = mido.Backend(JACK_ENV["MIDO_BACKEND"], load=True)
        self.Message = mido.Message
        self.tag = tag
        self.out_name = f"{tag}-pads"
        self.out = mido.open_output(self.out_name, virtual=True, client_name=f"{tag}-harness")
        self.received: list = []
        self.inputs: list = []

    def port_names(self) -> tuple[list[str], list[str]]:
        return self.mido.get_input_names(), self.mido.get_output_names()

    def listen(self, substring: str, timeout: float = 10.0) -> str:
        """Connect an input of ours to the first output whose name contains ``substring``."""
        name = wait_for(
            lambda: next((n for n in self.mido.get_input_names() if substring in n), None),
            timeout,
            what=f"a MIDI output named like {substring!r}",
        )
        client = f"{self.tag}-listener{len(self.inputs)}"
        # read by polling, not a callback: a callback runs Python in JACK's real-time thread
        from midimon.engine.backends.midoport import PolledInput

        port = PolledInput(name, self.received.append, client)
        self.inputs.append(port)
        # in sync mode rtmidi's own connection does not take: connect again once settled
        time.sleep(1.0)
        from midimon.engine.backends.midoport import jack_connect

        assert jack_connect(name, f"{client}:{name}"), f"jack_connect {name} failed"
        time.sleep(0.2)
        return name

    def send(self, kind: str, **fields) -> None:
        self.out.send(self.Message(kind, **fields))

    def close(self) -> None:
        for p in self.inputs:
            p.close()
        self.out.close()
