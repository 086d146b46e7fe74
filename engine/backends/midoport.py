"""Real MIDI through mido (python-rtmidi by default; ``MIDO_BACKEND`` chooses the API).

Two JACK facts shape this module (see DESIGN.md):

- In sync mode, the connection rtmidi makes right after opening a port does not take: the
  new client must settle first. On JACK we therefore make the connection again about a
  second later with ``jack_connect`` (shipped with jackd2), and log clearly when it fails.
- Every ``mido.get_*_names()`` opens and closes a JACK client; polling that has frozen the
  graph. Port lists come from one persistent rtmidi client per direction instead.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable

CLIENT_NAME = "midimon"
JACK_SETTLE_S = 1.0
log = logging.getLogger("midimon.midi")


class MidoBackend:
    def __init__(self) -> None:
        import mido

        self._mido = mido
        self.name = os.environ.get("MIDO_BACKEND", "mido.backends.rtmidi")
        self._listers: dict[str, object] = {}
        self._lock = threading.Lock()

    def _api(self) -> str:
        return self.name.partition("/")[2] or ("LINUX_ALSA" if sys.platform.startswith("linux") else "")

    @property
    def is_jack(self) -> bool:
        return self._api() == "UNIX_JACK"

    def problem(self) -> str | None:
        if self._api() == "LINUX_ALSA" and not os.path.exists("/dev/snd/seq"):
            # asking rtmidi would make ALSA print an error to stderr at every poll
            return ("no usable MIDI back end: the ALSA sequencer /dev/snd/seq is missing (load the snd-seq "
                    "kernel module), or choose another API with MIDO_BACKEND, e.g. "
                    "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK for JACK")
        try:
            self.input_names()
            return None
        except Exception as exc:  # rtmidi raises SystemError/RuntimeError/ImportError variously
            with self._lock:
                self._listers.clear()
            return (
                f"no usable MIDI back end ({self.name}: {str(exc).strip() or type(exc).__name__}). "
                "Choose another with MIDO_BACKEND, e.g. MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK "
                "for JACK, or check that the ALSA sequencer (snd-seq) is loaded"
            )

    def _names(self, direction: str) -> list[str]:
        if not self.name.startswith("mido.backends.rtmidi"):
            names = self._mido.get_input_names() if direction == "in" else self._mido.get_output_names()
            return list(dict.fromkeys(names))
        with self._lock:
            lister = self._listers.get(direction)
            if lister is None:
                import rtmidi

                api = getattr(rtmidi, "API_" + self._api(), rtmidi.API_UNSPECIFIED) if self._api() else rtmidi.API_UNSPECIFIED
                cls = rtmidi.MidiIn if direction == "in" else rtmidi.MidiOut
                lister = cls(api, name=f"{CLIENT_NAME}-ports")
                self._listers[direction] = lister
            return list(dict.fromkeys(lister.get_ports()))

    def close(self) -> None:
        """Close the port-listing clients: a JACK client that exits without closing stalls jackd."""
        with self._lock:
            listers, self._listers = list(self._listers.values()), {}
        for lister in listers:
            try:
                lister.close_port()
                lister.delete()
            except Exception:
                pass

    def input_names(self) -> list[str]:
        return self._names("in")

    def output_names(self) -> list[str]:
        return self._names("out")

    def open_input(self, name: str, callback: Callable):
        port = self._mido.open_input(name, callback=callback, client_name=CLIENT_NAME)
        if self.is_jack:
            self._connect_later(source=name, ours=name, ours_is_input=True)
        return port

    def open_virtual_input(self, name: str, callback: Callable):
        return self._mido.open_input(name, virtual=True, callback=callback, client_name=CLIENT_NAME)

    def open_output(self, name: str):
        port = self._mido.open_output(name, client_name=CLIENT_NAME)
        if self.is_jack:
            self._connect_later(source=name, ours=name, ours_is_input=False)
        return port

    def open_virtual_output(self, name: str):
        return self._mido.open_output(name, virtual=True, client_name=CLIENT_NAME)

    # -- JACK ---------------------------------------------------------------------------------
    def _connect_later(self, source: str, ours: str, ours_is_input: bool) -> None:
        """Blocks for the settle time, so that a port reported open is really connected."""
        time.sleep(JACK_SETTLE_S)
        try:
            candidates = self.output_names() if ours_is_input else self.input_names()
        except Exception:
            return
        if True:
            # rtmidi names our port after the port it connects to, inside our own client
            mine = [n for n in candidates if n.endswith(":" + ours) and n.split(":", 1)[0].startswith(CLIENT_NAME)]
            if not mine:
                log.warning("JACK: cannot find midimon's own port for %r to connect it", source)
                return
            pair = (source, mine[-1]) if ours_is_input else (mine[-1], source)
            jack_connect(*pair)


def jack_connect(source: str, destination: str) -> bool:
    exe = shutil.which("jack_connect")
    if exe is None:
        log.warning("JACK: jack_connect is not installed (Debian: jackd2); connect %r -> %r yourself", source, destination)
        return False
    proc = subprocess.run([exe, source, destination], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0 and "already" not in (proc.stderr + proc.stdout).lower():
        log.warning("JACK: connecting %r -> %r failed: %s", source, destination, (proc.stderr or proc.stdout).strip())
        return False
    return True
