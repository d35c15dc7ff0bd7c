"""The one place where minidfs errors become gRPC statuses and back.

Servers wrap servicer methods with `@rpc_errors` (unary and server-streaming,
sync or aio): a MinidfsError aborts with its class's status code, the message as
details and the class name in the "minidfs-error" trailing metadata; anything
else is logged with its traceback and reported as INTERNAL, so a malformed
request never takes a server down. Clients call `raise_from_rpc(e)` (or use
`translate()`) to get the very same exception class back.
"""
from __future__ import annotations

import functools
import inspect
import logging

import grpc

from minidfs import errors

ERROR_KEY = "minidfs-error"
# A Throttled refusal's hint: milliseconds to wait before retrying (decimal text).
RETRY_AFTER_KEY = "minidfs-retry-after-ms"
log = logging.getLogger("minidfs.rpc")

_CODE_TO_ERROR = {
    grpc.StatusCode.NOT_FOUND: errors.FileNotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.FileExists,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.FAILED_PRECONDITION: errors.PreconditionFailed,
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.Unavailable,
    grpc.StatusCode.DATA_LOSS: errors.ChecksumError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.DiskFull,
    grpc.StatusCode.ABORTED: errors.PipelineError,
}


def status_code(exc: errors.MinidfsError) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, exc.grpc_code, grpc.StatusCode.INTERNAL)


def _code(e: grpc.RpcError) -> grpc.StatusCode:
    return e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN


def _trailer(e: grpc.RpcError, wanted: str) -> str | None:
    value = None
    try:
        for key, item in (e.trailing_metadata() or ()):
            if key == wanted:
                value = item
    except Exception:  # trailing metadata is not available on every failure kind
        pass
    return value


def _error_name(e: grpc.RpcError) -> str | None:
    """The minidfs error class a server named in the trailing metadata, if any."""
    return _trailer(e, ERROR_KEY)


def retry_after_s(e: grpc.RpcError) -> float:
    """The server's retry-after hint in seconds (0 when it gave none)."""
    try:
        return max(0.0, float(_trailer(e, RETRY_AFTER_KEY) or 0) / 1000.0)
    except ValueError:
        return 0.0


def throttle_trailers(exc: BaseException) -> tuple[tuple[str, str], ...]:
    """Trailing metadata for a Throttled refusal (empty for any other error)."""
    if isinstance(exc, errors.Throttled):
        return ((RETRY_AFTER_KEY, str(max(1, round(exc.retry_after_s * 1000)))),)
    return ()


# grpc core's own refusal when a server's maximum_concurrent_rpcs is reached: no
# minidfs error name, but the same meaning as Throttled (nothing was done, retry).
_CONCURRENCY_LIMIT_MARKER = "concurrent rpc limit exceeded"


def from_rpc_error(e: grpc.RpcError) -> errors.MinidfsError:
    """The minidfs exception an RpcError stands for."""
    code = _code(e)
    details = (e.details() if hasattr(e, "details") else None) or str(code)
    name = _error_name(e)
    cls = errors.ALL_ERRORS.get(name) if name else None
    if cls is None:
        cls = _CODE_TO_ERROR.get(code, errors.MinidfsError)
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            details = f"unreachable ({code.name.lower()}): {details}"
        if (code == grpc.StatusCode.RESOURCE_EXHAUSTED
                and _CONCURRENCY_LIMIT_MARKER in details.lower()):
            cls = errors.Throttled
            details = f"throttled: server busy ({details})"
    if cls is errors.Throttled:
        return errors.Throttled(details, retry_after_s(e))
    return cls(details)


# gRPC's words for a call that never left the client: no connection was made.
_NOT_SENT_MARKERS = ("failed to connect", "connection refused", "dns resolution failed",
                     "name resolution failure", "empty address list")


def may_have_applied(e: grpc.RpcError) -> bool:
    """Could the server have carried out the call that failed with `e`?

    The outcome table of docs/outcomes.md, in one place. A minidfs error the server
    named is a refusal before anything changed (validation, permission, standby,
    safe mode) - except EditNotDurable (applied, journal failed before a quorum
    acknowledged it) and an unexpected server error (it may have struck after the
    change). Without a name: a call that never connected did not happen; a deadline
    that passed, a connection lost after sending or a cancelled call may have."""
    name = _error_name(e)
    code = _code(e)
    if name is not None:
        return name == errors.EditNotDurable.__name__ or (
            name == errors.MinidfsError.__name__ and code == grpc.StatusCode.INTERNAL)
    if code == grpc.StatusCode.UNAVAILABLE:
        details = ((e.details() if hasattr(e, "details") else None) or "").lower()
        return not any(marker in details for marker in _NOT_SENT_MARKERS)
    return code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
                    grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
                    grpc.StatusCode.ABORTED, grpc.StatusCode.DATA_LOSS)


def raise_from_rpc(e: grpc.RpcError) -> None:
    raise from_rpc_error(e) from None


class translate:
    """Context manager for clients: `with translate(): stub.Call(...)`."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, grpc.RpcError):
            raise from_rpc_error(exc) from None
        return False


def _abort_args(exc: BaseException, method: str) -> tuple[grpc.StatusCode, str, str]:
    if isinstance(exc, errors.MinidfsError):
        return status_code(exc), str(exc), type(exc).__name__
    log.exception("internal error in %s", method)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}", "MinidfsError"


def rpc_errors(method):
    """Decorates a servicer method (sync/async, unary/streaming) with the error mapping."""
    name = method.__qualname__

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def agen_wrapper(self, request, context):
            try:
                async for item in method(self, request, context):
                    yield item
            except Exception as exc:  # noqa: BLE001 - every error becomes a status
                if isinstance(exc, grpc.RpcError) and not isinstance(exc, errors.MinidfsError):
                    exc = from_rpc_error(exc)
                code, details, cls = _abort_args(exc, name)
                context.set_trailing_metadata(((ERROR_KEY, cls),) + throttle_trailers(exc))
                await context.abort(code, details)
        return agen_wrapper

    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def async_wrapper(self, request, context):
            try:
                return await method(self, request, context)
            except Exception as exc:  # noqa: BLE001
                if _is_abort(exc):
                    raise
                if isinstance(exc, grpc.RpcError):
                    exc = from_rpc_error(exc)
                code, details, cls = _abort_args(exc, name)
                context.set_trailing_metadata(((ERROR_KEY, cls),) + throttle_trailers(exc))
                await context.abort(code, details)
        return async_wrapper

    @functools.wraps(method)
    def sync_wrapper(self, request, context):
        try:
            return method(self, request, context)
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, grpc.RpcError):
                exc = from_rpc_error(exc)
            code, details, cls = _abort_args(exc, name)
            context.set_trailing_metadata(((ERROR_KEY, cls),) + throttle_trailers(exc))
            context.abort(code, details)
    return sync_wrapper


def _is_abort(exc: BaseException) -> bool:
    # grpc.aio's context.abort() raises AbortError; let it through untouched.
    return type(exc).__name__ == "AbortError"
