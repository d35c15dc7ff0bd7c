"""Malformed requests cost nothing: INVALID_ARGUMENT and at most one log line per peer.

Without this, a request whose bytes do not parse as its protobuf makes grpc.aio
answer UNKNOWN and log a full traceback - per request - so a stream of garbage
floods the daemon's log. `MalformedGuard` is a server interceptor that every
daemon gets from `Observability.interceptors` (right after the RPC metrics, so
malformed calls are still counted by method and code): it swaps each handler's
request deserializer for one that never raises - bytes that do not parse become a
`Malformed` marker - and wraps the behavior so that a marker is answered with
INVALID_ARGUMENT before any servicer code sees it. Streaming requests are checked
message by message as the servicer reads them (a bad message mid-stream ends the
call with INVALID_ARGUMENT by raising `MalformedRequest`, a minidfs error, which
the servicers' own error mapping and this wrapper both turn into that status).
A method the servicer never implemented (its generated base raises
NotImplementedError) is answered UNIMPLEMENTED without a traceback, for the same
reason: a caller must not be able to flood the log.

Logging is bounded twice: one line per peer host per LOG_INTERVAL_S (with the
count of those suppressed since), and at most MAX_PEERS_TRACKED hosts remembered.
"""
from __future__ import annotations

import inspect
import logging
import time
from collections import OrderedDict
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc

from minidfs.errors import InvalidArgument
from minidfs.rpc.status import ERROR_KEY

log = logging.getLogger("minidfs.rpc.malformed")

LOG_INTERVAL_S = 60.0
MAX_PEERS_TRACKED = 1024
# A protobuf parse error's text can quote the input; keep the line short.
MAX_REASON_CHARS = 120


class MalformedRequest(InvalidArgument):
    """A request (or one message of a request stream) did not parse as its protobuf."""


class Malformed:
    """What the guarded deserializer returns for bytes that do not parse."""

    __slots__ = ("size_bytes", "reason")

    def __init__(self, size_bytes: int, reason: str) -> None:
        self.size_bytes = size_bytes
        self.reason = reason[:MAX_REASON_CHARS]

    def message(self, method: str) -> str:
        return (f"malformed request: {self.size_bytes} bytes do not parse as the "
                f"request of {method}: {self.reason}")


def guarded_deserializer(inner: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if inner is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            return inner(raw)
        except Exception as e:  # noqa: BLE001 - any parse failure is the caller's fault
            return Malformed(len(raw), f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
    return parse


def peer_host(peer: str) -> str:
    """"ipv4:127.0.0.1:5000" -> "127.0.0.1" (one flood over many connections is one peer)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]") or peer
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0] or peer
    return peer or "unknown"


class PeerLogLimiter:
    """At most one line per peer per interval; remembers a bounded number of peers.
    `clock` is injectable so the rule is unit-tested without waiting."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S, max_peers: int = MAX_PEERS_TRACKED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.max_peers = max_peers
        self.clock = clock
        self._peers: OrderedDict[str, list[float | int]] = OrderedDict()   # host -> [last, suppressed]

    def admit(self, host: str) -> int | None:
        """The number of lines suppressed since the last one when a line may be
        written now, None when this one must be suppressed."""
        now = self.clock()
        entry = self._peers.get(host)
        if entry is not None and now - entry[0] < self.interval_s:
            entry[1] += 1
            return None
        suppressed = int(entry[1]) if entry is not None else 0
        self._peers[host] = [now, 0]
        self._peers.move_to_end(host)
        while len(self._peers) > self.max_peers:
            self._peers.popitem(last=False)
        return suppressed


class MalformedGuard(grpc.aio.ServerInterceptor):
    def __init__(self, daemon: str) -> None:
        self.daemon = daemon
        self.limiter = PeerLogLimiter()
        self.refused = 0

    def _note(self, context: Any, method: str, bad: Malformed) -> None:
        self.refused += 1
        try:
            peer = context.peer() or "unknown"
        except Exception:  # noqa: BLE001 - a context without a peer is still refused
            peer = "unknown"
        suppressed = self.limiter.admit(peer_host(peer))
        if suppressed is not None:
            more = f" ({suppressed} more from this peer not logged)" if suppressed else ""
            log.warning("%s: %s from %s%s", self.daemon, bad.message(method), peer, more)

    async def _refuse(self, context: Any, method: str, bad: Malformed) -> None:
        self._note(context, method, bad)
        context.set_trailing_metadata(((ERROR_KEY, MalformedRequest.__name__),))
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, bad.message(method))

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method = (details.method or "").rsplit("/", 1)[-1] or "unknown"
        parse = guarded_deserializer(handler.request_deserializer)
        kinds = (("unary_unary", grpc.unary_unary_rpc_method_handler, self._unary_in),
                 ("unary_stream", grpc.unary_stream_rpc_method_handler, self._unary_in_stream_out),
                 ("stream_unary", grpc.stream_unary_rpc_method_handler, self._stream_in),
                 ("stream_stream", grpc.stream_stream_rpc_method_handler,
                  self._stream_in_stream_out))
        for attribute, make, wrap in kinds:
            behavior = getattr(handler, attribute)
            if behavior is not None:
                return make(wrap(method, behavior), request_deserializer=parse,
                            response_serializer=handler.response_serializer)
        return handler

    def _unary_in(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def guarded(request: Any, context: Any) -> Any:
            if isinstance(request, Malformed):
                await self._refuse(context, method, request)
            try:
                result = behavior(request, context)
                return await result if inspect.isawaitable(result) else result
            except NotImplementedError:
                await _unimplemented(context, method)
        return guarded

    def _unary_in_stream_out(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def guarded(request: Any, context: Any) -> AsyncIterator[Any]:
            if isinstance(request, Malformed):
                await self._refuse(context, method, request)
            try:
                async for item in _items(behavior(request, context)):
                    yield item
            except NotImplementedError:
                await _unimplemented(context, method)
        return guarded

    def _checked(self, method: str, requests: Any, context: Any) -> AsyncIterator[Any]:
        async def checked() -> AsyncIterator[Any]:
            async for request in _items(requests):
                if isinstance(request, Malformed):
                    self._note(context, method, request)
                    raise MalformedRequest(request.message(method))
                yield request
        return checked()

    def _stream_in(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def guarded(requests: Any, context: Any) -> Any:
            try:
                result = behavior(self._checked(method, requests, context), context)
                return await result if inspect.isawaitable(result) else result
            except MalformedRequest as e:
                await _abort_malformed(context, e)
        return guarded

    def _stream_in_stream_out(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def guarded(requests: Any, context: Any) -> AsyncIterator[Any]:
            try:
                async for item in _items(behavior(self._checked(method, requests, context),
                                                  context)):
                    yield item
            except MalformedRequest as e:
                await _abort_malformed(context, e)
        return guarded


async def _unimplemented(context: Any, method: str) -> None:
    # A generated servicer base answers a method no one overrode (the health
    # service's List in older grpcio-health) by raising NotImplementedError, which
    # grpc.aio logs with a traceback per call: say UNIMPLEMENTED quietly instead.
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method}: not implemented here")


async def _abort_malformed(context: Any, e: MalformedRequest) -> None:
    context.set_trailing_metadata(((ERROR_KEY, MalformedRequest.__name__),))
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))


async def _items(result: Any) -> AsyncIterator[Any]:
    """Iterates what a behavior returned: an async iterator, a coroutine of one, or a
    plain iterable (sync generators are allowed by grpc.aio)."""
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        for item in result:
            yield item
