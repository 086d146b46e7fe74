"""Real MIDI through mido (python-rtmidi by default; ``MIDO_BACKEND`` chooses the API)."""
from __future__ import annotations

import os
import sys
from typing import Callable

CLIENT_NAME = "midimon"


class MidoBackend:
    def __init__(self) -> None:
        import mido

        self._mido = mido
        self.name = os.environ.get("MIDO_BACKEND", "mido.backends.rtmidi")

    def _api(self) -> str:
        return self.name.partition("/")[2] or ("LINUX_ALSA" if sys.platform.startswith("linux") else "")

    def problem(self) -> str | None:
        if self._api() == "LINUX_ALSA" and not os.path.exists("/dev/snd/seq"):
            # asking rtmidi would make ALSA print an error to stderr at every poll
            return ("no usable MIDI back end: the ALSA sequencer /dev/snd/seq is missing (load the snd-seq "
                    "kernel module), or choose another API with MIDO_BACKEND, e.g. "
                    "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK for JACK")
        try:
            self._mido.get_input_names()
            return None
        except Exception as exc:  # rtmidi raises SystemError/RuntimeError/ImportError variously
            return (
                f"no usable MIDI back end ({self.name}: {str(exc).strip() or type(exc).__name__}). "
                "Choose another with MIDO_BACKEND, e.g. MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK "
                "for JACK, or check that the ALSA sequencer (snd-seq) is loaded"
            )

    def input_names(self) -> list[str]:
        return list(dict.fromkeys(self._mido.get_input_names()))

    def output_names(self) -> list[str]:
        return list(dict.fromkeys(self._mido.get_output_names()))

    def open_input(self, name: str, callback: Callable):
        return self._mido.open_input(name, callback=callback, client_name=CLIENT_NAME)

    def open_virtual_input(self, name: str, callback: Callable):
        return self._mido.open_input(name, virtual=True, callback=callback, client_name=CLIENT_NAME)

    def open_output(self, name: str):
        return self._mido.open_output(name, client_name=CLIENT_NAME)

    def open_virtual_output(self, name: str):
        return self._mido.open_output(name, virtual=True, client_name=CLIENT_NAME)
