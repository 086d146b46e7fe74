"""The Catalog view's routes: browse the configured index, fetch and verify one entry into staging.

Installing what was fetched goes through the same review and ``/api/install`` as an upload.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from midimon.engine.ui.api import error, json_body
from midimon.engine.ui.context import UIContext
from midimon.engine.ui.review import review
from midimon.engine.ui.staging import StagingError
from midimon.plugins import catalog


def _source(ctx: UIContext) -> str | None:
    return catalog.configured_source(ctx.home)


async def listing(request: Request) -> Response:
    ctx: UIContext = request.app.state.ctx
    try:
        source = _source(ctx)
        if source is None:
            return JSONResponse(
                {
                    "ok": True,
                    "result": {
                        "source": None,
                        "plugins": [],
                        "problems": [],
                        "message": f'no catalog is configured: add [plugins] catalog = "URL or path" to {ctx.home.config}',
                    },
                }
            )
        cat = await run_in_threadpool(catalog.load, source)
    except catalog.CatalogError as exc:
        return error(502, exc.code, str(exc))
    return JSONResponse({"ok": True, "result": cat.to_json()})


async def fetch(request: Request) -> Response:
    """``{name, allow_unsigned?}`` -> download, verify, stage -> the review the page shows."""
    ctx: UIContext = request.app.state.ctx
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    allow = body.get("allow_unsigned") is True
    try:
        source = _source(ctx)
        if source is None:
            return error(404, "no_catalog", f"no catalog is configured in {ctx.home.config}")
        cat = await run_in_threadpool(catalog.load, source)
        entry = cat.find(str(body.get("name", "")))
        got = await run_in_threadpool(catalog.fetch, entry, ctx.home, allow_unsigned=allow)
        staged = ctx.staging.put(entry.filename, got.data, entry.signature if got.key_name else None)
        result = review(staged, ctx.home)
    except catalog.CatalogError as exc:
        return error(409 if exc.code in ("untrusted", "checksum_mismatch") else 502, exc.code, str(exc))
    except StagingError as exc:
        return error(400, exc.code, str(exc))
    result["catalog"] = {"signature": got.signature, "key": got.key_name, "allow_unsigned": allow}
    return JSONResponse({"ok": True, "review": result})


routes = [
    Route("/api/catalog", listing, methods=["GET"]),
    Route("/api/catalog/fetch", fetch, methods=["POST"]),
]
