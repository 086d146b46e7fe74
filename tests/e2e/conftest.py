import pytest
from testkit.daemon import DaemonProcess

# jack_env and harness come from tests/conftest.py


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
