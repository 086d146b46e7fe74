"""MIDI back ends behind :class:`midimon.engine.ports.Backend`.

``auto()`` picks mido with whatever API ``MIDO_BACKEND`` names (python-rtmidi by default: ALSA
on Linux, CoreMIDI on macOS; ``mido.backends.rtmidi/UNIX_JACK`` for JACK). ``memory`` is an
in-process back end for tests and for running without any MIDI API.
"""

from __future__ import annotations

from midimon.engine.backends.memory import MemoryBackend


def auto():
    from midimon.engine.backends.midoport import MidoBackend

    return MidoBackend()


__all__ = ["MemoryBackend", "auto"]
