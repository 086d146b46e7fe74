"""Scope matching, kept apart from the capabilities so the rules can be read and tested alone.

The rule for every comparison: normalise first, with the same parser that will be used to do the
work (httpx parses the URL that httpx connects to), then compare exact plain strings.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}


class ScopeError(ValueError):
    """A target that cannot be matched at all (malformed, unsupported scheme, credentials)."""


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, IDNA (punycode) for international names, canonical IPs."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.endswith("."):
        host = host[:-1]
    if not host or "." in (host[0], host[-1]) or ".." in host:
        raise ScopeError(f"invalid host {host!r}")
    try:
        ip = ipaddress.ip_address(host)
        # ::ffff:127.0.0.1 is where 127.0.0.1 is reached over IPv6: compare it as IPv4.
        return str(getattr(ip, "ipv4_mapped", None) or ip)
    except ValueError:
        pass
    if host.replace(".", "").isalnum() and host.split(".")[-1][:1].isdigit():
        # '2130706433', '0x7f.1', '127.1', '0177.0.0.1': the resolver (inet_aton) connects
        # these to 127.0.0.1, so they must be compared as 127.0.0.1, or a deny is bypassed.
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            raise ScopeError(f"invalid host {host!r}") from None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ScopeError(f"invalid host name {host!r}") from None
    host = host.lower()
    if any(not (c.isalnum() or c in "-.") for c in host):
        raise ScopeError(f"invalid host name {host!r}")
    return host


@dataclasses.dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_url(url: str) -> tuple[httpx.URL, Origin]:
    """Parse with httpx itself; refuse credentials, odd schemes and hosts we cannot normalise."""
    import httpx  # here, not at the top: a daemon whose plugins make no HTTP request never loads it

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ScopeError(f"invalid URL: {exc}") from None
    scheme = parsed.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ScopeError(f"scheme {scheme or '(none)'!r} is not allowed; use http or https")
    if parsed.userinfo:
        # 'https://api.example.com@evil.example/' has host evil.example. Credentials in a URL
        # are refused outright: send an Authorization header instead.
        raise ScopeError(f"credentials in the URL (user@host) are not allowed; the host of this URL is {parsed.host!r}")
    raw = parsed.raw_host.decode("ascii", "replace")
    host = normalise_host(raw)
    port = parsed.port or DEFAULT_PORTS[scheme]
    return parsed, Origin(scheme, host, port)


@dataclasses.dataclass(frozen=True)
class OriginPattern:
    scheme: str
    host: str  # exact host, or ".example.com" for "*.example.com"
    port: int | None  # None: any port

    def matches(self, origin: Origin) -> bool:
        if origin.scheme != self.scheme:
            return False
        if self.port is not None and origin.port != self.port:
            return False
        if self.host.startswith("."):
            return origin.host.endswith(self.host)
        return origin.host == self.host


def parse_origin_pattern(pattern: str) -> OriginPattern:
    """'https://api.example.com', 'http://127.0.0.1:8080', 'https://*.example.com', 'host:*'.
    Without a scheme, https is meant."""
    text = pattern.strip()
    scheme = "https"
    if "://" in text:
        scheme, text = text.split("://", 1)
        scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ScopeError(f"scope {pattern!r}: scheme must be http or https")
    text = text.split("/", 1)[0]
    if "@" in text:
        raise ScopeError(f"scope {pattern!r}: credentials are not allowed")
    port: int | None = DEFAULT_PORTS[scheme]
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = None if rest[1:] == "*" else int(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = None if port_text == "*" else int(port_text)
    else:
        host = text
    wildcard = host.startswith("*.")
    host = normalise_host(host[2:] if wildcard else host)
    return OriginPattern(scheme, "." + host if wildcard else host, port)


def origin_allowed(origin: Origin, allow: tuple[str, ...], deny: tuple[str, ...]) -> bool:
    """Deny beats allow; an unparsable scope entry never allows anything."""

    def any_match(patterns: tuple[str, ...]) -> bool:
        for p in patterns:
            try:
                if parse_origin_pattern(p).matches(origin):
                    return True
            except (ScopeError, ValueError):
                continue
        return False

    return not any_match(deny) and any_match(allow)


# -- MQTT topics ---------------------------------------------------------------------------------


def check_topic(topic: str) -> None:
    """A topic name to publish to: no wildcards."""
    if not topic or len(topic.encode("utf-8")) > 65535 or "\x00" in topic:
        raise ScopeError("invalid MQTT topic")
    if "+" in topic or "#" in topic:
        raise ScopeError("wildcards (+ and #) are only allowed in subscriptions")


def check_filter(topic_filter: str) -> None:
    if not topic_filter or len(topic_filter.encode("utf-8")) > 65535 or "\x00" in topic_filter:
        raise ScopeError("invalid MQTT topic filter")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ScopeError("'#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise ScopeError("'+' must be a whole level")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 §4.7 matching, including: wildcards at the first level do not match '$' topics."""
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    if topic.startswith("$") and f_levels[0] in ("+", "#"):
        return False
    for i, f in enumerate(f_levels):
        if f == "#":
            return True
        if i >= len(t_levels):
            return False
        if f != "+" and f != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)


def filter_covers(granted: str, wanted: str) -> bool:
    """True when every topic ``wanted`` can match is also matched by ``granted``."""
    g, w = granted.split("/"), wanted.split("/")
    if w[0].startswith("$") != g[0].startswith("$") and g[0] in ("+", "#"):
        return False
    for i, level in enumerate(w):
        if i >= len(g):
            return False
        if g[i] == "#":
            return True
        if level == "#":
            return False
        if g[i] == "+":
            continue
        if level == "+" or level != g[i]:
            return False
    return len(g) == len(w) or (len(g) == len(w) + 1 and g[-1] == "#")


def filters_overlap(a: str, b: str) -> bool:
    """True when some topic matches both filters (used to apply deny lists to subscriptions)."""
    la, lb = a.split("/"), b.split("/")
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else None
        y = lb[i] if i < len(lb) else None
        if x == "#" or y == "#":
            return True
        if x is None or y is None:
            return False
        if x != "+" and y != "+" and x != y:
            return False
    return True
