"""Run the UI: bind 127.0.0.1, learn the port, say the URL, serve with uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn

from midimon.config.errors import MidimonError
from midimon.config.home import Home
from midimon.engine.ui.app import create_app
from midimon.engine.ui.token import load_or_create

DEFAULT_PORT = 8737
HOST = "127.0.0.1"  # never another interface: the daemon's UI is for this machine's user


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise MidimonError(
            f"cannot listen on {HOST}:{port}: {exc.strerror}; is another `midimon ui` running? "
            "(choose another port with --port N, or --port 0 for a free one)"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url(port: int, token: str) -> str:
    return f"http://{HOST}:{port}/?token={token}"


def serve(home: Home, port: int = DEFAULT_PORT, on_listening: Callable[[str], None] | None = None) -> None:
    token = load_or_create(home)
    sock = bind(port)
    bound = sock.getsockname()[1]
    app = create_app(home, token, bound)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    if on_listening is not None:
        on_listening(url(bound, token))
    asyncio.run(server.serve(sockets=[sock]))
