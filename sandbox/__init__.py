"""midimon.sandbox."""
