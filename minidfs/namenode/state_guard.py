"""Client state ids on the NameNode: stamp every reply, hold observer reads until caught up.

server.py installs StateGuard as a gRPC server interceptor after the active guard
(active_guard.py). For each unary ClientNamenode call (docs/observers.md,
HDFS-12943's design):

- the client's state id (call metadata minidfs/state_id.STATE_KEY, "cluster:txid")
  is parsed; one from another cluster, or (on the active) with a txid beyond the
  active's last one, is refused as INVALID_ARGUMENT / StateIdError: the client
  mixed up clusters, and silently serving it would break its consistency;
- on an observer, a read (OBSERVER_READS) is answered only once this NameNode has
  applied the client's txid: it wakes the tailer and waits up to
  observer_read_wait_s, then refuses with ObserverRetryOnActive so the client asks
  the active. A read without a state id is refused the same way: only clients that
  keep a state id may read from an observer;
- every answer carries this NameNode's state id in the trailing metadata: the
  active's last committed txid (its journal's synced txid: every edit up to it is
  durable and will be applied by any later active or observer), an observer's last
  applied txid (it applies only committed edits).
"""
from __future__ import annotations

from typing import Awaitable, Callable

import grpc

from minidfs import errors, state_id
from minidfs.namenode.namesystem import Namesystem
from minidfs.rpc.status import ERROR_KEY
from minidfs.state_id import OBSERVER_READS

SERVICE_PREFIX = "/minidfs.ClientNamenode/"
# Answered by any NameNode without looking at state ids (the active guard's
# exemptions: HA status, bad-block reports that go to every NameNode, event feeds).
EXEMPT_METHODS = frozenset({"GetHaStatus", "TransitionToStandby", "ReportBadBlocks",
                            "GetEvents", "FollowEvents"})


def _metadata_value(details: grpc.HandlerCallDetails, key: str) -> str | None:
    for k, v in details.invocation_metadata or ():
        if k == key:
            return v if isinstance(v, str) else None
    return None


class StateGuard(grpc.aio.ServerInterceptor):
    def __init__(self, fs: Namesystem, cluster_id: str, wait_applied=None,
                 wait_s: float = 0.0) -> None:
        """wait_applied(txid, timeout_s) -> bool: the HA controller's, on an observer."""
        self.fs = fs
        self.ha = fs.ha
        self.cluster_id = cluster_id
        self.wait_applied = wait_applied
        self.wait_s = wait_s

    def reply_txid(self) -> int:
        if self.ha.observer:
            return self.fs.txid
        return self.fs.journal.synced_txid

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method or ""
        if (handler is None or not method.startswith(SERVICE_PREFIX)
                or handler.unary_unary is None):
            return handler
        name = method[len(SERVICE_PREFIX):]
        if name in EXEMPT_METHODS:
            return handler
        raw = _metadata_value(details, state_id.STATE_KEY)
        behavior = handler.unary_unary

        async def guarded(request, context):
            refusal = await self._check(name, raw)
            if refusal is not None:
                context.set_trailing_metadata(((ERROR_KEY, type(refusal).__name__),))
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT
                                    if isinstance(refusal, errors.InvalidArgument)
                                    else grpc.StatusCode.UNAVAILABLE, str(refusal))
            response = await behavior(request, context)
            stamp = state_id.StateId(self.cluster_id, self.reply_txid()).encode()
            context.set_trailing_metadata(((state_id.STATE_KEY, stamp),))
            return response

        return grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    async def _check(self, method: str, raw: str | None) -> errors.MinidfsError | None:
        """Why this call may not be answered here (None: answer it)."""
        client = None
        try:
            if raw is not None:
                client = state_id.parse(raw)
                state_id.check_cluster(client, self.cluster_id)
            if not self.ha.observer:
                if client is not None:
                    state_id.check_not_future(client, self.fs.txid, f"namenode {self.ha.name}")
                return None
        except errors.StateIdError as e:
            return e
        if method not in OBSERVER_READS:
            return errors.ObserverRetryOnActive(
                f"{self.ha.name}: observer namenode does not serve {method}; ask the active")
        if client is None:
            return errors.ObserverRetryOnActive(
                f"{self.ha.name}: observer namenode serves reads only to clients that send "
                "a state id; ask the active")
        if self.fs.txid >= client.txid:
            return None
        if self.wait_applied is not None and await self.wait_applied(client.txid, self.wait_s):
            return None
        return errors.ObserverRetryOnActive(
            f"{self.ha.name}: observer has applied txid {self.fs.txid}, the client has seen "
            f"{client.txid} (waited {self.wait_s:g} s); ask the active")
