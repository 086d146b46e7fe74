"""The ASGI app: the guard around the API, the streams and the built front end."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from midimon.config.home import Home
from midimon.engine.ui import api, catalog_routes, streams
from midimon.engine.ui.context import UIContext
from midimon.engine.ui.guards import Guard

STATIC = Path(__file__).resolve().parent / "static"


def _no_build(request: object) -> PlainTextResponse:
    return PlainTextResponse(
        f"the web UI's front end is not built ({STATIC} has no index.html): run `scripts/run` "
        "or `npm ci && npm run build` in frontend/",
        status_code=503,
    )


def create_app(home: Home, token: str, port: int = 0, *, static: Path = STATIC) -> Guard:
    """The app behind its guard; ``guard.config.port`` must be the bound port before requests."""
    ctx = UIContext.build(home, token, port)
    routes: list[Route | Mount] = [
        *api.routes,
        *streams.routes,
        *catalog_routes.routes,
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # browsers ask; nothing to show
    ]
    if (static / "index.html").is_file():
        routes.append(Mount("/", StaticFiles(directory=static, html=True), name="static"))
    else:
        routes.append(Route("/{path:path}", _no_build))
    app = Starlette(routes=routes)
    app.state.ctx = ctx
    return Guard(app, ctx.guard)
