"""The NameNode's bound on every string in every request (max_string_field_bytes).

Registered by server.py as a gRPC interceptor on the NameNode's server, so no
client call can hand the NameNode a string longer than the bound, whatever the
field: fields with a tighter limit of their own (paths, client names) are checked
again by their owners, this is the floor under all of them. Only the client
service: the DataNodes' calls carry big block reports of numbers, from daemons of
the cluster itself, and walking them would cost the NameNode for nothing. The gRPC message-size limit (rpc/channels.py) bounds the whole request; this
bounds each piece that may be kept in memory, logged or journaled.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterator

import grpc
from google.protobuf.descriptor import FieldDescriptor

from minidfs.errors import InvalidArgument
from minidfs.namenode.active_guard import SERVICE_PREFIX
from minidfs.rpc.status import ERROR_KEY


def strings(message: Any) -> Iterator[tuple[str, str]]:
    """(field name, value) of every string set anywhere in message, map keys too."""
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(key, str):
                    yield field.name, key
                if isinstance(item, str):
                    yield field.name, item
                elif hasattr(item, "ListFields"):
                    yield from strings(item)
        elif field.type == FieldDescriptor.TYPE_STRING:
            items = value if field.is_repeated else (value,)
            for item in items:
                yield field.name, item
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if field.is_repeated else (value,)
            for item in items:
                yield from strings(item)


def check_strings(message: Any, limit_bytes: int) -> None:
    for name, value in strings(message):
        # UTF-8 is at most 4 bytes a character: encode only what could be too long.
        if len(value) * 4 > limit_bytes and len(value.encode("utf-8")) > limit_bytes:
            raise InvalidArgument(
                f"{name}: a string of {len(value.encode('utf-8'))} bytes, more than the "
                f"maximum {limit_bytes} (max_string_field_bytes)")


class StringBound(grpc.aio.ServerInterceptor):
    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if (handler is None or handler.unary_unary is None
                or not (details.method or "").startswith(SERVICE_PREFIX)):
            return handler
        inner = handler.unary_unary
        limit_bytes = self.limit_bytes

        async def bounded(request, context):
            try:
                check_strings(request, limit_bytes)
            except InvalidArgument as e:
                context.set_trailing_metadata(((ERROR_KEY, InvalidArgument.__name__),))
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            bounded, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
