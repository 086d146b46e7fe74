"""The web UI (`midimon ui`): a Starlette app on 127.0.0.1, a client of the control socket.

It keeps no state: every view shows the daemon's change feed and answers, every change is a
socket command. ``create_app`` builds the guarded ASGI app; ``serve`` runs it with uvicorn.
"""

from midimon.engine.ui.app import create_app
from midimon.engine.ui.server import DEFAULT_PORT, serve

__all__ = ["DEFAULT_PORT", "create_app", "serve"]
