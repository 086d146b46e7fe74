"""The JSON API the page calls. Every change is one control-socket command of the daemon.

``POST /api/call/COMMAND`` forwards an allow-listed command with the JSON body as its
arguments (the same names as the socket's, docs/control-protocol.md); uploads, installs from
the staging folder and the catalog have their own routes because the page never names a path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from midimon.engine.ui.context import UIContext
from midimon.engine.ui.daemon import DaemonDown, DaemonRefused
from midimon.engine.ui.review import review
from midimon.engine.ui.staging import MAX_UPLOAD_BYTES, StagingError

MAX_JSON_BYTES = 1 << 20

#: what the page may ask the daemon; anything else is refused here before the socket
COMMANDS = frozenset(
    {
        "hello",
        "status",
        "devices",
        "mode",
        "reload",
        "restart",
        "learn",
        "plugins.list",
        "plugins.info",
        "plugins.enable",
        "plugins.disable",
        "plugins.grant",
        "plugins.revoke",
        "plugins.deny",
        "plugins.resume",
        "plugins.config",
        "plugins.uninstall",
        "plugins.limits",
    }
)
LONG_COMMANDS = {"learn": 70.0, "plugins.install": 60.0}


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": {"code": code, "message": message, **extra}}, status_code=status)


async def forward(ctx: UIContext, command: str, args: dict[str, Any]) -> JSONResponse:
    try:
        result = await ctx.daemon.call(command, args, timeout=LONG_COMMANDS.get(command, 30.0))
    except DaemonDown as exc:
        return error(503, "daemon_down", str(exc))
    except DaemonRefused as exc:
        status = 404 if exc.code in ("no_such_plugin", "unknown_command") else 409
        return JSONResponse({"ok": False, "error": exc.error}, status_code=status)
    return JSONResponse({"ok": True, "result": result})


async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return error(415, "bad_content_type", "send the arguments as application/json")
    raw = await _read_capped(request, MAX_JSON_BYTES)
    if raw is None:
        return error(413, "too_large", f"a request body is at most {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        return error(400, "bad_json", f"the body is not JSON: {exc}")
    if not isinstance(body, dict):
        return error(400, "bad_json", "the body must be a JSON object")
    return body


async def _read_capped(request: Request, cap: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > cap):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return None  # stop reading: the rest of an oversized body is never buffered
        chunks.append(chunk)
    return b"".join(chunks)


async def call(request: Request) -> Response:
    ctx: UIContext = request.app.state.ctx
    command = request.path_params["command"]
    if command not in COMMANDS:
        return error(404, "unknown_command", f"the UI does not forward {command!r}")
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    return await forward(ctx, command, body)


async def upload(request: Request) -> Response:
    """A multipart upload with one ``file`` field -> the staging folder -> its review."""
    ctx: UIContext = request.app.state.ctx
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return error(415, "bad_content_type", "upload the plugin as multipart/form-data")
    raw = await _read_capped(request, MAX_UPLOAD_BYTES + 64 * 1024)
    if raw is None:
        return error(413, "too_large", f"an upload is at most {MAX_UPLOAD_BYTES} bytes")
    replay = Request(request.scope, _replay(raw))
    async with replay.form(max_files=1, max_fields=4) as form:
        item = form.get("file")
        if item is None or isinstance(item, str) or not item.filename:
            return error(400, "no_file", "the upload has no file field")
        data = await item.read()
        filename = item.filename
    try:
        staged = ctx.staging.put(filename, data)
        return JSONResponse({"ok": True, "review": review(staged, ctx.home)})
    except StagingError as exc:
        return error(413 if exc.code == "too_large" else 400, exc.code, str(exc))


def _replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def install(request: Request) -> Response:
    """Install what the user reviewed: ``{id, grants?, yes?, allow_unsigned?}``."""
    ctx: UIContext = request.app.state.ctx
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        staged = ctx.staging.get(str(body.get("id", "")))
    except StagingError as exc:
        return error(404, exc.code, str(exc))
    args: dict[str, Any] = {"path": str(staged.path)}
    for key in ("grants", "yes", "allow_unsigned", "force"):
        if key in body:
            args[key] = body[key]
    answer = await forward(ctx, "plugins.install", args)
    if answer.status_code == 200:
        ctx.staging.discard(staged.id)
    return answer


async def discard(request: Request) -> Response:
    ctx: UIContext = request.app.state.ctx
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        ctx.staging.discard(str(body.get("id", "")))
    except StagingError as exc:
        return error(404, exc.code, str(exc))
    return JSONResponse({"ok": True})


async def export(request: Request) -> Response:
    """The plugin list as a JSON file to save (OctoPrint #3711)."""
    ctx: UIContext = request.app.state.ctx
    answer = await forward(ctx, "plugins.list", {})
    if answer.status_code != 200:
        return answer
    result = json.loads(bytes(answer.body))["result"]
    return Response(
        json.dumps(result, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="midimon-plugins.json"'},
    )


async def ui_info(request: Request) -> Response:
    ctx: UIContext = request.app.state.ctx
    try:
        hello: Any = await ctx.daemon.call("hello", {}, timeout=5.0)
        daemon: dict[str, Any] = {"up": True, "hello": hello}
    except DaemonDown as exc:
        daemon = {"up": False, "message": str(exc)}
    except DaemonRefused as exc:  # an older daemon without `hello`: still up
        daemon = {"up": True, "hello": None, "message": str(exc)}
    return JSONResponse(
        {"ok": True, "result": {"port": ctx.guard.port, "socket": str(ctx.home.socket), "daemon": daemon}}
    )


routes = [
    Route("/api/ui", ui_info, methods=["GET"]),
    Route("/api/call/{command}", call, methods=["POST"]),
    Route("/api/upload", upload, methods=["POST"]),
    Route("/api/install", install, methods=["POST"]),
    Route("/api/discard", discard, methods=["POST"]),
    Route("/api/export", export, methods=["GET"]),
]
