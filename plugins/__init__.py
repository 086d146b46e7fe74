"""midimon.plugins."""
