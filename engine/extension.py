"""The one typed door through which the daemon's parts plug in.

An extension (live editing and the control socket, the plugin manager, ...) is set up by
``Daemon.add(ext)`` before ``start`` and torn down in reverse order by ``Daemon.stop``: the same
place registers both. Every method has a do-nothing default in :class:`Extension`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from midimon.engine.daemon import Daemon

#: Why a reload runs: the config file changed (or was asked to reload), or plugins changed.
ReloadScope = Literal["config", "plugins", "all"]


class Extension:
    """Base class of the daemon's parts; override what you need."""

    #: the key of this part's section in ``status`` (None: no section)
    name: str | None = None

    def prepare(self, daemon: Daemon) -> None:
        """Before the config is first loaded (the plugins load here, so the config's checks
        see them); ``close`` undoes it too."""

    def start(self, daemon: Daemon) -> None:
        """After the engine and the MIDI ports are up."""

    def before_reload(self, daemon: Daemon, scope: ReloadScope) -> None:
        """Before the config is loaded again (a plugin rescan for ``midimon reload``)."""

    def after_reload(self, daemon: Daemon, outcome: dict[str, Any]) -> None:
        """After every reload attempt, ``outcome`` says how it went (``ok``, ``error``...)."""

    def status(self) -> dict[str, Any] | None:
        """This part's section of ``midimon status``; must not wait on anything slow."""
        return None

    def close(self) -> None:
        """Stop what ``start`` started; called once, in reverse order of ``Daemon.add``."""
