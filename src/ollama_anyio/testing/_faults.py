"""Fault injection: what can go wrong, which requests it hits, and how a response is altered.

A :class:`Fault` names a kind of failure and the requests it matches (a path, optionally only
the nth matching request, for a number of requests). :class:`Faults` holds the active faults
of one emulator. :func:`plan` turns a response and the faults that hit it into the exact
sequence of writes the HTTP layer performs, so every failure mode is pure data.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

import anyio
import anyio.from_thread
import anyio.lowlevel

from ._wire import Response, StreamResponse, dumps
from ._writes import AsyncActions, async_actions

__all__ = ["Action", "Fault", "FaultKind", "Faults", "Gate", "Plan", "plan"]

_ERROR_MESSAGE = "an error was encountered while running the model"
BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class FaultKind(str, Enum):
    """The failures the emulator can inject."""

    DELAY = "delay"  #: wait ``seconds`` before sending the response headers
    SLOW_LOAD = "slow_load"  #: model load takes ``seconds`` longer (reported in load_duration)
    ERROR = "error"  #: an ``{"error": message}`` line after ``after`` chunks
    DROP = "drop"  #: after ``after`` lines, write half of the next one and cut the connection
    TRUNCATE = "truncate"  #: end the stream cleanly after ``after`` chunks, without the done line
    MALFORMED = "malformed"  #: after ``after`` lines, one line that is not valid JSON
    BUSY = "busy"  #: 503 ``server busy, please try again.  maximum pending requests exceeded``
    BAD_GATEWAY = "bad_gateway"  #: 502 with an HTML body, as a reverse proxy answers
    HANG = "hang"  #: after ``after`` chunks, send nothing until the client disconnects
    PAUSE = "pause"  #: after ``after`` chunks, send nothing until ``gate`` opens, then go on


class Gate:
    """A signal that holds paused responses (:meth:`Fault.pause`) until it is opened.

    Open it from any thread, the emulator's event loop thread included; a response that
    reaches its pause after the gate opened does not stop. Opening twice is harmless.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = False
        self._waiters: list[tuple[anyio.lowlevel.EventLoopToken, anyio.Event]] = []

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` was called."""
        with self._lock:
            return self._opened

    def open(self) -> None:
        """Let every paused response go on, and the ones that reach their pause later."""
        with self._lock:
            self._opened = True
            waiters, self._waiters = self._waiters, []
        try:
            here: object = anyio.lowlevel.current_token().native_token
        except anyio.NoEventLoopError:
            here = None
        for token, event in waiters:
            if token.native_token is here:
                event.set()  # the waiter's own loop: a call into it from here would deadlock
            else:
                try:
                    anyio.from_thread.run_sync(event.set, token=token)
                except anyio.RunFinishedError:
                    pass  # that emulator stopped; its paused response is gone with it

    async def wait(self) -> None:
        """Return once the gate is open (at once if it already is)."""
        with self._lock:
            if self._opened:
                return
            waiter = (anyio.lowlevel.current_token(), anyio.Event())
            self._waiters.append(waiter)
        try:
            await waiter[1].wait()
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)


@dataclass(frozen=True)
class Fault:
    """One failure to inject.

    Build faults with the class methods (``Fault.drop(after=2, path="/api/chat")``) or
    directly. A fault hits requests whose path equals ``path`` (any path when ``None``).

    Attributes:
        kind: what goes wrong.
        path: the request path it applies to, e.g. ``/api/chat``; ``None`` for every path.
        nth: hit only the nth matching request (1-based) counted from when the fault was
            added; ``None`` hits the next matching requests.
        times: how many requests it hits before it is used up; ``None`` for every one.
        after: complete chunks (lines) written before the fault strikes.
        seconds: the delay of ``DELAY`` and ``SLOW_LOAD``.
        message: the text of the ``ERROR`` line.
        gate: what a ``PAUSE`` waits for.
    """

    kind: FaultKind
    path: str | None = None
    nth: int | None = None
    times: int | None = 1
    after: int = 0
    seconds: float = 0.0
    message: str = _ERROR_MESSAGE
    gate: Gate | None = field(default=None, compare=False)

    @classmethod
    def delay(
        cls,
        seconds: float,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Wait ``seconds`` before the response headers."""
        return cls(FaultKind.DELAY, path, nth, times, seconds=seconds)

    @classmethod
    def slow_load(
        cls,
        seconds: float,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Make the model load take ``seconds`` longer (generate, chat, embed)."""
        return cls(FaultKind.SLOW_LOAD, path, nth, times, seconds=seconds)

    @classmethod
    def error(
        cls,
        after: int = 0,
        message: str = _ERROR_MESSAGE,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """An in-stream ``{"error": ...}`` line after ``after`` chunks (500 when not streamed)."""
        return cls(FaultKind.ERROR, path, nth, times, after=after, message=message)

    @classmethod
    def drop(
        cls,
        after: int = 0,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Cut the connection in the middle of the line after ``after`` complete lines."""
        return cls(FaultKind.DROP, path, nth, times, after=after)

    @classmethod
    def truncate(
        cls,
        after: int = 0,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """End the stream after ``after`` chunks (never including the done chunk)."""
        return cls(FaultKind.TRUNCATE, path, nth, times, after=after)

    @classmethod
    def malformed(
        cls,
        after: int = 0,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Insert a line that is not valid JSON after ``after`` lines; the stream goes on."""
        return cls(FaultKind.MALFORMED, path, nth, times, after=after)

    @classmethod
    def busy(
        cls, times: int | None = 1, *, path: str | None = None, nth: int | None = None
    ) -> Fault:
        """Answer the next ``times`` matching requests with 503 ``server busy``."""
        return cls(FaultKind.BUSY, path, nth, times)

    @classmethod
    def bad_gateway(
        cls, times: int | None = 1, *, path: str | None = None, nth: int | None = None
    ) -> Fault:
        """Answer with 502 and an HTML body, as a reverse proxy in front of Ollama would."""
        return cls(FaultKind.BAD_GATEWAY, path, nth, times)

    @classmethod
    def hang(
        cls,
        after: int = 0,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Stop sending after ``after`` chunks and wait until the client disconnects."""
        return cls(FaultKind.HANG, path, nth, times, after=after)

    @classmethod
    def pause(
        cls,
        gate: Gate,
        after: int = 1,
        *,
        path: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Stop after ``after`` chunks until ``gate`` is opened, then send the rest.

        A test holds the first chunks of a stream until it has seen them arrive, so it can
        tell a stream passed through unbuffered from one delivered whole, without sleeping.
        """
        return cls(FaultKind.PAUSE, path, nth, times, after=after, gate=gate)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse the header form ``kind[;after=N][;seconds=S][;message=TEXT]``.

        Used for the ``X-Emulator-Fault`` request header, which injects a fault into that
        one request (handy against an emulator running in another process).

        Raises:
            ValueError: unknown kind or option, or ``pause`` (its gate is an object).
        """
        kind, *options = (part.strip() for part in spec.split(";"))
        fault = cls(FaultKind(kind))
        if fault.kind is FaultKind.PAUSE:
            raise ValueError("a pause waits for a Gate object, which a header cannot name")
        for option in options:
            key, _, value = option.partition("=")
            if key == "after":
                fault = replace(fault, after=int(value))
            elif key == "seconds":
                fault = replace(fault, seconds=float(value))
            elif key == "message":
                fault = replace(fault, message=value)
            else:
                raise ValueError(f"unknown fault option {key!r}")
        return fault


@dataclass
class _Active:
    fault: Fault
    seen: int = 0
    used: int = 0


class Faults:
    """The active faults of one emulator; safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[_Active] = []

    def add(self, *faults: Fault) -> None:
        """Activate faults; each one counts matching requests from now on."""
        with self._lock:
            self._active.extend(_Active(f) for f in faults)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._active.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults not used up yet."""
        with self._lock:
            return [a.fault for a in self._active]

    def take(self, path: str) -> list[Fault]:
        """The faults that hit a request for ``path``, consuming one use of each."""
        hits: list[Fault] = []
        with self._lock:
            for active in list(self._active):
                fault = active.fault
                if fault.path is not None and fault.path != path:
                    continue
                active.seen += 1
                if fault.nth is not None and active.seen != fault.nth:
                    continue
                hits.append(fault)
                active.used += 1
                spent = fault.times is not None and active.used >= fault.times
                if spent or (fault.nth is not None and active.seen >= fault.nth):
                    self._active.remove(active)
        return hits


Action = tuple[Literal["send", "drop", "hang"], bytes]


@dataclass
class Plan:
    """Exactly what the HTTP layer writes for one response.

    Attributes:
        status: the status code.
        headers: header pairs (``Content-Type``, ``Allow`` ...), without framing headers.
        length: the Content-Length to announce, or ``None`` for a chunked body.
        actions: ``send`` bytes, ``drop`` (send bytes then abort the connection) or
            ``hang`` (await ``hold``, then go on with the next action).
        delay: seconds to wait before the headers.
        hold: what ``hang`` awaits: forever (until the client goes away), or a pause's gate.
    """

    status: int
    headers: list[tuple[str, str]]
    length: int | None
    actions: Iterator[Action] | AsyncActions  # or a function opening an asynchronous body
    delay: float = 0.0
    hold: Callable[[], Awaitable[None]] = anyio.sleep_forever


def _headers(content_type: str | None, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return ([("Content-Type", content_type)] if content_type else []) + extra


def _stream_actions(lines: Iterator[bytes], fault: Fault | None) -> Iterator[Action]:
    if fault is None:
        for line in lines:
            yield "send", line
        return
    sent = 0
    pending = next(lines, None)
    while pending is not None:
        following = next(lines, None)
        if sent == fault.after:
            if fault.kind is FaultKind.ERROR:
                yield "send", dumps({"error": fault.message}) + b"\n"
                return
            if fault.kind is FaultKind.DROP:
                yield "drop", pending[: max(len(pending) // 2, 1)]
                return
            if fault.kind is FaultKind.HANG:
                yield "hang", b""
                return
            if fault.kind is FaultKind.PAUSE:
                yield "hang", b""  # the plan's ``hold`` waits for the gate, then we go on
            if fault.kind is FaultKind.MALFORMED:
                yield "send", pending[: len(pending) // 2].rstrip(b"\n") + b"\n"
        if fault.kind is FaultKind.TRUNCATE and (sent >= fault.after or following is None):
            # Never the last (done/success) line, whatever ``after`` says.
            return
        yield "send", pending
        sent += 1
        pending = following
    if fault.kind in (FaultKind.ERROR, FaultKind.HANG, FaultKind.DROP) and sent < fault.after:
        # A stream shorter than ``after``: strike at its end instead of silently not at all.
        if fault.kind is FaultKind.ERROR:
            yield "send", dumps({"error": fault.message}) + b"\n"
        elif fault.kind is FaultKind.HANG:
            yield "hang", b""


def plan(response: Response | StreamResponse, faults: list[Fault], method: str) -> Plan:
    """Combine a handler's response with the faults that hit the request.

    Args:
        response: what the handler answered.
        faults: the faults taken for this request.
        method: the request method (a HEAD response never has a body).
    """
    delay = sum(f.seconds for f in faults if f.kind is FaultKind.DELAY)
    stream_fault = next(
        (f for f in faults if f.kind not in (FaultKind.DELAY, FaultKind.SLOW_LOAD)), None
    )
    if stream_fault is not None and stream_fault.kind is FaultKind.BUSY:
        response = Response(503, dumps({"error": BUSY_MESSAGE}), "application/json; charset=utf-8")
        stream_fault = None
    elif stream_fault is not None and stream_fault.kind is FaultKind.BAD_GATEWAY:
        response = Response(502, _BAD_GATEWAY, "text/html")
        stream_fault = None
    hold: Callable[[], Awaitable[None]] = anyio.sleep_forever
    if stream_fault is not None and stream_fault.gate is not None:
        hold = stream_fault.gate.wait
    if isinstance(response, StreamResponse):
        headers = _headers(response.content_type, [])
        if callable(response.lines):  # an asynchronous body, altered by the same rules
            writes = async_actions(response.lines, stream_fault, _stream_actions)
            return Plan(200, headers, None, writes, delay, hold)
        lines = _stream_actions(response.lines, stream_fault)
        return Plan(200, headers, None, lines, delay, hold)
    if stream_fault is not None and stream_fault.kind is FaultKind.ERROR:
        response = Response(500, dumps({"error": stream_fault.message}), response.content_type)
        stream_fault = None
    body = b"" if method == "HEAD" else response.body
    length = len(response.body)
    headers = _headers(response.content_type, response.headers)
    actions: list[Action] = [("send", body)] if body else []
    kind = stream_fault.kind if stream_fault is not None else None
    if kind is FaultKind.HANG:
        actions = [("hang", b"")]
    elif kind is FaultKind.PAUSE:
        actions = [("hang", b""), *actions]
    elif kind in (FaultKind.DROP, FaultKind.TRUNCATE):
        # The announced length stays that of the whole body: the client sees it cut short.
        actions = [("drop", body[: len(body) // 2])]
    elif kind is FaultKind.MALFORMED:
        body = body[: len(body) // 2]
        actions = [("send", body)]
        length = len(body)
    return Plan(response.status, headers, length, iter(actions), delay, hold)
