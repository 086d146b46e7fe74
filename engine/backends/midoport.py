"""Real MIDI through mido (python-rtmidi by default; ``MIDO_BACKEND`` chooses the API).

Three JACK facts shape this module (see DESIGN.md):

- In sync mode, the connection rtmidi makes right after opening a port does not take: the
  new client must settle first. On JACK we therefore make the connection again about a
  second later with ``jack_connect`` (shipped with jackd2), and log clearly when it fails.
- Every ``mido.get_*_names()`` opens and closes a JACK client; polling that has frozen the
  graph. Port lists come from one persistent rtmidi client per direction instead.
- With a callback (mido always sets one), python-rtmidi runs Python inside JACK's real-time
  process thread, which must first take the GIL. A daemon busy elsewhere for a few
  milliseconds (a reload parsing TOML) then overruns the JACK period: jackd reports the client
  "not finished" and events arrive out of order. On JACK, inputs are therefore read by
  :class:`PolledInput`: the process thread only fills rtmidi's own C++ queue, and a Python
  thread drains it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

CLIENT_NAME = "midimon"
JACK_SETTLE_S = 1.0
log = logging.getLogger("midimon.midi")


class MidoBackend:
    def __init__(self) -> None:
        import mido

        self._mido = mido
        self.name = os.environ.get("MIDO_BACKEND", "mido.backends.rtmidi")
        self._listers: dict[str, Any] = {}  # rtmidi.MidiIn / MidiOut (no type information)
        self._lock = threading.Lock()

    def _api(self) -> str:
        return self.name.partition("/")[2] or ("LINUX_ALSA" if sys.platform.startswith("linux") else "")

    @property
    def is_jack(self) -> bool:
        return self._api() == "UNIX_JACK"

    def problem(self) -> str | None:
        if self._api() == "LINUX_ALSA" and not os.path.exists("/dev/snd/seq"):
            # asking rtmidi would make ALSA print an error to stderr at every poll
            return (
                "no usable MIDI back end: the ALSA sequencer /dev/snd/seq is missing (load the snd-seq "
                "kernel module), or choose another API with MIDO_BACKEND, e.g. "
                "MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK for JACK"
            )
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

                api = (
                    getattr(rtmidi, "API_" + self._api(), rtmidi.API_UNSPECIFIED)
                    if self._api()
                    else rtmidi.API_UNSPECIFIED
                )
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
        if self.is_jack:
            port = PolledInput(name, callback, CLIENT_NAME)
            self._connect_later(source=name, ours=name, ours_is_input=True)
            return port
        return self._mido.open_input(name, callback=callback, client_name=CLIENT_NAME)

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
        log.warning(
            "JACK: jack_connect is not installed (Debian: jackd2); connect %r -> %r yourself", source, destination
        )
        return False
    proc = subprocess.run([exe, source, destination], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0 and "already" not in (proc.stderr + proc.stdout).lower():
        log.warning("JACK: connecting %r -> %r failed: %s", source, destination, (proc.stderr or proc.stdout).strip())
        return False
    return True


class PolledInput:
    """A JACK MIDI input whose messages are read by a Python thread, never in JACK's thread.

    The thread sleeps 0.2 ms between polls while messages flow and 1 ms when idle: at most a
    millisecond on the first message after a pause, a fraction of one JACK period.
    """

    ACTIVE_SLEEP = 0.0002
    IDLE_SLEEP = 0.001
    QUEUE = 4096

    def __init__(self, name: str, callback: Callable, client_name: str, virtual: bool = False) -> None:
        import mido
        import rtmidi

        self.name = name
        self._callback = callback
        self._from_bytes = mido.Message.from_bytes
        self._rt = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=client_name, queue_size_limit=self.QUEUE)
        self._rt.ignore_types(sysex=False, timing=True, active_sense=True)
        if virtual:
            self._rt.open_virtual_port(name)
        else:
            ports = self._rt.get_ports()
            if name not in ports:
                self._rt.delete()
                raise OSError(f"no MIDI input named {name!r}")
            self._rt.open_port(ports.index(name), name=name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"midimon-in:{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        get, stop, sleep, monotonic = self._rt.get_message, self._stop, time.sleep, time.monotonic
        last = 0.0
        while not stop.is_set():
            got = get()
            if got is None:
                sleep(self.ACTIVE_SLEEP if monotonic() - last < 0.5 else self.IDLE_SLEEP)
                continue
            last = monotonic()
            try:
                msg = self._from_bytes(got[0])
            except (ValueError, TypeError):
                continue  # a malformed message from the device: nothing to map
            try:
                self._callback(msg)
            except Exception:
                log.exception("MIDI input %r: callback failed", self.name)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(1)
        try:
            self._rt.close_port()
            self._rt.delete()
        except Exception:
            pass

    closed = property(lambda self: self._stop.is_set())
