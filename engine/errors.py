"""Exceptions that cross module boundaries inside the engine."""


class MidimonError(Exception):
    """Base class: a problem the user can act on. Its message is shown without a traceback."""


class ActionError(MidimonError):
    """An action ran and failed (a command exited non-zero, a port vanished...)."""


class BackendUnavailable(ActionError):
    """The back end an action needs is not there (no DISPLAY, no pactl, no MIDI API...).

    The message is one line that says what is missing and how to get it.
    """
