"""Client configuration: the base URL, headers, API key and timeouts.

Everything here is pure and cheap. The environment (``OLLAMA_HOST``, ``OLLAMA_API_KEY``) is read
only when a function is called, that is when a client is built, never at import. Host parsing
follows SPEC §7.2 so that a host string means the same base URL here as in the official client;
malformed input raises `RequestError` (a ``ValueError``) before any request is sent.
"""

from __future__ import annotations

import functools
import importlib.metadata
import ipaddress
import math
import os
import platform
import re
import string
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from ._errors import RequestError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "WEB_URL",
    "api_key_from_env",
    "build_headers",
    "check_header",
    "default_timeout",
    "host_from_env",
    "is_ollama_com",
    "parse_host",
    "timeouts",
    "user_agent",
]

# Web search and fetch go to ollama.com, whatever the host (with the API key only).
WEB_URL = "https://ollama.com"

DEFAULT_CONNECT_TIMEOUT = 10.0
# A local server answers only once the model is loaded, which can take minutes for big models.
DEFAULT_READ_TIMEOUT = 600.0

_DEFAULT_HOST = "127.0.0.1"
_DEFAULT_PORT = 11434
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# RFC 3986 reg-name characters; non-ASCII names are left to httpx's IDNA check below.
_HOST_CHARS = frozenset(string.ascii_letters + string.digits + "-._~%!$&'()*+,;=")


def parse_host(host: str | None) -> str:
    """The base URL for a host string, as the official client computes it (SPEC §7.2).

    ``None`` or an empty string means ``http://127.0.0.1:11434``. Surrounding whitespace (a
    stray newline in ``OLLAMA_HOST``) is ignored.

    Raises:
        RequestError: the scheme, host or port is malformed, the port is out of range, or an
            IPv6 address is not in brackets.
    """
    text = (host or "").strip()

    def fail(reason: str) -> RequestError:
        return RequestError(f"invalid Ollama host {host!r}: {reason}")

    if any(c.isspace() or not c.isprintable() for c in text):
        raise fail("it contains whitespace or control characters")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, port = "http", text, _DEFAULT_PORT
    elif not _SCHEME.fullmatch(scheme):
        raise fail(f"{scheme!r} is not a URL scheme")
    else:
        # Compared as written, like the official client: "HTTPS://" gets port 11434.
        port = {"http": 80, "https": 443}.get(scheme, _DEFAULT_PORT)

    # The authority ends at the first "/", "?" or "#"; query and fragment are dropped.
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority, path = rest[:end], re.split(r"[?#]", rest[end:], maxsplit=1)[0].strip("/")
    hostport = authority.rpartition("@")[2].lower()  # user-info is dropped

    if hostport.startswith("["):
        name, bracket, port_text = hostport[1:].partition("]")
        if not bracket or (port_text and not port_text.startswith(":")):
            raise fail("unbalanced brackets around an IPv6 address")
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            raise fail(f"{name!r} is not an IPv6 address") from None
        # Kept as written (lower-cased), not compressed, like the official client.
        name, port_text = f"[{name}]", port_text[1:]
    else:
        name, _, port_text = hostport.partition(":")
        if ":" in port_text:
            raise fail("an IPv6 address must be in brackets, e.g. [::1]:11434")
        if bad := sorted({c for c in name if c.isascii() and c not in _HOST_CHARS}):
            raise fail(f"the host name contains {''.join(bad)!r}")

    if port_text:
        # The length check keeps int() away from huge digit strings (it refuses > 4300 digits).
        if not (port_text.isascii() and port_text.isdigit()) or len(port_text.lstrip("0")) > 5:
            raise fail(f"port {port_text!r} is not a number from 0 to 65535")
        if int(port_text) > 65535:
            raise fail(f"port {port_text} is out of range 0-65535")
        port = int(port_text) or port  # port 0 counts as absent

    url = f"{scheme}://{name or _DEFAULT_HOST}:{port}" + (f"/{path}" if path else "")
    try:
        # httpx checks what is left (IPv4 syntax, IDNA names); better to fail here than at the
        # first request, where its InvalidURL would escape the error translation.
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise fail(str(exc)) from None
    return url


