"""midimon.config."""
