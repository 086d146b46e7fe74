"""scripts/coverage measures worker-side code: workers hand their data back to the zygote.

Only a measured run with MIDIMON_COVERAGE_WORKERS=1 gets there; a normal run starts its zygote
exactly as before (no flag), so workers keep the same descriptors and confinement.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import coverage
import pytest

from midimon.sandbox import coverage_handback

ROOT = Path(__file__).resolve().parents[2]


def test_a_normal_run_starts_the_zygote_without_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(coverage_handback.ENV, raising=False)
    assert coverage_handback.zygote_args() == []
    assert coverage_handback.keep_fds() == ()  # nothing extra left open in a worker


def test_the_variable_alone_does_not_turn_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # set by mistake in a daemon's environment, without coverage measuring the daemon
    monkeypatch.setenv(coverage_handback.ENV, "1")
    if coverage.Coverage.current() is not None:
        pytest.skip("this test process is itself measured (scripts/coverage)")
    assert coverage_handback.zygote_args() == []


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from midimon.sandbox import AuditLog, PluginHost, spawner
    tmp = Path(sys.argv[1])
    host = PluginHost(
        "p", "def execute(params, context):\\n    return params['n'] * 2\\n", "p.py",
        data_dir=tmp / "d", audit=AuditLog(tmp / "audit.jsonl"),
    )
    host.start()
    assert host.call("execute", {"n": 21}, {}) == 42
    host.stop()
    spawner.shutdown()
    """
)


def test_a_measured_run_gets_the_workers_data_back(tmp_path: Path) -> None:
    data = tmp_path / "cov"
    data.mkdir()
    rc = tmp_path / "covrc"
    rc.write_text(f"[run]\nsource = midimon.sandbox\nparallel = true\ndata_file = {data / '.coverage'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV")}
    env.update(COVERAGE_PROCESS_START=str(rc), **{coverage_handback.ENV: "1"})
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, check=True, timeout=120, cwd=ROOT)
    deadline = time.monotonic() + 20  # the zygote saves after the host has gone
    while time.monotonic() < deadline and len(list(data.glob(".coverage.*"))) < 2:
        time.sleep(0.1)
    combined = coverage.CoverageData(basename=str(tmp_path / "all"))
    for part in data.glob(".coverage.*"):
        one = coverage.CoverageData(basename=str(part))
        one.read()
        combined.update(one)
    worker_main = next(f for f in combined.measured_files() if f.endswith("sandbox/worker_main.py"))
    lines = combined.lines(worker_main) or []
    # Worker.call's body runs only inside a worker process
    import inspect

    from midimon.sandbox.worker_main import Worker

    source, first = inspect.getsourcelines(Worker.call)
    body = set(range(first + 1, first + len(source)))
    assert body & set(lines), "no line of Worker.call was measured: the worker's data did not come back"
