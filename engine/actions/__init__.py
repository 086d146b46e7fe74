"""Built-in actions. :class:`ActionRunner` runs any action model with its context."""

from midimon.engine.actions.runner import ActionRunner

__all__ = ["ActionRunner"]
