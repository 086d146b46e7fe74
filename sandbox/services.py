"""What the engine lends the sandbox: a few callbacks, filled in by the daemon.

The sandbox never imports the engine: capabilities that act on the desktop or on MIDI call these
functions, and a context without them (tests, ``midimon plugins check``) gets a clear error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .errors import ServiceUnavailable


def _unavailable(what: str) -> Callable[..., Any]:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise ServiceUnavailable(
            f"{what} is not available in this context (the daemon provides it when it runs plugins)"
        )

    return fail


@dataclasses.dataclass
class HostServices:
    #: Send one MIDI message, e.g. ("Synth out", {"type": "note_on", "note": 60, ...}).
    midi_send: Callable[[str, dict[str, Any]], None] = _unavailable("MIDI output")
    #: Names of the output ports that exist now.
    midi_output_ports: Callable[[], list[str]] = _unavailable("MIDI output")
    #: Press a key combination such as "ctrl+shift+t".
    keystroke: Callable[[str], None] = _unavailable("keystrokes")
    #: Type text.
    type_text: Callable[[str], None] = _unavailable("typing text")
    #: Set the volume (0.0-1.0) or change it by a delta (-1.0-1.0); exactly one is not None.
    set_volume: Callable[[float | None, float | None], None] = _unavailable("volume control")
    #: Launch an application by the name the user granted.
    launch: Callable[[str], None] = _unavailable("launching applications")
    #: Play a sound file (an absolute, already checked path).
    play_audio: Callable[[str], None] = _unavailable("audio playback")
    #: Show a desktop notification (title, body); the text is already made printable.
    notify: Callable[[str, str], None] = _unavailable("desktop notifications")
    #: The host's secret store of one plugin (tokens the plugin never sees): plugin name ->
    #: an object with ``all()`` and ``update(dict)`` (midimon.plugins.secrets.SecretStore).
    secret_store: Callable[[str], Any] = _unavailable("the secret store")
