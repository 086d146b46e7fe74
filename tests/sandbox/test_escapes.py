"""The escape corpus against real workers: no attack reads the secret or writes the marker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from midimon.sandbox import Grants, PluginCompileError, PluginHost, SandboxError

from .attacks import ATTACKS, PRELUDE, Attack

SECRET = "s3cr3t-token-7f1c9a"
#: Every attack plugin holds the capabilities an attacker would most like to abuse, with empty
#: scopes: the tests then exercise the scope checks, not only the grant check.
ATTACK_GRANTS = Grants(capabilities=frozenset({"filesystem", "subprocess", "network"}))


def _source(attack: Attack, tmp_path: Path) -> tuple[str, Path, Path]:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    marker = tmp_path / "pwned"
    return PRELUDE.format(secret=str(secret), marker=str(marker)) + attack.body, secret, marker


def run_attack(make_host: Callable[..., PluginHost], source: str, grants: Grants = ATTACK_GRANTS) -> tuple[str, str]:
    """Run ``attack()``; return (stage reached, everything the plugin produced as text)."""
    host = make_host(source, grants, start=False)
    outputs: list[Any] = []
    try:
        host.start()
        stage = "runtime"
        try:
            outputs.append(host.call("attack"))
        except SandboxError as exc:
            outputs.append(str(exc))
    except PluginCompileError as exc:
        stage = "compile"
        outputs.append(str(exc))
    except SandboxError as exc:  # module-level code of the attack was stopped while loading
        stage = "runtime"
        outputs.append(str(exc))
    outputs.extend(text for _level, text in host.recent_logs)
    return stage, json.dumps(outputs, default=repr)


def test_corpus_is_large_enough() -> None:
    assert len(ATTACKS) >= 60
    assert len({a.id for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_attack_has_no_effect(attack: Attack, make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    source, _secret, marker = _source(attack, tmp_path)
    stage, produced = run_attack(make_host, source)
    assert SECRET not in produced, f"secret leaked: {produced[:300]}"
    assert not marker.exists(), "the attack wrote a file on the host"
    assert stage == attack.stage, f"stopped at {stage}, expected {attack.stage}: {produced[:300]}"


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.control], ids=lambda a: a.id)
def test_attack_works_in_plain_python(attack: Attack, tmp_path: Path) -> None:
    """Control: the same source, run as ordinary Python, does read the secret and write the
    marker. So the corpus tests the sandbox, not attacks that could never work."""
    source, _secret, marker = _source(attack, tmp_path)
    namespace: dict[str, Any] = {"__name__": "control"}
    result: Any = None
    exec(compile(source, "control.py", "exec"), namespace)
    if not marker.exists():
        result = namespace["attack"]()
    assert marker.exists()
    if result is not None:
        assert SECRET in json.dumps(result, default=repr)


def test_detector_sees_a_real_leak(make_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    """Control for the detector itself: a plugin *granted* the secret's folder returns it, and
    run_attack reports it, so an escape would not go unnoticed."""
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    source = f"def attack():\n    return fs.read_text({str(secret)!r})\n"
    grants = Grants.from_dict({"capabilities": ["filesystem"], "allow": {"read_paths": [str(tmp_path)]}})
    _stage, produced = run_attack(make_host, source, grants)
    assert SECRET in produced


def test_shared_module_cannot_be_poisoned(make_host: Callable[..., PluginHost]) -> None:
    """Canary: after a write attempt on the json facade, json.dumps still is json.dumps."""
    host = make_host(
        "import json\ndef poison():\n    json.dumps = lambda v: 'poisoned'\ndef use():\n    return json.dumps([1])\n"
    )
    with pytest.raises(SandboxError):
        host.call("poison")
    assert host.call("use") == "[1]"


def test_guards_still_hold_after_rebinding_attempts(make_host: Callable[..., PluginHost]) -> None:
    """Canary: guard names live in the plugin's globals; a plugin can neither name nor replace
    them, so a probe after many attacks is still refused."""
    host = make_host(
        "def probe():\n    return getattr(probe, '_' + '_globals__') is not None\n"
        "def shadow():\n    getattr = lambda o, n: o\n    return getattr(1, 2)\n"
    )
    assert host.call("shadow") == 1  # shadowing the *builtin* name only affects the plugin
    with pytest.raises(SandboxError, match="not allowed"):
        host.call("probe")
