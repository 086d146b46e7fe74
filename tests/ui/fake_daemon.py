"""A stand-in control socket for the UI's API tests: NDJSON over a real Unix socket.

It answers the commands it is given and records every request, so a guard test can check that
a refused request never reached the daemon.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

Answer = Callable[[dict[str, Any]], Any]


class Refuse(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class FakeDaemon:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, Answer] = {
            "ping": lambda a: {"pong": True, "pid": os.getpid()},
            "hello": lambda a: {"protocol": 1, "version": "test", "pid": os.getpid(), "commands": []},
        }
        self.changes: queue.Queue[dict[str, Any]] = queue.Queue()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(16)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def commands(self) -> list[str]:
        return [r["command"] for r in self.requests]

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as fh:
            for line in fh:
                req = json.loads(line)
                self.requests.append(req)
                rid, command, args = req["id"], req["command"], req.get("args") or {}
                if command == "watch":
                    self._watch(fh, rid)
                    return
                fn = self.answers.get(command)
                if fn is None:
                    out = {"id": rid, "ok": False, "error": {"code": "unknown_command", "message": command}}
                else:
                    try:
                        out = {"id": rid, "ok": True, "result": fn(args)}
                    except Refuse as exc:
                        out = {"id": rid, "ok": False, "error": {"code": exc.code, "message": exc.message}}
                fh.write((json.dumps(out) + "\n").encode())
                fh.flush()

    def _watch(self, fh: Any, rid: int) -> None:
        fh.write(
            (json.dumps({"id": rid, "ok": True, "result": {"streaming": True, "seq": 0, "gap": False}}) + "\n").encode()
        )
        fh.flush()
        while not self._stop.is_set():
            try:
                change = self.changes.get(timeout=0.1)
            except queue.Empty:
                continue
            if change.get("end"):
                return
            fh.write((json.dumps({"id": rid, "change": change}) + "\n").encode())
            fh.flush()
