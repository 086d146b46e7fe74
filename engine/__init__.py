"""midimon.engine."""
