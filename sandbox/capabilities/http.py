"""``http``: requests to granted origins (scheme, host, port), with redirects checked per hop."""

from __future__ import annotations

import json as _json
import os
import time
from typing import Any, ClassVar

import httpx

from ..errors import CapabilityFailed
from . import netguard, placeholders
from .base import Capability, CapabilityContext, plain, require_str
from .scopes import ScopeError, origin_allowed, parse_url

MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10.0
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


class HttpCapability(Capability):
    obj_name = "http"
    capability = "network"
    methods: ClassVar[frozenset[str]] = frozenset({"get", "post", "put", "delete", "request"})

    def __init__(self, ctx: CapabilityContext, *, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        super().__init__(ctx)
        self.max_response_bytes = max_response_bytes
        self._client: httpx.Client | None = None
        #: every connection of the client goes through it: connect and total deadlines
        self._backend = netguard.DeadlineBackend()

    def _http(self) -> httpx.Client:
        if self._client is None:
            # trust_env=False: HTTP(S)_PROXY and .netrc of the daemon's environment must not
            # route or authenticate a plugin's requests. Redirects are followed by hand below.
            self._client = netguard.client(self._backend)
        return self._client

    def get(self, url: Any, headers: Any = None, params: Any = None, timeout: Any = None) -> dict[str, Any]:
        return self.request("GET", url, headers=headers, params=params, timeout=timeout)

    def post(
        self, url: Any, json: Any = None, data: Any = None, headers: Any = None, timeout: Any = None
    ) -> dict[str, Any]:
        return self.request("POST", url, headers=headers, json=json, data=data, timeout=timeout)

    def put(
        self, url: Any, json: Any = None, data: Any = None, headers: Any = None, timeout: Any = None
    ) -> dict[str, Any]:
        return self.request("PUT", url, headers=headers, json=json, data=data, timeout=timeout)

    def delete(self, url: Any, headers: Any = None, timeout: Any = None) -> dict[str, Any]:
        return self.request("DELETE", url, headers=headers, timeout=timeout)

    def _check(self, action: str, url: Any) -> httpx.URL:
        text = require_str(url, "url", 8192)
        try:
            parsed, origin = parse_url(text)
        except ScopeError as exc:
            raise self.deny(action, text, str(exc)) from None
        allow, deny = self.ctx.grants.allow.hosts, self.ctx.grants.deny.hosts
        if not origin_allowed(origin, allow, deny):
            why = (
                f"{origin} is explicitly denied"
                if origin_allowed(origin, deny, ())
                else f"{origin} is {self.scope_hint('hosts')}"
            )
            raise self.deny(action, text, why)
        return parsed

    def request(
        self,
        method: Any,
        url: Any,
        headers: Any = None,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        timeout: Any = None,
        form: Any = None,
        basic_auth: Any = None,
        values: Any = None,
    ) -> dict[str, Any]:
        """``form``: fields sent form-encoded, or multipart when a field is ``{"file": PATH}``
        (a file the plugin may read). ``basic_auth``: ``[user, password]``, encoded here.
        ``values``: the event's values, filled into ``{name}`` placeholders of the url, the
        header values, ``json``, ``data`` and ``form`` (see placeholders.py)."""
        verb = require_str(method, "method", 16).upper()
        action = verb.lower()
        if verb not in _METHODS:
            raise self.deny(action, str(url), f"HTTP method {verb} is not supported")
        if values is not None:
            try:
                known = placeholders.event_values(plain(values))
                url = placeholders.fill_text(require_str(url, "url", 8192), known)
                if isinstance(headers, dict):  # header values stay text: "{velocity}" -> "99"
                    headers = {
                        k: placeholders.fill_text(v, known) if isinstance(v, str) else v for k, v in headers.items()
                    }
                json = placeholders.fill(plain(json), known) if json is not None else None
                data = (
                    placeholders.fill_text(require_str(data, "data", self.max_response_bytes), known) if data else data
                )
                form = placeholders.fill(plain(form), known) if form is not None else None
            except placeholders.PlaceholderError as exc:
                raise ValueError(f"http.{action}(): {exc}") from None
        target = self._check(action, url)
        headers = plain(headers) if headers is not None else {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise TypeError("headers must be a dict of strings")
        if data is not None:
            data = require_str(data, "data", self.max_response_bytes).encode("utf-8")
        fields, files = self._form(action, form)
        auth = None
        if basic_auth is not None:
            pair = plain(basic_auth)
            if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
                raise TypeError("basic_auth must be [user, password]")
            auth = httpx.BasicAuth(pair[0], pair[1])
        budget = self.ctx.remaining(timeout, DEFAULT_TIMEOUT)
        client = self._http()
        try:
            request = client.build_request(
                verb,
                target,
                headers=headers,
                params=plain(params) if params else None,
                json=plain(json) if json is not None else None,
                content=data,
                data=fields,
                files=files,
                timeout=httpx.Timeout(budget),
            )
            if auth is not None:
                request = next(auth.auth_flow(request))  # one header; no challenge round trip
            # A total deadline: the sockets are shut down when the call's time is up, whatever
            # the server does (trickled headers or body, a stalled TLS handshake).
            with self._backend.until(time.monotonic() + budget):
                for _hop in range(MAX_REDIRECTS + 1):
                    response = client.send(request, stream=True)
                    try:
                        if response.is_redirect and response.next_request is not None:
                            nxt = response.next_request
                            self._check(action, str(nxt.url))  # raises (and audits) out of scope
                            self.audit(
                                action, "allowed", str(request.url), f"redirect {response.status_code} -> {nxt.url}"
                            )
                            request = nxt
                            continue
                        body = self._read_capped(response)
                    finally:
                        response.close()
                    self.audit(action, "allowed", str(request.url), f"status {response.status_code}")
                    return {
                        "status": response.status_code,
                        "url": str(request.url),
                        "headers": {k.lower(): v for k, v in response.headers.items()},
                        "text": body.decode(response.encoding or "utf-8", "replace"),
                    }
                raise self.deny(action, str(url), f"more than {MAX_REDIRECTS} redirects")
        except httpx.HTTPError as exc:
            if self._backend.expired:
                self.audit(action, "error", str(url), f"deadline of {budget:g} s passed")
                raise CapabilityFailed(
                    f"http.{action}({str(url)!r}) did not finish within {budget:g} s (the call's deadline)"
                ) from None
            self.audit(action, "error", str(url), type(exc).__name__)
            raise CapabilityFailed(f"http.{action}({str(url)!r}) failed: {type(exc).__name__}: {exc}") from None

    def _form(self, action: str, form: Any) -> tuple[dict[str, str] | None, dict[str, Any] | None]:
        """Form fields, and the files among them (read on the host, within the plugin's read
        scope: its data folder, and ``read_paths`` when ``filesystem`` is granted)."""
        if form is None:
            return None, None
        form = plain(form)
        if not isinstance(form, dict):
            raise TypeError("form must be a dict")
        fields: dict[str, str] = {}
        files: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, dict) and set(value) <= {"file", "filename", "content_type"} and "file" in value:
                from .fs import FsCapability

                reader = FsCapability(self.ctx)
                fd, text = reader._open(f"{action} form file", value["file"], os.O_RDONLY, False)
                with os.fdopen(fd, "rb") as fh:
                    content = fh.read(self.max_response_bytes + 1)
                if len(content) > self.max_response_bytes:
                    raise ValueError(f"form file {text!r} is larger than {self.max_response_bytes} bytes")
                name = str(value.get("filename") or os.path.basename(text))
                files[key] = (name, content, str(value.get("content_type") or "application/octet-stream"))
            elif isinstance(value, (str, int, float, bool)):
                fields[key] = value if isinstance(value, str) else _json.dumps(value)
            else:
                raise TypeError(f"form field {key!r} must be a string, a number or {{file = PATH}}")
        return fields, files or None

    def _read_capped(self, response: httpx.Response) -> bytes:
        # the raw bytes, then at most one content encoding, decoded with an output cap
        return netguard.read_body(response, self.max_response_bytes)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
