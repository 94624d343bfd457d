"""The session under the endpoints: connections, the path a request takes, its retries.

`Session` holds what every endpoint shares: the per-event-loop pool (`_Pool`), the choice
between the direct path (`_direct`), our transport under httpx's client, and httpx's own
transport; the scope of the API key; the retry loop (`Session.send`: one attempt, then the
retry policy's verdict); and the limits in time and size of reading an answer. The send loop
is also the one observation point of every request (`_observe`): request ids, hooks, the
request log, raw responses and OpenTelemetry's trace context all hang off it.

Which path: with no httpx option at all, requests go straight to our transport (`_direct`),
which hands the client over to httpx when an answer needs httpx's client (a cookie to keep).
A redirect met there is followed from that answer, by `_redirect`, with httpx's rules. With
httpx options but none that shape its transport, httpx's client runs on our transport; with
a transport option (or a proxy in the environment, which httpx routes by), on its own. With
``http_client=``, on the caller's client, as given (`_user_client`): never closed here.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
import urllib.request
from collections.abc import AsyncIterable, Callable
from contextlib import AbstractContextManager
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from .. import _config
from .._errors import (
    Fact,
    Failure,
    OllamaError,
    OllamaTimeoutError,
    ProtocolError,
    RequestError,
    UsageLimitError,
    cause_of,
    failure_of,
    public_error,
    response_error,
    translate_errors,
)
from .._raw import reply_headers
from . import _fork
from ._direct_sender import DirectReply, DirectSender, HttpxReply, Reply
from ._limits import DECODE_BUDGET, DENSE, Limits, decoded_cost, limits_for
from ._observe import Observer
from ._retry import Retry, RetryPolicy
from ._transport import MAX_IDLE, AnyIOTransport
from ._user_client import user_client

__all__ = ["DEFAULT_MAX_BODY_SIZE", "DEFAULT_MAX_LINE_SIZE", "ERROR_EXCERPT", "Session"]

logger = logging.getLogger("ollama_anyio")
_httpx_logger = logging.getLogger("httpx")

# The longest line of a stream: 4 times the Go client's 8 MB (SPEC §2); the largest lines are
# a final chunk's `context` (about 7 bytes per token) and tool calls, far below it.
DEFAULT_MAX_LINE_SIZE = 32 * 1024 * 1024
# The largest whole answer: embed answers are the largest (about 20 bytes per float: 1,000
# vectors of 768 floats are 15 MB), then `show(verbose=True)` with a tokenizer (tens of MB).
DEFAULT_MAX_BODY_SIZE = 1024 * 1024 * 1024
ERROR_EXCERPT = 64 * 1024  # of an error body, kept for the message; the rest is not read
_MAX_REDIRECTS = 20  # as httpx
_UNBOUNDED = contextlib.nullcontext()
# Statuses after which a Location header is followed.
REDIRECTS = frozenset({301, 302, 303, 307, 308})

# Options that shape httpx's own transport: with any of them, httpx builds it as usual and
# our AnyIOTransport is not used. (``proxy=`` needs no entry: httpx mounts it over ours;
# ``limits=`` is taken by ours.)
_TRANSPORT_OPTIONS = frozenset({"transport", "verify", "cert", "http1", "http2", "mounts"})
# Headers the direct path writes itself; given by the caller, httpx's rules decide instead.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})


_Clients = tuple[httpx.AsyncClient, DirectSender | None]


def _proxies_in_environment() -> bool:
    proxies = urllib.request.getproxies()  # what httpx reads, too
    return any(scheme in proxies for scheme in ("http", "https", "all"))


class _Pool:
    """The httpx client (its connection pool), shared by a session and its `with_options` views.

    Our transport's plain connections belong to no event loop, so one pool serves a client
    used from one loop after another (a second ``asyncio.run()``, where the official client
    fails with "Event loop is closed"). httpx's own transport keeps connections bound to the
    loop that opened them: with it (``per_loop``), a new loop gets a new pool, and the old
    pool's idle sockets are left to the garbage collector, as nothing can close them without
    their loop.

    Args:
        factory: builds the httpx client, and the direct sender on its transport if requests
            may skip httpx's client layer (see `_direct`).
    """

    def __init__(
        self,
        factory: Callable[[], tuple[httpx.AsyncClient, DirectSender | None]],
        *,
        per_loop: bool,
        owned: bool = True,
    ) -> None:
        self._factory = factory
        self._http, self.direct = factory()
        self._per_loop = per_loop
        self._loop: object = None
        self.owned = owned  # False: the caller's http_client, whose life is the caller's
        self._closed = False
        self._generation = _fork.current

    def _after_fork(self) -> None:
        """In a forked child: a new httpx client, the parent's left untouched (see `_fork`)."""
        self._generation = _fork.current
        if not self.owned:
            return  # the caller's http_client: what a fork does to it is the caller's affair
        if self._http.is_closed:
            return  # closed before the fork: it stays closed
        transport = getattr(self._http, "_transport", None)
        if isinstance(transport, AnyIOTransport):
            transport.forget_the_parents()
        # (httpx's own pool, if that is the transport: its sockets are the parent's, and
        # belong to the parent's loop; left as they are.)
        _fork.park(self._http)
        self._http, self.direct = self._factory()
        self._loop = None

    def http_client(self) -> httpx.AsyncClient:
        """The httpx client of the running event loop (the one client, if not ``per_loop``)."""
        if self._generation != _fork.current:
            self._after_fork()
        if self._per_loop:
            loop = anyio.lowlevel.current_token()
            if loop != self._loop:
                if self._loop is not None:
                    self._http, _ = self._factory()
                self._loop = loop
        return self._http

    @property
    def closed(self) -> bool:
        return self._closed or self._http.is_closed

    async def aclose(self) -> None:
        self._closed = True
        if not self.owned:
            return  # the caller's client: closing it is the caller's to do
        if self._generation != _fork.current:
            self._after_fork()
        if not self._per_loop or self._loop in (None, anyio.lowlevel.current_token()):
            await self._http.aclose()
        else:  # its loop has ended: forget it (see above), and refuse further use
            self._http, _ = self._factory()
            await self._http.aclose()


