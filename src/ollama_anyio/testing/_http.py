"""HTTP/1.1 over anyio sockets with h11: the only module that moves bytes.

One task per connection reads requests (keep-alive), asks the application for a
:class:`~._faults.Plan` and performs it: a Content-Length body, or a chunked body written one
chunk per NDJSON line, from an iterator or from an asynchronous body read in the same task.
While a response is being produced and written a second task watches the socket, so a client
that goes away is noticed at once, even while the response is paused (delay, hang) or a model
is still generating it.

Run as a server, it holds up against hostile clients: a request body over ``max_body`` is
answered ``413`` (announced, at once; chunked, once that much has come) and the connection
closed; while a response is under way at most `_PENDING` bytes of a next request are read
ahead (a pipelined flood waits in the kernel); and the accept loop (`serve`) outlives running
out of file descriptors, retrying after a pause as trio's ``serve_listeners`` does.
"""

from __future__ import annotations

import contextlib
import errno
import json as _json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel
import h11

from ._faults import Action, Plan

__all__ = ["DEFAULT_MAX_BODY", "HttpRequest", "HttpServer", "serve"]

_READ_SIZE = 65536
_CLOSED = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError)
DEFAULT_MAX_BODY = 64 * 1024 * 1024  # far above any API request but a blob upload's
_PENDING = 64 * 1024  # bytes of a next request read ahead while a response is under way
# accept() errors that mean "not now" (descriptors or kernel memory run out), not "never".
_CAPACITY = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
_CAPACITY_PAUSE = 0.1  # seconds, as trio's serve_listeners
_LINGER = 1.0  # seconds an unread request body is drained before the connection closes


class _TooLarge(Exception):
    """A request body over the server's limit."""


async def serve(
    listener: anyio.abc.Listener[anyio.abc.SocketStream],
    handler: Callable[[anyio.abc.SocketStream], Coroutine[Any, Any, None]],
    group: anyio.abc.TaskGroup,
) -> None:
    """Accept connections and start ``handler`` on each in ``group``, until cancelled.

    Unlike ``listener.serve``, running out of file descriptors (a burst of connections) pauses
    accepting for a moment instead of ending the server: the connections being served close,
    and accepting resumes.
    """
    listeners = getattr(listener, "listeners", None)  # anyio's MultiListener: one per address
    if listeners is not None:
        for each in listeners:
            group.start_soon(serve, each, handler, group)
        return
    accept = cast("anyio.abc.SocketListener", listener).accept
    while True:
        try:
            stream = await accept()
        except OSError as exc:
            if exc.errno not in _CAPACITY:
                raise
            await anyio.sleep(_CAPACITY_PAUSE)
            continue
        _pause_reading(stream)
        group.start_soon(handler, stream)


def _pause_reading(stream: anyio.abc.SocketStream) -> None:
    # anyio's asyncio backend reads a socket only while a receive() waits, pausing its
    # transport after each wait, but leaves an accepted one reading, and a receive() that
    # finds bytes waiting does not pause it: a client flooding from its first byte would be
    # read into memory without end. Paused here, the stream reads only when asked to. (trio
    # reads only when asked to: nothing to do.)
    pause = getattr(getattr(stream, "_transport", None), "pause_reading", None)
    if pause is not None:
        pause()


