"""A gRPC server interceptor that counts and times every RPC by method and code.

Each daemon's serve code puts `RpcMetrics(registry, "namenode")` first in its
server's interceptors, so calls refused by later interceptors (the NameNode's
active guard) are counted too. Metrics: `minidfs_<daemon>_rpc_requests_total
{method, code}` and `minidfs_<daemon>_rpc_duration_seconds{method}` (a histogram;
a streaming call is timed until its last message). The method label is the short
name ("GetBlockLocations"); the service is implied by the daemon.
"""
from __future__ import annotations

import inspect
import time
from typing import Any, Awaitable, Callable

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

# From a fast metadata call (~0.1 ms) to a long block copy.
DURATION_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                      1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _code_name(context: Any, error: BaseException | None) -> str:
    code = None
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - an older context without code(): judge by error
        code = None
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        for status in grpc.StatusCode:
            if status.value[0] == code:
                return status.name
    if error is None:
        return "OK"
    if isinstance(error, (TimeoutError,)):
        return "DEADLINE_EXCEEDED"
    return "CANCELLED" if type(error).__name__ == "CancelledError" else "UNKNOWN"


class RpcMetrics(grpc.aio.ServerInterceptor):
    def __init__(self, registry: CollectorRegistry, daemon: str) -> None:
        self.requests = Counter(f"minidfs_{daemon}_rpc_requests", "RPCs served, by method and "
                                "status code", ("method", "code"), registry=registry)
        self.duration = Histogram(f"minidfs_{daemon}_rpc_duration_seconds", "Time to serve an "
                                  "RPC (streams: until the last message)", ("method",),
                                  registry=registry, buckets=DURATION_BUCKETS_S)
        self._children: dict[tuple[str, str], Any] = {}

    def _record(self, method: str, context: Any, error: BaseException | None,
                start: float) -> None:
        code = _code_name(context, error)
        key = (method, code)
        counter = self._children.get(key)
        if counter is None:
            counter = self._children[key] = self.requests.labels(method, code)
        counter.inc()
        self.duration.labels(method).observe(time.perf_counter() - start)

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = (details.method or "").rsplit("/", 1)[-1] or "unknown"
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(method, handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(
            self._stream(method, handler.stream_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    def _unary(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(request: Any, context: Any) -> Any:
            start = time.perf_counter()
            error = None
            try:
                result = behavior(request, context)
                if inspect.isawaitable(result):
                    result = await result
                return result
            except BaseException as e:
                error = e
                raise
            finally:
                self._record(method, context, error, start)
        return timed

    def _stream(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(request: Any, context: Any) -> Any:
            start = time.perf_counter()
            error = None
            try:
                result = behavior(request, context)
                if inspect.isawaitable(result):
                    result = await result
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        yield item
                elif result is not None:
                    for item in result:
                        yield item
            except BaseException as e:
                error = e
                raise
            finally:
                self._record(method, context, error, start)
        return timed
