"""The NameNode's audit log: HDFS's hdfs-audit.log, one line per namespace operation
and per denial.

    2026-12-02 01:10:00,123 INFO FSNamesystem.audit: allowed=true<TAB>ugi=alice (auth:SIMPLE)<TAB>ip=/127.0.0.1<TAB>cmd=create<TAB>src=/a<TAB>dst=null<TAB>perm=alice:supergroup:rw-r--r--<TAB>proto=rpc

Fields are separated by tabs, as HDFS writes them (the ugi field holds a space), so
tools that read HDFS audit logs read ours. `perm` is the file's owner:group:mode
after a change that sets one (create, mkdirs, rename's destination, setPermission,
setOwner), else null; a denial has allowed=false and perm=null.

`audited(ops, log)` wraps a ClientOperations (server.py for gRPC, webhdfs_namenode.py
for WebHDFS - the same core calls, so both protocols are audited by the same code):
each method of AUDITED_COMMANDS - and any other public method that takes a `caller`
(command_for) - writes one line when it returns, or when it raises
PermissionDeniedError (then re-raises); other failures are not audited, as in HDFS.
Calls the NameNode makes for itself (caller None) are not audited. Who called from
where travels in ORIGIN, a context variable the protocol layer sets per call
(`OriginInterceptor` for gRPC, the WebHDFS handler for HTTP): each call runs in its
own asyncio task, so the value is the call's own.

The file is `logs/<name>-audit.log` beside cluster.toml (where the launcher keeps
`logs/<name>.log`), rotated at audit_log_max_bytes with audit_log_backups kept.
`format_line` is pure and unit-tested.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import logging.handlers
import pathlib
from typing import Any, Awaitable, Callable, NamedTuple

import grpc

from minidfs import errors, fsmode

FIELD_SEPARATOR = "\t"
LOGGER_PREFIX = "minidfs.audit"
ORIGIN: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "minidfs_audit_origin", default=("", "rpc"))
SERVICE_PREFIX = "/minidfs.ClientNamenode/"


class Command(NamedTuple):
    cmd: str               # HDFS's word
    src: str | None        # the argument holding the source path
    dst: str | None = None
    perm_of: str | None = None   # the argument whose path's status is logged as perm


# ClientOperations method -> what HDFS logs for it.
AUDITED_COMMANDS: dict[str, Command] = {
    "mkdirs": Command("mkdirs", "path", perm_of="path"),
    "create": Command("create", "path", perm_of="path"),
    "delete": Command("delete", "path"),
    "rename": Command("rename", "src", dst="dst", perm_of="dst"),
    "set_replication": Command("setReplication", "path"),
    "set_permission": Command("setPermission", "path", perm_of="path"),
    "set_owner": Command("setOwner", "path", perm_of="path"),
    "set_times": Command("setTimes", "path"),
    "get_file_info": Command("getfileinfo", "path"),
    "list_status": Command("listStatus", "path"),
    "content_summary": Command("contentSummary", "path"),
    "get_block_locations": Command("open", "path"),
    "fsck": Command("fsck", "path"),
}


def command_for(name: str, method: Callable[..., Any]) -> Command | None:
    """The audit entry of a ClientOperations method: its row in AUDITED_COMMANDS, or -
    for any other public method a user calls (it takes a `caller`), such as the ones
    later issues add (append, quotas, trash) - its name in HDFS's camelCase with the
    `path` / `src` argument as src. None: not audited (block-level calls)."""
    if name in AUDITED_COMMANDS:
        return AUDITED_COMMANDS[name]
    if name.startswith("_"):
        return None
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return None
    if "caller" not in params:
        return None
    first, *rest = name.split("_")
    src = "path" if "path" in params else ("src" if "src" in params else None)
    dst = "dst" if "dst" in params else None
    return Command(first + "".join(word.title() for word in rest), src, dst=dst)


def ip_of_peer(peer: str) -> str:
    """gRPC's "ipv4:127.0.0.1:5000" / "ipv6:[::1]:5000" -> HDFS's "/127.0.0.1"."""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        host = rest.rsplit(":", 1)[0].strip("[]")
        return f"/{host}"
    return f"/{peer}" if peer else "null"


def perm_text(owner: str, group: str, mode: int, is_dir: bool) -> str:
    return f"{owner}:{group}:{fsmode.mode_string(is_dir, mode)[1:]}"


def format_line(allowed: bool, user: str, ip: str, cmd: str, src: str | None,
                dst: str | None, perm: str | None, proto: str, auth: str = "SIMPLE") -> str:
    """auth: Hadoop's AuthenticationMethod name, SIMPLE (trusted user.name / --user)
    or CERTIFICATE (secure mode: the user of the client certificate)."""
    fields = (f"allowed={'true' if allowed else 'false'}", f"ugi={user} (auth:{auth})",
              f"ip={ip or 'null'}", f"cmd={cmd}", f"src={_clean(src)}", f"dst={_clean(dst)}",
              f"perm={perm or 'null'}", f"proto={proto}")
    return FIELD_SEPARATOR.join(fields)


def _clean(value: str | None) -> str:
    # A path may hold a tab or newline (paths.py allows them): one record, one line.
    if value is None or value == "":
        return "null"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class AuditLog:
    """Writes formatted lines to a rotating file (a logger of its own, not propagated,
    so audit lines never reach the daemon's log)."""

    def __init__(self, path: pathlib.Path, max_bytes: int, backups: int, name: str,
                 auth: str = "SIMPLE") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.auth = auth
        self._logger = logging.getLogger(f"{LOGGER_PREFIX}.{name}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        for old in list(self._logger.handlers):
            self._logger.removeHandler(old)
            old.close()
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=max(0, backups), encoding="utf-8")
        self._handler.setFormatter(logging.Formatter(
            "%(asctime)s INFO FSNamesystem.audit: %(message)s"))
        self._logger.addHandler(self._handler)

    def write(self, line: str) -> None:
        self._logger.info("%s", line)

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()


def audit_path(conf_path: pathlib.Path | None, data_dir: pathlib.Path, name: str) -> pathlib.Path:
    base = conf_path.parent if conf_path is not None else data_dir.parent
    return base / "logs" / f"{name}-audit.log"


class _Audited:
    """A ClientOperations whose audited methods write a line; everything else is the
    wrapped object's own attribute."""

    def __init__(self, ops: Any, log: AuditLog) -> None:
        self._ops = ops
        self._log = log
        for method_name in dir(ops):
            method = getattr(ops, method_name, None)
            if not callable(method):
                continue
            command = command_for(method_name, method)
            if command is not None:
                setattr(self, method_name, self._wrap(method, command))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ops, name)

    def _perm(self, path: str | None) -> str | None:
        if not path:
            return None
        try:
            view = self._ops.get_file_info(path, None)
        except errors.MinidfsError:
            return None
        return perm_text(view.owner, view.group, view.mode, view.is_dir)

    def _record(self, command: Command, bound: inspect.BoundArguments, allowed: bool) -> None:
        caller = bound.arguments.get("caller")
        if caller is None:
            return
        ip, proto = ORIGIN.get()
        src = bound.arguments.get(command.src) if command.src else None
        dst = bound.arguments.get(command.dst) if command.dst else None
        perm = self._perm(bound.arguments.get(command.perm_of)) if (
            allowed and command.perm_of) else None
        if command.cmd == "rename" and perm is not None and isinstance(dst, str):
            perm = self._perm(_rename_target(self._ops, src, dst)) or perm
        self._log.write(format_line(allowed, caller.user, ip, command.cmd, src, dst, perm, proto,
                                    self._log.auth))

    def _wrap(self, method: Callable[..., Any], command: Command) -> Callable[..., Any]:
        signature = inspect.signature(method)
        record = self._record

        if inspect.iscoroutinefunction(method):
            @functools.wraps(method)
            async def audited_async(*args: Any, **kwargs: Any) -> Any:
                bound = signature.bind(*args, **kwargs)
                try:
                    result = await method(*args, **kwargs)
                except errors.PermissionDeniedError:
                    record(command, bound, False)
                    raise
                record(command, bound, True)
                return result
            return audited_async

        @functools.wraps(method)
        def audited_sync(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            try:
                result = method(*args, **kwargs)
            except errors.PermissionDeniedError:
                record(command, bound, False)
                raise
            record(command, bound, True)
            return result
        return audited_sync


def _rename_target(ops: Any, src: Any, dst: str) -> str:
    """Where a rename put src: into dst when dst is a directory (HDFS's rule)."""
    try:
        view = ops.get_file_info(dst, None)
    except errors.MinidfsError:
        return dst
    if view.is_dir and isinstance(src, str):
        inner = f"{dst.rstrip('/')}/{src.rstrip('/').rsplit('/', 1)[-1]}"
        try:
            ops.get_file_info(inner, None)
            return inner
        except errors.MinidfsError:
            return dst
    return dst


def audited(ops: Any, log: AuditLog | None) -> Any:
    """ops itself without a log (auditing off), else the auditing wrapper."""
    return ops if log is None else _Audited(ops, log)


class OriginInterceptor(grpc.aio.ServerInterceptor):
    """Sets ORIGIN (the peer's ip, "rpc") for every ClientNamenode call."""

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not (details.method or "").startswith(SERVICE_PREFIX):
            return handler
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def with_origin(request, context):
                ORIGIN.set((ip_of_peer(context.peer() or ""), "rpc"))
                return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(
                with_origin, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler
