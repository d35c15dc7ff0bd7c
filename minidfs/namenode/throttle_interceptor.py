"""The gRPC face of the NameNode's per-user throttle (namenode/throttle.py).

server.py installs `ThrottleInterceptor` right after the malformed-request guard,
so a flood is refused before any other work (string checks, the active guard, the
servicer). Every ClientNamenode call is charged to the user in its call metadata
(minidfs/identity.py; a call without one is charged to ANONYMOUS - the servicer
refuses it anyway); a call over the user's limit is answered RESOURCE_EXHAUSTED with
"minidfs-error: Throttled" and the retry-after hint in trailing metadata
(rpc/status.py RETRY_AFTER_KEY). Exempt: the HA calls an admin needs while the
cluster is busy and ReportBadBlocks (DataNodes send it). A unary call holds its
concurrency slot until it returns; a server stream (FollowEvents) is charged its
token but holds no slot, since it may follow for hours. The DataNodes' service
(DatanodeNamenode) is not throttled: it is the cluster's own traffic, bounded by
the heartbeat interval.
"""
from __future__ import annotations

import time
from typing import Awaitable, Callable

import grpc

from minidfs import identity
from minidfs.errors import Throttled, Unauthenticated
from minidfs.namenode.throttle import UserThrottle
from minidfs.rpc.status import ERROR_KEY, throttle_trailers

SERVICE_PREFIX = "/minidfs.ClientNamenode/"
EXEMPT_METHODS = frozenset({"GetHaStatus", "TransitionToStandby", "ReportBadBlocks"})
ANONYMOUS = "(anonymous)"


def _user(context) -> str:
    # The same user the servicer will act as: --user / $MINIDFS_USER in simple mode,
    # the certificate's (or the one a proxy daemon names) in secure mode, so a user
    # cannot dodge their limit by naming someone else.
    try:
        return identity.caller_user(context) or ANONYMOUS
    except Unauthenticated:
        return ANONYMOUS


class ThrottleInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, throttle: UserThrottle) -> None:
        self.throttle = throttle

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method or ""
        if (handler is None or not self.throttle.enabled or not method.startswith(SERVICE_PREFIX)
                or method[len(SERVICE_PREFIX):] in EXEMPT_METHODS):
            return handler
        throttle = self.throttle
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def limited(request, context):
                user = _user(context)
                try:
                    throttle.admit(user, time.monotonic())
                except Throttled as e:
                    await _refuse(context, e)
                try:
                    return await inner(request, context)
                finally:
                    throttle.release(user)

            return grpc.unary_unary_rpc_method_handler(
                limited, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def limited_stream(request, context):
                user = _user(context)
                try:
                    throttle.admit(user, time.monotonic())
                except Throttled as e:
                    await _refuse(context, e)
                throttle.release(user)
                async for item in inner_stream(request, context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                limited_stream, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler


async def _refuse(context, e: Throttled) -> None:
    context.set_trailing_metadata(((ERROR_KEY, Throttled.__name__),) + throttle_trailers(e))
    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
