"""A worker's reply is untrusted: a malformed one must still surface as a SandboxError."""

import pytest

from midimon.sandbox import AuditLog, PluginHost
from midimon.sandbox.errors import PluginCallError, SandboxError


@pytest.mark.parametrize(
    "reply",
    [
        {"op": "raise", "type": "ValueError", "message": "x", "line": "not a number"},
        {"op": "raise", "type": "ValueError", "message": "x", "line": 10**30},
        {"op": "raise", "type": ["list"], "message": {"a": 1}, "line": True, "file": None},
    ],
)
def test_malformed_error_reply_is_a_clean_sandbox_error(tmp_path, reply):
    host = PluginHost(
        "p",
        "def execute(params, context):\n    return 1\n",
        "p.py",
        data_dir=tmp_path / "d",
        audit=AuditLog(tmp_path / "a"),
    )
    host.start()
    try:
        host._exchange = lambda *a, **k: reply  # what an escaped worker could send
        with pytest.raises(PluginCallError) as info:
            host.call("execute", {}, {})
        assert isinstance(info.value, SandboxError)
        assert info.value.lineno == 0
    finally:
        host.stop()
