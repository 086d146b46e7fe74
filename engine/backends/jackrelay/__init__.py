"""The in-cycle JACK MIDI relay: MIDI-only mappings answered inside the JACK process cycle.

``relay.c`` is the JACK client (built at first use by ``build``); ``midi_table`` compiles the
engine's mapping table into what the C callback reads; ``client`` is the Python side of the
client (ports, rings, the reader thread); ``backend`` makes it midimon's MIDI back end on
JACK; ``extension`` plugs it into the daemon. See docs/platforms.md, "The in-cycle relay".
"""

from __future__ import annotations

from midimon.engine.backends.jackrelay.extension import RelayExtension

__all__ = ["RelayExtension"]
