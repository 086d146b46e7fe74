import itertools
import os

import pytest

from testkit.daemon import DaemonProcess
from testkit.jack import Harness, ensure_server

_ids = itertools.count()


@pytest.fixture(scope="session")
def jack_env():
    return ensure_server()


@pytest.fixture
def harness(jack_env):
    h = Harness(f"t{os.getpid()}x{next(_ids)}")
    yield h
    h.close()


@pytest.fixture
def start_daemon(tmp_path, jack_env):
    """start_daemon(config_text) -> a running `midimon run` connected to the harness."""
    procs = []

    def start(config_text: str, env_extra: dict | None = None, **kw) -> DaemonProcess:
        home = tmp_path / f"home{len(procs)}"
        home.mkdir()
        d = DaemonProcess(home, config_text, env={**jack_env, **(env_extra or {})}, **kw)
        procs.append(d)
        return d

    yield start
    for d in procs:
        d.stop()
