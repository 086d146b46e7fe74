"""The error base every layer shares: a problem the user can act on."""

from __future__ import annotations


class MidimonError(Exception):
    """Base class: a problem the user can act on. Its message is shown without a traceback."""
