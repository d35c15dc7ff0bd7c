"""The gRPC server interceptor of secure mode: no call reaches a servicer unless its
certificate's subject may make it (policy.py).

Installed by minidfs/rpc/channels.aio_server on every daemon's server once the
daemon's credentials are installed. gRPC's aio interceptors see only the method
name and metadata, not the peer, so the check wraps the method's handler and runs
first inside the call, where the verified peer certificate is in
`context.auth_context()`. A call without a subject is UNAUTHENTICATED, a subject of
the wrong role PERMISSION_DENIED; either way the servicer never runs, so nothing
changes.
"""
from __future__ import annotations

import logging
from typing import Any

import grpc

from minidfs.security import peer, policy

log = logging.getLogger("minidfs.security")


async def _check(method: str, context: Any) -> None:
    subject = peer.grpc_subject(context)
    if subject is None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                            "secure mode: the call carries no minidfs client certificate")
    if not policy.allowed(method, subject):
        log.warning("refused %s from %s", method, subject)
        await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                            f"{subject} may not call {method.rsplit('/', 1)[-1]}")


def _guard(method: str, handler: Any) -> Any:
    if handler.unary_unary is not None:
        inner_uu = handler.unary_unary

        async def unary_unary(request, context):
            await _check(method, context)
            return await _maybe_await(inner_uu(request, context))
        return handler._replace(unary_unary=unary_unary)
    if handler.stream_unary is not None:
        inner_su = handler.stream_unary

        async def stream_unary(requests, context):
            await _check(method, context)
            return await _maybe_await(inner_su(requests, context))
        return handler._replace(stream_unary=stream_unary)
    if handler.unary_stream is not None:
        inner_us = handler.unary_stream

        async def unary_stream(request, context):
            await _check(method, context)
            async for item in _stream(inner_us(request, context)):
                yield item
        return handler._replace(unary_stream=unary_stream)
    inner_ss = handler.stream_stream

    async def stream_stream(requests, context):
        await _check(method, context)
        async for item in _stream(inner_ss(requests, context)):
            yield item
    return handler._replace(stream_stream=stream_stream)


async def _maybe_await(result: Any) -> Any:
    if hasattr(result, "__await__"):
        return await result
    return result


async def _stream(result: Any):
    """Items of a streaming behaviour: an async or plain generator, or a coroutine
    that writes with context.write() and returns None."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    elif hasattr(result, "__await__"):
        await result
    elif result is not None:
        for item in result:
            yield item


class SecurityInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return _guard(handler_call_details.method, handler)
