"""The only way spotipy reaches the network for a plugin: a requests session bound to one
checked origin (the Web API's or the accounts service's), with no redirects, a capped answer
and a wall deadline. A refusal is raised as ``Refused``, which spotipy does not catch."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
import urllib3.exceptions
import urllib3.util

from ..errors import CapabilityDenied, CapabilityFailed
from .scopes import Origin, ScopeError, normalise_host

MAX_RESPONSE_BYTES = 1024 * 1024


class Refused(Exception):
    """Raised inside spotipy's call by the session; deliberately not a ValueError or a requests
    error, which spotipy would catch and turn into an empty result."""

    def __init__(self, error: CapabilityDenied | CapabilityFailed) -> None:
        super().__init__(str(error))
        self.error = error


class OneOriginSession(requests.Session):
    """The only way spotipy reaches the network here: one origin, checked with the parser
    ``requests`` itself connects with, no redirects, a capped body, a wall deadline."""

    def __init__(self, origin: Origin, refuse: Callable[[str, str], CapabilityDenied]) -> None:
        """``refuse(url, why)`` audits a denial and builds the error for the plugin."""
        super().__init__()
        self.trust_env = False  # HTTP(S)_PROXY, NO_PROXY, .netrc, REQUESTS_CA_BUNDLE
        self.origin = origin
        self.refuse = refuse
        self.deadline = 0.0
        #: (method, url, status) of the last request, for the audit line.
        self.last: tuple[str, str, int] | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        parts = None
        try:
            parts = urllib3.util.parse_url(url)
            seen = Origin(
                (parts.scheme or "").lower(),
                normalise_host(parts.host or ""),
                parts.port or {"http": 80, "https": 443}.get(parts.scheme or "", 0),
            )
        except (ScopeError, ValueError, urllib3.exceptions.LocationParseError):
            seen = None
        if seen != self.origin or parts is None or parts.auth:
            # Defence in depth: the base was checked and rebuilt from its parts, so this only
            # fires if requests would read a URL differently from the scope check.
            raise Refused(self.refuse(url, f"requests would connect to {seen or url}, not the checked {self.origin}"))
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        response = super().send(request, **kwargs)
        try:
            self.last = (str(request.method), url, int(response.status_code))
            if response.is_redirect:
                raise Refused(
                    CapabilityFailed(
                        f"the Spotify API answered {response.status_code} with a redirect; redirects are not followed"
                    )
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise Refused(CapabilityFailed(f"the Spotify API answered more than {MAX_RESPONSE_BYTES} bytes"))
                if self.deadline and time.monotonic() > self.deadline:
                    raise Refused(
                        CapabilityFailed("the Spotify API did not finish answering before the call's deadline")
                    )
                chunks.append(chunk)
        finally:
            response.close()
        response._content = b"".join(chunks)
        return response
