"""Run an action model: the composite actions here, the rest through their back ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from midimon.config.models import (
    Action,
    ConditionalAction,
    DelayAction,
    KeystrokeAction,
    LaunchAction,
    ModeChangeAction,
    MouseClickAction,
    PluginAction,
    RepeatAction,
    SendMidiAction,
    SequenceAction,
    ShellAction,
    TextAction,
    VolumeControlAction,
)
from midimon.engine import conditions
from midimon.engine.actions.midi import message_for
from midimon.engine.actions.shell import run_shell
from midimon.engine.errors import ActionError, MidimonError

log = logging.getLogger("midimon.actions")


class ActionRunner:
    """``engine`` gives the mode; ``midi_out`` sends MIDI; ``desktop`` does keystrokes and the
    rest; ``plugins`` (optional) runs Plugin actions: ``plugins(name, params, ctx)``."""

    def __init__(
        self,
        engine=None,
        *,
        midi_out=None,
        desktop=None,
        plugins: Callable[[str, dict, dict], Any] | None = None,
        condition_context: conditions.ConditionContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.midi_out = midi_out
        self.desktop = desktop
        self.plugins = plugins
        self.sleep = sleep
        self.conditions = condition_context or conditions.ConditionContext(
            mode=lambda: self.engine.mode if self.engine else "", warn=log.warning
        )

    def run(self, action: Action, ctx: dict[str, Any]) -> None:
        # on the model classes, not on the `type` string: the type checker sees every field, and
        # the two actions that run on the engine loop itself come first
        match action:
            case SendMidiAction():
                self._send_midi(action, ctx)
            case ModeChangeAction():
                self._mode(action, ctx)
            case KeystrokeAction():
                self._desk().keystroke(action.keys, list(action.modifiers), action.hold_ms)
            case TextAction():
                self._desk().text(action.text)
            case LaunchAction():
                self._desk().launch(action.app)
            case MouseClickAction():
                self._desk().mouse_click(action.button, action.x, action.y, action.clicks)
            case VolumeControlAction():
                self._volume(action, ctx)
            case ShellAction():
                run_shell(action, ctx)
            case DelayAction():
                self.sleep(action.ms / 1000)
            case SequenceAction():
                for sub in action.actions:  # in order; a failure stops the rest, like a script
                    self.run(sub, ctx)
            case RepeatAction():
                self._repeat(action, ctx)
            case ConditionalAction():
                self._conditional(action, ctx)
            case PluginAction():
                self._plugin(action, ctx)
            case _:
                raise ActionError(f"unknown action {type(action).__name__}")

    def run_logged(self, action: Action, ctx: dict[str, Any]) -> bool:
        """Run and never raise: failures are logged with the mapping and counted."""
        try:
            self.run(action, ctx)
            return True
        except MidimonError as exc:
            message = f"{ctx.get('description', action.type)}: {action.type} failed: {exc}"
        except Exception as exc:  # a bug in an action must not take the daemon down
            log.debug("action crashed", exc_info=True)
            message = f"{ctx.get('description', action.type)}: {action.type} failed: {type(exc).__name__}: {exc}"
        log.warning(message)
        if self.engine is not None:
            self.engine.stats.failed(message)
        return False

    # -- composites -----------------------------------------------------------------------
    def _repeat(self, action: RepeatAction, ctx: dict[str, Any]) -> None:
        for i in range(action.count):
            if i and action.delay_ms:
                self.sleep(action.delay_ms / 1000)
            self.run(action.action, dict(ctx, repeat_index=i))

    def _conditional(self, action: ConditionalAction, ctx: dict[str, Any]) -> None:
        branch = action.then_action if conditions.evaluate(action.condition, self.conditions) else action.else_action
        if branch is not None:
            self.run(branch, ctx)

    def _mode(self, action: ModeChangeAction, ctx: dict[str, Any]) -> None:
        if self.engine is None:
            raise ActionError("no engine to change mode on")
        engine = self.engine
        if engine.on_loop():
            engine.set_mode_bounded(action.mode, action.wrap)
        else:
            engine.call_soon(lambda: engine.set_mode_bounded(action.mode, action.wrap))

    # -- MIDI -----------------------------------------------------------------------------
    def _send_midi(self, action: SendMidiAction, ctx: dict[str, Any]) -> None:
        if self.midi_out is None:
            raise ActionError("MIDI output is not available")
        self.midi_out.send_message(action.port, message_for(action, ctx))

    # -- desktop --------------------------------------------------------------------------
    def _desk(self) -> Any:
        if self.desktop is None:
            from midimon.engine.errors import BackendUnavailable

            raise BackendUnavailable("no desktop back end is configured")
        return self.desktop

    def _volume(self, action: VolumeControlAction, ctx: dict[str, Any]) -> None:
        # an accelerated encoder turn of n steps moves the volume n times as far
        step = action.step * max(1, int(ctx.get("steps", 1) or 1))
        self._desk().volume(action.operation, action.value, min(step, 100))

    # -- plugins --------------------------------------------------------------------------
    def _plugin(self, action: PluginAction, ctx: dict[str, Any]) -> None:
        if self.plugins is None:
            raise ActionError(f"plugin {action.plugin!r}: plugins are not available in this process")
        self.plugins(action.plugin, dict(action.params), ctx)
