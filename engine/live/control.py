"""The control socket: newline-delimited JSON over a Unix socket (docs/control-protocol.md).

Request ``{"id", "command", "args"}``; answer ``{"id", "ok": true, "result"}`` or ``{"id",
"ok": false, "error": {"code", "message"}}``. One thread per connection, a cap on clients, a
1 MiB cap on a line, and timeouts for idle and half-sent requests. Nothing a client sends can
disturb the daemon: every failure ends, at worst, that one connection.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from midimon.engine.live.lock import clear_stale_socket

log = logging.getLogger("midimon.control")

MAX_LINE = 1 << 20  # bytes, newline excluded
IDLE_TIMEOUT_S = 300.0  # a connection that sends nothing for this long is closed
LINE_TIMEOUT_S = 10.0  # once a request has started, the rest must come within this
WRITE_TIMEOUT_S = 10.0  # a client that does not read its answers is dropped
MAX_CLIENTS = 64


class CommandError(Exception):
    def __init__(self, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


class Connection:
    """One client. Only its own thread writes to it."""

    def __init__(self, server: ControlServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.closed = False

    def send(self, obj: dict) -> bool:
        data = (json.dumps(obj, default=str, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self.sock.settimeout(self.server.write_timeout)
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def peer_gone(self) -> bool:
        """True when the client has closed its end (used while streaming)."""
        import select

        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return False
            self.sock.settimeout(0.1)
            chunk = self.sock.recv(4096, socket.MSG_PEEK)
            if chunk == b"":
                return True
            self.sock.recv(len(chunk))  # a streaming client has nothing to say: drop it
            return False
        except (OSError, ValueError):
            return True


Handler = Callable[[Connection, Any, dict], Any]


class ControlServer:
    def __init__(
        self,
        daemon,
        path: Path,
        *,
        max_line: int = MAX_LINE,
        idle_timeout: float = IDLE_TIMEOUT_S,
        line_timeout: float = LINE_TIMEOUT_S,
        write_timeout: float = WRITE_TIMEOUT_S,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.daemon = daemon
        self.path = Path(path)
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.line_timeout = line_timeout
        self.write_timeout = write_timeout
        self.max_clients = max_clients
        self.commands: dict[str, Handler] = {}
        self._sock: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[Connection] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.served = 0
        self.rejected = 0

    # ------------------------------------------------------------------ lifecycle
    def bind(self) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = folder.stat()
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(folder, 0o700)
        if clear_stale_socket(self.path):
            log.warning("removed a stale control socket left by a crash: %s", self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(128)
        st = os.stat(self.path)
        self._inode = (st.st_dev, st.st_ino)
        self._sock = sock
        import atexit

        atexit.register(self._unlink)

    def start(self) -> None:
        if self._sock is None:
            self.bind()
        self._thread = threading.Thread(target=self._accept, name="midimon-control", daemon=True)
        self._thread.start()
        log.info("control socket: %s", self.path)

    def close(self) -> None:
        self._closing.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._unlink()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)

    def _unlink(self) -> None:
        # only our own socket file: a successor may already have bound a new one
        try:
            st = os.stat(self.path)
            if self._inode == (st.st_dev, st.st_ino):
                os.unlink(self.path)
        except OSError:
            pass

    # ------------------------------------------------------------------ connections
    def _accept(self) -> None:
        while not self._closing.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except OSError:
                if self._closing.is_set():
                    return
                time.sleep(0.05)  # EMFILE and friends: back off, keep serving
                continue
            c = Connection(self, conn)
            with self._lock:
                full = len(self._clients) >= self.max_clients
                if not full:
                    self._clients.add(c)
            if full:
                self.rejected += 1
                c.send(
                    {
                        "id": None,
                        "ok": False,
                        "error": {
                            "code": "busy",
                            "message": f"too many control connections (at most {self.max_clients})",
                        },
                    }
                )
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(c,), name="midimon-control-client", daemon=True).start()

    @property
    def closing(self) -> bool:
        """True once ``close`` was called: streaming handlers end their loops."""
        return self._closing.is_set()

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)

    def _serve(self, c: Connection) -> None:
        buf = bytearray()
        try:
            while not self._closing.is_set() and not c.closed:
                nl = buf.find(b"\n")
                if nl > self.max_line or (nl < 0 and len(buf) > self.max_line):
                    c.send(_error(None, "line_too_long", f"a request line may be at most {self.max_line} bytes"))
                    return
                if nl >= 0:
                    line = bytes(buf[:nl])
                    del buf[: nl + 1]
                    if line.strip():
                        self._handle(c, line)
                    continue
                try:
                    c.sock.settimeout(self.line_timeout if buf else self.idle_timeout)
                    chunk = c.sock.recv(65536)
                except TimeoutError:
                    if buf:
                        c.send(_error(None, "timeout", "the request line was not finished in time"))
                    return
                except OSError:
                    return
                if not chunk:  # the client closed its end: answer a last unterminated request
                    if buf.strip() and len(buf) <= self.max_line:
                        self._handle(c, bytes(buf))
                    return
                buf += chunk
        except Exception:
            log.exception("control connection failed")
        finally:
            with self._lock:
                self._clients.discard(c)
            try:
                c.sock.close()
            except OSError:
                pass

    def _handle(self, c: Connection, line: bytes) -> None:
        self.served += 1
        try:
            req = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            c.send(_error(None, "bad_json", f"not a JSON document: {exc}"))
            return
        if not isinstance(req, dict):
            c.send(_error(None, "bad_request", 'a request is a JSON object: {"id", "command", "args"}'))
            return
        rid = req.get("id")
        if isinstance(rid, (dict, list)):
            rid = None
        command, args = req.get("command"), req.get("args", {})
        if args is None:
            args = {}
        if not isinstance(command, str) or not isinstance(args, dict):
            c.send(_error(rid, "bad_request", '"command" must be a string and "args" an object'))
            return
        handler = self.commands.get(command)
        if handler is None:
            c.send(
                _error(
                    rid, "unknown_command", f"unknown command {command!r}; known: {', '.join(sorted(self.commands))}"
                )
            )
            return
        try:
            result = handler(c, rid, args)
        except CommandError as exc:
            err = {"code": exc.code, "message": exc.message, **exc.data}
            c.send({"id": rid, "ok": False, "error": err})
            return
        except Exception as exc:
            log.exception("control command %r failed", command)
            c.send(_error(rid, "internal", f"{type(exc).__name__}: {exc}"))
            return
        if result is not STREAMED:
            c.send({"id": rid, "ok": True, "result": result})


STREAMED = object()  # a handler that answered by itself (monitor, watch) returns this


def _error(rid, code: str, message: str) -> dict:
    return {"id": rid, "ok": False, "error": {"code": code, "message": message}}
