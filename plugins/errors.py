"""Errors of the plugin system that the engine and the CLI show to the user."""

from __future__ import annotations

from midimon.config.errors import MidimonError


class PluginActionError(MidimonError):
    """A Plugin action could not run or failed; the engine's runner reports it like any action
    failure (its message names the plugin and says what to do)."""