def _our_transport(limits: httpx.Limits | None) -> Callable[[], AnyIOTransport]:
    if limits is None:
        return AnyIOTransport
    idle = limits.max_keepalive_connections
    expiry = limits.keepalive_expiry

    def build() -> AnyIOTransport:
        return AnyIOTransport(
            max_connections=limits.max_connections,
            max_idle=MAX_IDLE if idle is None else idle,
            idle_expiry=float("inf") if expiry is None else expiry,
        )

    return build


def _read_timeout(exc: TimeoutError, url: str, what: str, seconds: float | None) -> OllamaError:
    """The error for a read deadline that ran out (``exc`` itself if it is ours already)."""
    if isinstance(exc, OllamaError):
        return exc  # a timeout of another scope, already translated
    return OllamaTimeoutError(f"read timeout talking to {url}: {what} took more than {seconds} s")


class Session:
    """Sends requests to one Ollama server and reads the answers, within limits.

    Args:
        base_url: the server's base URL (checked by `_config.parse_host`).
        headers: the headers of every request (`_config.build_headers`).
        api_key: the API key, if any; ``api_key_to_host``: it may go to ``base_url`` too.
        timeout: as `AsyncClient`'s.
        retry: the retry policy.
        follow_redirects: follow 301, 302, 303, 307 and 308 answers.
        max_line_size, max_body_size: the longest line of a stream, the largest whole answer.
        options: options for ``httpx.AsyncClient``.
        observer: the request id header and the hooks (`_observe`); default: the request id
            in ``X-Request-Id``, no hooks.
        http_client: the caller's own ``httpx.AsyncClient`` (or ``httpx.Client``, used from
            worker threads), used as given and never closed here; excludes ``options``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        api_key: str | None,
        api_key_to_host: bool,
        timeout: Any,
        retry: RetryPolicy,
        follow_redirects: bool,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        options: dict[str, Any],
        observer: Observer | None = None,
        http_client: object = None,
    ) -> None:
        for name, size in (("max_line_size", max_line_size), ("max_body_size", max_body_size)):
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise RequestError(f"{name} must be a positive number of bytes, got {size!r}")
        self.base_url = base_url
        self.max_line_size = max_line_size
        self.max_body_size = max_body_size
        # Figures given by the user apply to every endpoint; the defaults are per endpoint.
        self._custom_line = max_line_size != DEFAULT_MAX_LINE_SIZE
        self._custom_body = max_body_size != DEFAULT_MAX_BODY_SIZE
        self._headers = headers
        self._api_key = api_key
        self._key_to_base_url = api_key_to_host or _config.is_ollama_com(base_url)
        self.timeout = timeout
        self.timeouts = _config.timeouts(timeout)  # checked; used by the direct path
        self._timeout_is_default = True  # the pool's httpx client has self.timeout
        self.retry = retry
        self._follow_redirects = follow_redirects
        self._urls: dict[str, httpx.URL] = {}
        self._limits: dict[str, Limits] = {}  # by URL: looked up on every answer
        self.observer = observer or Observer(headers, "X-Request-Id", None, None)
        self._users = http_client is not None
        if http_client is not None:
            given: Any = user_client(http_client, options)
            self._pool = _Pool(lambda: (given, None), per_loop=False, owned=False)
        else:
            self._pool = self._new_pool(dict(options))

    def _new_pool(self, options: dict[str, Any]) -> _Pool:
        limits = options.get("limits")
        # httpx ignores proxies from the environment when given a transport: with one set,
        # httpx's own transport is used, as it routes by them (NO_PROXY included).
        ours = not _TRANSPORT_OPTIONS & options.keys() and not (
            options.get("trust_env", True) and _proxies_in_environment()
        )
        if ours:
            options.pop("limits", None)
        transport = _our_transport(limits) if ours else None
        # With no httpx option at all, httpx's client layer has nothing to add (see `_direct`).
        # (The base URL never has credentials: parse_host drops them.)
        direct = ours and not options and not _FRAMING_HEADERS & self._headers.keys()

        def factory() -> tuple[httpx.AsyncClient, DirectSender | None]:
            ours = None if transport is None else transport()  # pools never share connections
            arguments: dict[str, Any] = dict(options)
            if ours is not None:
                arguments["transport"] = ours
            http = httpx.AsyncClient(
                follow_redirects=self._follow_redirects,
                timeout=self.timeout,
                headers=self._headers,
                **arguments,
            )
            sender = DirectSender(ours, http.headers) if direct and ours is not None else None
            return http, sender

        return _Pool(factory, per_loop=not ours)

    def with_options(self, *, timeout: Any, retry: RetryPolicy | None) -> Session:
        """A view sharing this session's connections, with another timeout or retry policy."""
        clone = copy.copy(self)
        if timeout is not _config.DEFAULT:
            clone.timeouts = _config.timeouts(timeout)
            clone.timeout = timeout
            clone._timeout_is_default = False
        if retry is not None:
            clone.retry = retry
        return clone

    @property
    def closed(self) -> bool:
        return self._pool.closed

    @property
    def has_credentials(self) -> bool:
        """Whether requests may carry an API key or an Authorization header."""
        return bool(self._api_key) or "authorization" in self._headers

    @property
    def direct(self) -> DirectSender | None:
        """The direct path's sender, while requests take it."""
        return self._pool.direct

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._pool.aclose()

    # -----------------------------------------------------------------------------------------
    # Sending

    def _request_headers(self, url: str, own: dict[str, str]) -> dict[str, str] | None:
        """The headers one request adds to the client's: its ``own`` (the request id, the
        trace context, what hooks added), and the API key, where it may go."""
        if not self._api_key or "authorization" in self._headers:
            return own or None
        if url.startswith(self.base_url):
            allowed = self._key_to_base_url
        else:
            allowed = _config.is_ollama_com(url)
        if not allowed:
            return own or None
        _config.check_header("authorization", self._api_key, shown="OLLAMA_API_KEY")
        return {**own, "authorization": f"Bearer {self._api_key}"}

    def _url(self, url: str) -> httpx.URL:
        # Parsing a URL is a good part of httpx's cost per request; there are few of them.
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if len(self._urls) < 64:
                self._urls[url] = parsed
        return parsed

    async def send(
        self, method: str, url: str, content: Any = None, *, idempotent: bool = True
    ) -> Reply:
        """Send a request and return the response with its body unread, or raise.

        A status of 400 or more raises `ResponseError`. Whether a failed attempt is sent
        again is the retry policy's decision; ``idempotent`` says the request is safe to
        repeat (every endpoint but the writes).
        """
        if not url[:8].lower().startswith(("http://", "https://")):
            raise RequestError(f"unsupported URL scheme in {url!r}: only http and https")
        http = self._pool.http_client()
        repeatable = not isinstance(content, AsyncIterable)  # a blob upload is sent once
        may_go_direct = (
            repeatable
            and not http.is_closed
            and not _httpx_logger.isEnabledFor(logging.INFO)  # nobody reads httpx's request log
        )
        attempt, stale_retried = 0, False
        observer = self.observer
        event = observer.begin(method, url)  # the observation point: see `_observe`
        if observer.on_request:
            await observer.requesting(event)
        started = time.perf_counter()
        while True:
            retry: Retry | None
            try:
                reply = await self._attempt(
                    http, method, url, content, event.headers, direct=may_go_direct
                )
            except Failure as failure:
                retry = self.retry.decide(
                    attempt,
                    idempotent=idempotent,
                    repeatable=repeatable,
                    failure=failure,
                    stale_retried=stale_retried,
                )
                if retry is None:
                    error = public_error(failure, url)
                    observer.end(event, None, started, attempt, error)
                    if observer.on_response:
                        await observer.responded(event, None, started, attempt, error)
                    raise error from cause_of(failure)
                reason = str(failure)
            else:
                if reply.status_code < 400:
                    observer.end(event, reply, started, attempt)
                    if observer.on_response:
                        await self._respond(event, reply, started, attempt)
                    return reply
                error = response_error(
                    await self._error_body(reply, url), reply.status_code, reply_headers(reply)
                )
                # A used-up quota cannot succeed in seconds: no backoff is worth waiting.
                retry = (
                    None
                    if isinstance(error, UsageLimitError)
                    else self.retry.decide(
                        attempt,
                        idempotent=idempotent,
                        repeatable=repeatable,
                        status=reply.status_code,
                        retry_after=reply.header("retry-after"),
                    )
                )
                if retry is None:
                    observer.end(event, reply, started, attempt, error)
                    if observer.on_response:
                        await observer.responded(event, reply, started, attempt, error)
                    raise error
                reason = str(error)
            if retry.stale:
                stale_retried = True
            else:
                attempt += 1
            logger.debug(
                "%s %s failed (%s); retry %d of %d in %.2f s",
                method,
                url,
                reason,
                attempt,
                self.retry.max_retries,
                retry.delay,
            )
            await anyio.sleep(retry.delay)

    async def _respond(self, event: Any, reply: Reply, started: float, retries: int) -> None:
        """Run the ``on_response`` hooks for a success; the answer is closed if one raises."""
        try:
            await self.observer.responded(event, reply, started, retries)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await reply.aclose()
            raise

    async def _attempt(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        content: Any,
        own: dict[str, str],
        *,
        direct: bool,
    ) -> Reply:
        """Send the request once (following redirects), on the direct path if it may;
        ``own``: the request's own headers (`_request_headers`)."""
        sender = self._pool.direct if direct else None
        if sender is None:
            return await self._through_httpx(http, method, url, content, own)
        first = self._url(url)
        reply = await sender.send(
            method, url, content, self._request_headers(url, own), self.timeouts
        )
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                if sender.must_hand_over(reply):
                    self._hand_over_to_httpx(reply, method, url)
                target = self._redirect(reply, method, url)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await reply.aclose()
                raise
            if target is None:
                return reply
            await reply.aclose()
            method, url = target
            content = None if method == "GET" else content
            if self._pool.direct is None:  # handed over: httpx follows on from here
                return await self._through_httpx(http, method, url, content, own)
            elsewhere = not _same_origin(first, self._url(url))
            headers = None if elsewhere else self._request_headers(url, own)
            reply = await sender.send(
                method, url, content, headers, self.timeouts, elsewhere=elsewhere
            )
        await reply.aclose()
        raise Failure(Fact.PROTOCOL, f"more than {_MAX_REDIRECTS} redirects")

    async def _through_httpx(
        self, http: httpx.AsyncClient, method: str, url: str, content: Any, own: dict[str, str]
    ) -> Reply:
        if self._users:
            # The caller's client: its own headers, auth and hooks apply, and ours (and the
            # key) are added to each request, with our timeout and redirect choice.
            if self._pool.closed:
                raise RuntimeError("this client is closed")
            request = http.build_request(
                method,
                self._url(url),
                content=content,
                headers={**self._headers, **(self._request_headers(url, own) or {})},
                timeout=self.timeout,
            )
            sent = http.send(request, stream=True, follow_redirects=self._follow_redirects)
        else:
            request = http.build_request(
                method,
                self._url(url),
                content=content,
                headers=self._request_headers(url, own),
                timeout=httpx.USE_CLIENT_DEFAULT if self._timeout_is_default else self.timeout,
            )
            sent = http.send(request, stream=True)
        try:
            return HttpxReply(await sent)
        except Failure:
            raise
        except Exception as exc:
            failure = failure_of(exc, began=False)
            if failure is None:
                raise
            raise failure from exc

    def _redirect(self, reply: Reply, method: str, url: str) -> tuple[str, str] | None:
        """The method and URL a redirect on the direct path leads to, by httpx's rules."""
        status = reply.status_code
        if not self._follow_redirects or status not in REDIRECTS:
            return None
        location = reply.header("location")
        if location is None:
            return None
        try:
            target = self._url(url).join(location)
        except (httpx.InvalidURL, ValueError) as exc:
            raise Failure(Fact.PROTOCOL, f"a redirect to a malformed URL: {exc}") from None
        if target.scheme not in ("http", "https"):
            raise Failure(Fact.REFUSED, f"a redirect to {target.scheme!r}: only http and https")
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method = "GET"
        return method, str(target.copy_with(fragment=None))

    def _hand_over_to_httpx(self, reply: Reply, method: str, url: str) -> None:
        """Keep the answer's cookie in httpx's jar; from now on every request goes through
        httpx, which sends it."""
        if isinstance(reply, DirectReply):
            headers: Any = reply.head.headers
        else:
            assert isinstance(reply, HttpxReply)
            headers = reply.response.headers
        response = httpx.Response(
            reply.status_code, headers=headers, request=httpx.Request(method, url)
        )
        self._pool.http_client().cookies.extract_cookies(response)
        self._pool.direct = None

    # -----------------------------------------------------------------------------------------
    # Reading

    def limits(self, url: str) -> Limits:
        """The limits of an answer from ``url`` (see `_limits`)."""
        found = self._limits.get(url)
        if found is not None:
            return found
        base = self.base_url
        path = url[len(base) :] if url.startswith(base) else httpx.URL(url).path
        found = limits_for(
            path.partition("?")[0],
            self.max_body_size,
            self.max_line_size,
            custom_body=self._custom_body,
            custom_line=self._custom_line,
        )
        if len(self._limits) < 64:  # (the client's few endpoints; a URL per call is not kept)
            self._limits[url] = found
        return found

    def decode_budget(self, limits: Limits) -> int:
        """The most memory one body or stream line may take decoded (see `_limits`)."""
        return max(DECODE_BUDGET, 4 * limits.body) if self._custom_body else DECODE_BUDGET

    def check_density(self, data: bytes | bytearray, url: str, limits: Limits) -> None:
        """Refuse JSON whose decoded objects would take more than the decode budget.

        Raises:
            ProtocolError: ``data`` is dense enough in arrays and objects to exceed it.
        """
        cost = decoded_cost(data)
        budget = self.decode_budget(limits)
        if cost > budget:
            raise ProtocolError(
                f"the answer from {url} would take about {cost >> 20} MiB to decode, more "
                f"than the limit of {budget >> 20} MiB"
            )

    async def read(
        self, method: str, url: str, content: Any = None, *, idempotent: bool = True
    ) -> bytes | bytearray:
        """Send a request and return the whole body of its answer."""
        reply = await self.send(method, url, content, idempotent=idempotent)
        try:
            return await self.body(reply, url)
        finally:
            with anyio.CancelScope(shield=True):
                await reply.aclose()

    def _check_length(self, reply: Reply, url: str, limit: int) -> None:
        length = reply.header("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise ProtocolError(
                f"the answer from {url} announces {int(length)} bytes, more than the limit of "
                f"{limit} (max_body_size)"
            )

    async def body(self, reply: Reply, url: str) -> bytes | bytearray:
        """The whole body of ``reply``, within the read timeout and the endpoint's limits
        (weighed, if large, for what decoding it would cost)."""
        # One piece is returned as it came; more are added to one buffer, which grows in
        # place: the body is held once, never as its pieces and their join at the same time.
        first: bytes | None = None
        buffer: bytearray | None = None

        def take(piece: bytes) -> None:
            nonlocal first, buffer
            if buffer is not None:
                buffer += piece
            elif first is None:
                first = piece
            else:
                buffer = bytearray(first)
                buffer += piece
                first = None

        limits = self.limits(url)
        await self.each_piece(reply, url, take, limits)
        data: bytes | bytearray = buffer if buffer is not None else (first or b"")
        if len(data) >= DENSE:  # (a smaller answer is never weighed: no call for it)
            self.check_density(data, url, limits)
        return data

    async def each_piece(
        self,
        reply: Reply,
        url: str,
        take: Callable[[bytes], object],
        limits: Limits | None = None,
    ) -> None:
        """Hand every piece of ``reply``'s body to ``take``, within the read timeout (for the
        whole body) and the endpoint's body limit (refused before reading if the length says
        so)."""
        limit = (limits or self.limits(url)).body
        self._check_length(reply, url, limit)
        await self._pieces(reply, url, take, "the answer", limit)

    async def _error_body(self, reply: Reply, url: str) -> bytes:
        """The first `ERROR_EXCERPT` bytes of an error answer (the rest is not read)."""
        pieces: list[bytes] = []
        size = 0

        def excerpt(piece: bytes) -> bool:
            nonlocal size
            pieces.append(piece[: ERROR_EXCERPT - size])
            size += len(piece)
            return size >= ERROR_EXCERPT

        try:
            await self._pieces(reply, url, excerpt, "the error answer")
        finally:
            with anyio.CancelScope(shield=True):
                await reply.aclose()
        return b"".join(pieces)

    async def _pieces(
        self,
        reply: Reply,
        url: str,
        take: Callable[[bytes], object],
        what: str,
        limit: int | None = None,
    ) -> None:
        """Hand the body's pieces to ``take`` until it returns something true or the body
        ends, all within the read timeout; more than ``limit`` bytes is a `ProtocolError`."""
        iterator = reply.pieces()
        seconds = self.timeouts["read"]
        deadline: AbstractContextManager[object] = _UNBOUNDED
        if seconds is not None and not reply.bound_by(seconds):
            deadline = anyio.fail_after(seconds)  # (bound here only where the body cannot be)
        size = 0
        try:
            with deadline, translate_errors(url):
                async for piece in iterator:
                    size += len(piece)
                    if limit is not None and size > limit:
                        raise ProtocolError(
                            f"the answer from {url} is longer than the limit of {limit} bytes "
                            "(max_body_size)"
                        )
                    if take(piece):
                        break
        except TimeoutError as exc:
            raise _read_timeout(exc, url, what, seconds) from None
        finally:
            # Not shielded (a scope costs 10 µs a call on trio): every caller closes the reply
            # shielded next, which closes the connection if this did not get to.
            await iterator.aclose()  # type: ignore[attr-defined]


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)
