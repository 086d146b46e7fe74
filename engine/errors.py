"""Exceptions that cross module boundaries inside the engine.

``MidimonError`` itself lives on the ground floor (``midimon.config.errors``) so that every
layer shares one base; it is re-exported here for the engine's callers.
"""

from midimon.config.errors import MidimonError

__all__ = ["ActionError", "BackendUnavailable", "MidimonError"]


class ActionError(MidimonError):
    """An action ran and failed (a command exited non-zero, a port vanished...)."""


class BackendUnavailable(ActionError):
    """The back end an action needs is not there (no DISPLAY, no pactl, no MIDI API...).

    The message is one line that says what is missing and how to get it.
    """
