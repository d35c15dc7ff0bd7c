"""The one "is this NameNode active?" check in front of the client service (HA).

server.py installs ActiveGuard as a gRPC server interceptor. Every ClientNamenode
call - reads included - is refused with UNAVAILABLE / StandbyError while this
NameNode is not serving (a standby, or an active whose journal lease may have
lapsed: ha_state.HaState.serving), so clients go to the other NameNode and never
read a deposed active's stale namespace. Exempt: the HA calls themselves (a standby
must answer `admin ha status`) and ReportBadBlocks, which DataNodes send to both
NameNodes so a standby's block map stays as current as the active's.

An observer (docs/observers.md) is never serving: its reads pass on to the state
guard (state_guard.py), which answers them once it has caught up with the caller's
state id; everything else is refused with ObserverRetryOnActive.
"""
from __future__ import annotations

from typing import Awaitable, Callable

import grpc

from minidfs.errors import ObserverRetryOnActive, StandbyError
from minidfs.namenode.ha_state import HaState
from minidfs.namenode.namesystem import mono_ms
from minidfs.state_id import OBSERVER_READS
from minidfs.rpc.status import ERROR_KEY

SERVICE_PREFIX = "/minidfs.ClientNamenode/"
EXEMPT_METHODS = frozenset({"GetHaStatus", "TransitionToStandby", "ReportBadBlocks",
                            "GetEvents", "FollowEvents"})


class ActiveGuard(grpc.aio.ServerInterceptor):
    def __init__(self, ha: HaState) -> None:
        self.ha = ha

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method or ""
        if (handler is None or not method.startswith(SERVICE_PREFIX)
                or method[len(SERVICE_PREFIX):] in EXEMPT_METHODS
                or handler.unary_unary is None):
            return handler
        now_ms = mono_ms()
        if self.ha.serving(now_ms):
            return handler
        if self.ha.observer and method[len(SERVICE_PREFIX):] in OBSERVER_READS:
            return handler
        message = f"{self.ha.name}: {self.ha.refusal(now_ms)}; try the other namenode"
        refusal = ObserverRetryOnActive if self.ha.observer else StandbyError

        async def refuse(request, context):
            context.set_trailing_metadata(((ERROR_KEY, refusal.__name__),))
            await context.abort(grpc.StatusCode.UNAVAILABLE, message)

        return grpc.unary_unary_rpc_method_handler(
            refuse, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
