"""First-party plugins, shipped as ordinary drop-in plugin files.

They are not imported by midimon: ``midimon plugins install builtin:NAME`` copies one into the
plugins folder, where it is loaded, sandboxed and granted like any other plugin.
"""