def host_from_env(host: str | None) -> str:
    """The base URL for `host`, or for ``OLLAMA_HOST`` when `host` is None or empty.

    Raises:
        RequestError: the chosen host string is malformed (see `parse_host`).
    """
    return parse_host(host or os.environ.get("OLLAMA_HOST"))


@functools.cache
def user_agent() -> str:
    """``ollama-anyio/<version> (<machine> <system>) Python/<version>``, computed once."""
    try:
        version = importlib.metadata.version("ollama-anyio")
    except importlib.metadata.PackageNotFoundError:
        version = "0.0.0"
    system = f"{platform.machine()} {platform.system().lower()}"
    return f"ollama-anyio/{version} ({system}) Python/{platform.python_version()}"


def build_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of every request: the caller's, with lower-cased names, then the fixed ones.

    ``content-type``, ``accept`` and ``user-agent`` override same-named caller headers, as in
    the official client (SPEC §7.3): the body is always JSON whatever the caller asks for.
    """
    merged = {name.lower(): value for name, value in (headers or {}).items()}
    for name, value in merged.items():
        check_header(name, value)
    merged["content-type"] = "application/json"
    merged["accept"] = "application/json"
    merged["user-agent"] = user_agent()
    return merged


def api_key_from_env(api_key: str | None) -> str | None:
    """`api_key` if given, else ``OLLAMA_API_KEY``; an empty key means no key.

    An explicit ``api_key=""`` returns None without reading the environment, so a caller can
    keep a key set for other tools from being sent.
    """
    if api_key is not None:
        if api_key:
            check_header("authorization", api_key, shown="the API key")
        return api_key or None
    # Checked where it is sent: a malformed key in the environment must not stop a client
    # that never talks to ollama.com.
    return os.environ.get("OLLAMA_API_KEY") or None


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def check_header(name: object, value: object, *, shown: str | None = None) -> None:
    """Refuse a header that is not a token and printable ASCII (no CR or LF to split it).

    Raises:
        RequestError: the name or value is not a string, or has characters a header cannot.
    """
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise RequestError(f"invalid header name {name!r}")
    if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
        what = shown or f"the value of header {name!r}"
        raise RequestError(f"{what} must be printable ASCII (no line breaks)")


def is_ollama_com(url: str) -> bool:
    """Whether `url` is an https URL on ollama.com or one of its subdomains.

    The API key is sent unasked only there: elsewhere it would leak to whoever runs the server.
    """
    try:
        split = urllib.parse.urlsplit(url)
        hostname = split.hostname
    except ValueError:  # e.g. unbalanced brackets
        return False
    if split.scheme != "https" or not hostname:
        return False
    hostname = hostname.removesuffix(".")  # "ollama.com." is the same host
    return hostname == "ollama.com" or hostname.endswith(".ollama.com")


def timeouts(value: object) -> dict[str, float | None]:
    """The connect, read, write and pool timeouts of a ``timeout=`` argument, checked.

    ``value`` is what httpx takes: None (no timeout), a number of seconds, a tuple of four,
    or an ``httpx.Timeout``.

    Raises:
        RequestError: a timeout that is not None or a non-negative number of seconds.
    """
    try:
        parts: dict[str, Any] = httpx.Timeout(value).as_dict()  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise RequestError(f"invalid timeout {value!r}: {exc}") from None
    for name, seconds in parts.items():
        if seconds is None:
            continue
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise RequestError(
                f"invalid timeout {value!r}: the {name} timeout must be None or a "
                f"non-negative number of seconds, got {seconds!r}"
            )
    return parts


def default_timeout() -> httpx.Timeout:
    """10 s to connect; 600 s for each read, write and pool wait."""
    return httpx.Timeout(DEFAULT_READ_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)


class _Default:
    """The type of `DEFAULT`: "not given", where None means something (no timeout)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
