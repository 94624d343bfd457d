"""HTTP/1.1 over anyio sockets with h11: the only module that moves bytes.

One task per connection reads requests (keep-alive), asks the application for a
:class:`~._faults.Plan` and performs it: a Content-Length body, or a chunked body written one
chunk per NDJSON line, from an iterator or from an asynchronous body read in the same task.
While a response is being produced and written a second task watches the socket, so a client
that goes away is noticed at once, even while the response is paused (delay, hang) or a model
is still generating it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate

import anyio
import anyio.abc
import anyio.lowlevel
import h11

from ._faults import Action, Plan

__all__ = ["HttpRequest", "HttpServer"]

_READ_SIZE = 65536
_CLOSED = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError)


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
    """

    def __init__(
        self,
        app: Callable[[HttpRequest], Awaitable[Plan]],
        *,
        token_delay: float = 0.0,
        on_disconnect: Callable[[], None] = lambda: None,
        on_error: Callable[[BaseException], None] = lambda exc: None,
        on_busy: Callable[[int], None] = lambda change: None,
    ) -> None:
        self._app = app
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
        while True:
            part = await self._next_event(conn, stream)
            if isinstance(part, h11.Data):
                body += part.data
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                return None
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers)
        return HttpRequest(
            event.method.decode("ascii"), event.target.decode("latin-1"), headers, bytes(body)
        )

    async def _send_bad_request(
        self, conn: h11.Connection, stream: anyio.abc.ByteStream, exc: h11.RemoteProtocolError
    ) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = b"400 Bad Request"
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        response = h11.Response(status_code=exc.error_status_hint, headers=headers)
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
                    while True:
                        # Bytes of a pipelined next request are kept for the next cycle.
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