@dataclass(frozen=True)
class HttpRequest:
    """A request as received: method, target, headers (lower-case names) and body."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class _Disconnected(Exception):
    """The client closed the connection."""


class HttpServer:
    """Serve an application on accepted socket streams.

    Args:
        app: turns a request into the plan of its response; runs in the event loop, so it
            must not block (it may await).
        token_delay: seconds to wait between two lines of a streamed body.
        on_disconnect: called when a client leaves before its response was complete.
        on_error: called with an unexpected exception before its connection is closed.
        on_busy: called with +1 when a request has arrived, -1 when its response has ended.
        max_body: the largest request body accepted; a larger one is answered ``413``.
    """

    def __init__(
        self,
        app: Callable[[HttpRequest], Awaitable[Plan]],
        *,
        token_delay: float = 0.0,
        on_disconnect: Callable[[], None] = lambda: None,
        on_error: Callable[[BaseException], None] = lambda exc: None,
        on_busy: Callable[[int], None] = lambda change: None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._app = app
        self._max_body = max_body
        self._on_busy = on_busy
        self._token_delay = token_delay
        self._on_disconnect = on_disconnect
        self._on_error = on_error

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        """Serve every request of one connection, then close it."""
        async with stream:
            conn = h11.Connection(h11.SERVER)
            try:
                while await self._cycle(conn, stream):
                    conn.start_next_cycle()
            except (*_CLOSED, _Disconnected, h11.ProtocolError):
                pass
            except Exception as exc:  # a bug in a handler must not take the server down
                self._on_error(exc)

    async def _cycle(self, conn: h11.Connection, stream: anyio.abc.ByteStream) -> bool:
        request = await self._read_request(conn, stream)
        if request is None:
            return False
        self._on_busy(1)  # a request in flight, from its arrival to the end of its response
        try:
            if not await self._respond(conn, stream, request):
                return False
        finally:
            self._on_busy(-1)
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    async def _next_event(self, conn: h11.Connection, stream: anyio.abc.ByteStream) -> object:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            if conn.they_are_waiting_for_100_continue:
                await stream.send(
                    conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            try:
                data = await stream.receive(_READ_SIZE)
            except _CLOSED:
                data = b""
            conn.receive_data(data)

    async def _read_request(
        self, conn: h11.Connection, stream: anyio.abc.ByteStream
    ) -> HttpRequest | None:
        try:
            event = await self._next_event(conn, stream)
        except h11.RemoteProtocolError as exc:
            await self._send_bad_request(conn, stream, exc)
            return None
        if not isinstance(event, h11.Request):
            return None
        body = bytearray()
        try:
            length = next((int(v) for k, v in event.headers if k == b"content-length"), 0)
            if length > self._max_body:
                raise _TooLarge
            while True:
                part = await self._next_event(conn, stream)
                if isinstance(part, h11.Data):
                    body += part.data
                    if len(body) > self._max_body:
                        raise _TooLarge
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    return None
        except _TooLarge:
            # As Go's MaxBytesReader words it; the rest of the body is not read: the
            # connection closes after the answer.
            await self._send_error(conn, stream, 413, "http: request body too large")
            # A lingering close, as nginx's: the unread body is drained (and dropped) a moment,
            # as closing on it would reset the connection, and the answer with it.
            with anyio.move_on_after(_LINGER):
                with contextlib.suppress(*_CLOSED):
                    while await stream.receive(_READ_SIZE):
                        pass
            return None
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers)
        return HttpRequest(
            event.method.decode("ascii"), event.target.decode("latin-1"), headers, bytes(body)
        )

    async def _send_bad_request(
        self, conn: h11.Connection, stream: anyio.abc.ByteStream, exc: h11.RemoteProtocolError
    ) -> None:
        await self._send_error(conn, stream, exc.error_status_hint, "400 Bad Request", json=False)

    @staticmethod
    async def _send_error(
        conn: h11.Connection,
        stream: anyio.abc.ByteStream,
        status: int,
        message: str,
        *,
        json: bool = True,
    ) -> None:
        """Answer with an error and close: ``{"error": message}``, or the message as text."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        if json:
            body = _json.dumps({"error": message}, separators=(",", ":")).encode()
            kind = "application/json; charset=utf-8"
        else:
            body, kind = message.encode(), "text/plain"
        headers = [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
        response = h11.Response(status_code=status, headers=headers)
        try:
            await stream.send(conn.send(response) or b"")
            await stream.send(conn.send(h11.Data(data=body)) or b"")
            await stream.send(conn.send(h11.EndOfMessage()) or b"")
        except _CLOSED:
            pass

    async def _respond(
        self, conn: h11.Connection, stream: anyio.abc.ByteStream, request: HttpRequest
    ) -> bool:
        """Answer ``request``; returns whether the connection may be reused."""
        outcome = "cancelled"
        gone = False
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                nonlocal gone
                try:
                    # Bytes of a pipelined next request are kept for the next cycle, up to
                    # _PENDING: past that a flood waits in the kernel (back-pressure), and a
                    # client that leaves is noticed when its answer cannot be written.
                    while len(conn.trailing_data[0]) < _PENDING:
                        conn.receive_data(await stream.receive(_READ_SIZE))
                except _CLOSED:
                    gone = True
                    tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                # The application runs under the watch too: a client that leaves while a
                # whole answer is being generated stops the generation.
                plan = await self._app(request)
                outcome = await self._write(conn, stream, plan)
            except _CLOSED:
                gone = True
            tg.cancel_scope.cancel()
        if outcome == "dropped":
            # Close without the chunked terminator (or short of Content-Length): the client
            # must notice the response was cut.
            await stream.aclose()
            return False
        if gone and outcome != "finished":
            self._on_disconnect()
        return outcome == "finished" and not gone

    async def _write(self, conn: h11.Connection, stream: anyio.abc.ByteStream, plan: Plan) -> str:
        if plan.delay > 0:
            await anyio.sleep(plan.delay)
        if callable(plan.actions):
            # Entered before the headers: an asynchronous body may wait here for its model.
            async with plan.actions() as actions:
                return await self._send(conn, stream, plan, actions)
        return await self._send(conn, stream, plan, _SyncActions(plan.actions))

    async def _send(
        self,
        conn: h11.Connection,
        stream: anyio.abc.ByteStream,
        plan: Plan,
        actions: AsyncIterator[Action],
    ) -> str:
        headers = [*plan.headers, ("Date", formatdate(usegmt=True))]
        if plan.length is not None:
            headers.append(("Content-Length", str(plan.length)))
        else:
            headers.append(("Transfer-Encoding", "chunked"))
        await stream.send(conn.send(h11.Response(status_code=plan.status, headers=headers)) or b"")
        first = True
        async for action, data in actions:
            if action == "hang":
                await plan.hold()
            if not first and plan.length is None:
                if self._token_delay > 0:
                    await anyio.sleep(self._token_delay)
                else:
                    await anyio.lowlevel.checkpoint()
            first = False
            if data:
                await stream.send(conn.send(h11.Data(data=data)) or b"")
            if action == "drop":
                return "dropped"
        await stream.send(conn.send(h11.EndOfMessage()) or b"")
        return "finished"


class _SyncActions:
    """A plan's iterator of actions, read with ``async for`` (a class: nothing to finalize)."""

    def __init__(self, actions: Iterator[Action]) -> None:
        self._actions = actions

    def __aiter__(self) -> _SyncActions:
        return self

    async def __anext__(self) -> Action:
        try:
            return next(self._actions)
        except StopIteration:
            raise StopAsyncIteration from None
