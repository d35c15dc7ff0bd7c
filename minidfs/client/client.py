"""`minidfs.Client`: the synchronous Python API to a minidfs cluster.

Used by applications (`from minidfs import Client`), by the `minidfs` shell
(minidfs/cli/), by the local launcher's readiness checks and by MapReduce. It finds
the cluster through cluster.toml, sends namespace calls to the NameNode(s) through
`NamenodeClient` (deadlines, failover), and moves file bytes through the block
streams `DFSOutputStream` / `DFSInputStream`. While any file is open for writing a
daemon thread renews this client's lease, so the NameNode never recovers a file that
is still being written.

Listings and stats come back as plain dicts, the same ones `minidfs ls --json` and
`minidfs stat --json` print:
    {"path", "type": "file"|"directory", "length", "replication", "block_size",
     "modified": epoch ms, "under_construction", "owner", "group",
     "permission": octal text ("644"), "sticky"}

The client acts as one user (`user=`, else $MINIDFS_USER, else the OS user; see
minidfs/identity.py): the NameNode checks every call against it, and relative
paths start at that user's home, /user/<user>, as in HDFS.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import pathlib
import secrets
import socket
import stat as stat_mode
import threading
from typing import IO, Any, Callable, Iterator

from minidfs import config, errors, fsmode, identity, paths
from minidfs.client import tree_copy
from minidfs.client.circuit_breaker import CircuitBreaker
from minidfs.client.input_stream import DATANODE_COOL_DOWN_S, DATANODE_FAILURES_TO_OPEN
from minidfs.client.namenode_client import NamenodeClient, OutcomeUnknownInterrupt
from minidfs.namenode.limits import Limits
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc.channel_pool import ChannelPool

log = logging.getLogger("minidfs.client")

# Buffers of the file objects `open` returns, and the slice `put`/`get` copy at a
# time: big, because every call into a block stream has a fixed cost.
BUFFER_BYTES = 1024 * 1024
COPY_CHUNK_BYTES = 4 * 1024 * 1024
# Entries asked for per ListStatus call (the NameNode caps it as well).
LIST_PAGE_LIMIT = 1000
# The lease is renewed this many times per soft-limit period, so one lost renewal
# never lets it lapse.
LEASE_RENEWALS_PER_SOFT_LIMIT = 3
LEASE_RENEW_MIN_INTERVAL_S = 0.2

ProgressFn = Callable[[int], None]
_READ_MODES = {"rb": False, "r": True, "rt": True}
_WRITE_MODES = {"wb": False, "w": True, "wt": True}
_APPEND_MODES = {"ab": False, "a": True, "at": True}


def entry_dict(status: Any) -> dict[str, Any]:
    """The `ls --json` dict of a protobuf FileStatus."""
    return {
        "path": status.path,
        "type": "directory" if status.is_dir else "file",
        "length": status.length,
        "replication": status.replication,
        "block_size": status.block_size,
        "modified": status.modified_ms,
        "under_construction": status.under_construction,
        "owner": status.owner,
        "group": status.group,
        "permission": fsmode.octal(status.permission),
        "sticky": bool(status.permission & fsmode.STICKY),
    }


def _local_host_names() -> list[str]:
    """Names and addresses this host may appear under in cluster.toml, cheapest first."""
    names = ["127.0.0.1", "localhost", "::1", socket.gethostname()]
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.append(str(info[4][0]))
    except OSError:
        pass
    return names


def find_client_node(conf: config.ClusterConfig) -> str:
    """The DataNode configured on this host ("" if none): the writer's first replica
    goes there and reads prefer it, as in HDFS."""
    if not conf.datanodes:
        return ""
    for host in _local_host_names():
        node = conf.datanode_on_host(host)
        if node is not None:
            return node.name
    return ""


class _LeaseRenewer:
    """Renews one client's lease in a daemon thread while it has files open for writing."""

    def __init__(self, nn: NamenodeClient, client_name: str, interval_s: float) -> None:
        self._nn = nn
        self._client_name = client_name
        self._interval_s = interval_s
        self._cond = threading.Condition()
        self._writers = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        with self._cond:
            self._writers += 1
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name=f"lease-{self._client_name}", daemon=True)
                self._thread.start()

    def release(self) -> None:
        with self._cond:
            self._writers = max(0, self._writers - 1)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._interval_s + 1)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._writers == 0,
                                    timeout=self._interval_s)
                if self._closed or self._writers == 0:
                    self._thread = None
                    return
            try:
                self._nn.call("RenewLease", pb.RenewLeaseRequest(client_name=self._client_name))
            except errors.MinidfsError as e:
                # The next round tries again; the soft limit leaves room for a few misses.
                log.warning("lease renewal for %s failed: %s", self._client_name, e)


class _LeasedWriter(io.BufferedWriter):
    """A BufferedWriter that tells its Client when it is closed (lease bookkeeping)."""

    def __init__(self, raw: io.RawIOBase, on_close: Callable[["_LeasedWriter"], None]) -> None:
        super().__init__(raw, BUFFER_BYTES)
        self._on_close: Callable[[_LeasedWriter], None] | None = on_close

    _closing = False

    def flush(self) -> None:
        """hflush: every byte written so far is visible to new readers (HDFS's
        hflush; docs/append.md). Part of close() too, where it is only a flush."""
        super().flush()
        if not self._closing and not self.closed:
            self.raw.hflush()

    def hflush(self) -> None:
        self.flush()

    def sync(self) -> None:
        """hsync: hflush, and the DataNodes fsync the block before answering."""
        super().flush()
        self.raw.hsync()

    hsync = sync

    def close(self) -> None:
        if self.closed:
            return
        self._closing = True
        try:
            super().close()
        finally:
            callback, self._on_close = self._on_close, None
            if callback is not None:
                callback(self)


class _TextWriter(io.TextIOWrapper):
    """Text mode over a _LeasedWriter: flush() is hflush, but the flush that close()
    starts with is not (close finalizes the file anyway)."""

    def close(self) -> None:
        if not self.closed:
            self.buffer._closing = True
        super().close()


class Client:
    """A connection to one minidfs cluster. Thread-safe for namespace calls; each
    file object it returns belongs to one thread at a time."""

    def __init__(self, conf: str | os.PathLike[str] | config.ClusterConfig | None = None, *,
                 home: str | os.PathLike[str] | None = None,
                 client_node: str | None = None, user: str | None = None,
                 observer_reads: bool | None = None,
                 cert_dir: str | os.PathLike[str] | None = None) -> None:
        """observer_reads: send reads to observer NameNodes when cluster.toml has
        them (default: the cluster's client_observer_reads; docs/observers.md).
        cert_dir: secure mode's certificate (else $MINIDFS_CERT_DIR, else the
        superuser's in the cluster's home); a user certificate decides the user."""
        if isinstance(conf, config.ClusterConfig):
            self.conf = conf
        else:
            self.conf = config.load(config.find_conf(conf, str(home) if home else None))
        self.conf_path = self.conf.path
        from minidfs.security import credentials

        self.credentials = credentials.for_client(self.conf, cert_dir)
        if self.credentials is not None and self.credentials.subject.is_user:
            user = self.credentials.subject.user
        settings = self.conf.settings
        addresses = [n.address for n in self.conf.writable_namenodes]
        if not addresses:
            raise errors.ConfigError(f"{self.conf_path}: no namenode configured")
        if observer_reads is None:
            observer_reads = settings.client_observer_reads
        observers = [n.address for n in self.conf.observers] if observer_reads else []
        self._nn = NamenodeClient(addresses, wait_s=settings.client_failover_wait_s, user=user,
                                  observers=observers, cluster_id=settings.cluster_id,
                                  observer_wait_s=settings.observer_read_wait_s)
        self.user = self._nn.user
        self.home = identity.home_directory(self.user)
        self._umask = fsmode.parse_umask(self.conf.settings.umask)
        # The cluster file's fs-limits, checked here first to fail before any call
        # (the NameNode checks them again: it is the authority).
        self.limits = Limits(self.conf.settings)
        self.client_name = (f"minidfs_{socket.gethostname()}_{os.getpid()}_"
                            f"{secrets.token_hex(4)}")
        self.client_node = find_client_node(self.conf) if client_node is None else client_node
        interval_s = max(self.conf.settings.lease_soft_limit_s / LEASE_RENEWALS_PER_SOFT_LIMIT,
                         LEASE_RENEW_MIN_INTERVAL_S)
        self._lease = _LeaseRenewer(self._nn, self.client_name, interval_s)
        self._writers: set[_LeasedWriter] = set()
        self._writers_lock = threading.Lock()
        # Every DataNode channel of this client's streams, reused across files.
        self.channel_pool = ChannelPool()
        # DataNodes whose reads failed repeatedly: every stream tries them last for a
        # cool-down (input_stream.py), so one sick node does not slow each read.
        self.datanode_breaker = CircuitBreaker(DATANODE_FAILURES_TO_OPEN, DATANODE_COOL_DOWN_S)
        self._breaker_lock = threading.Lock()
        self._closed = False

    @property
    def namenode(self) -> NamenodeClient:
        """The NameNode RPC wrapper (for tools that need calls the Client does not wrap)."""
        return self._nn

    # ---- namespace ---------------------------------------------------------------

    def msync(self) -> int:
        """Brings this client up to the active NameNode's latest state (HDFS's msync):
        reads from observers after it see every change committed before it, other
        clients' included. Returns the active's last committed txid."""
        return self._nn.msync().txid

    @property
    def state_id(self) -> str:
        """The newest namespace state this client has seen, "cluster:txid"; hand it
        to another client's `advance_state` so that one reads at least as new."""
        return self._nn.state

    def advance_state(self, state_id: str) -> None:
        """Reads from here on see at least the state `state_id` names (another
        client's `state_id`). One from another cluster, or from the future, makes
        the next call fail with StateIdError."""
        self._nn.advance_state(state_id)

    def resolve(self, path: str) -> str:
        """The absolute DFS path of what a user typed: relative to /user/<user>."""
        return paths.normalize_user_path(path, self.home)

    def _info(self, path: str) -> Any:
        return self._nn.call("GetFileInfo", pb.PathRequest(path=path))

    def _info_or_none(self, path: str) -> Any | None:
        try:
            return self._info(path)
        except errors.FileNotFound:
            return None

    def info(self, path: str) -> dict[str, Any]:
        """The `ls` dict of path itself (file or directory)."""
        return entry_dict(self._info(self.resolve(path)))

    def exists(self, path: str) -> bool:
        return self._info_or_none(self.resolve(path)) is not None

    def mkdir(self, path: str, parents: bool = False) -> None:
        path = self.limits.check_new_path(self.resolve(path))
        self._nn.call("Mkdirs", pb.MkdirsRequest(
            path=path, parents=parents, mode=fsmode.apply_umask(fsmode.DIR_DEFAULT, self._umask)))

    def delete(self, path: str, recursive: bool = False) -> bool:
        path = self.resolve(path)
        return self._nn.call("Delete", pb.DeleteRequest(path=path, recursive=recursive)).deleted

    rm = delete

    def trash(self, path: str) -> str | None:
        """What the shell's rm does: moves path into /user/<user>/.Trash/Current and
        returns where it went; None when the trash is off (trash_interval_s = 0) or
        path is already in the trash - then nothing was done and the caller deletes.
        `delete` never uses the trash (as HDFS's FileSystem.delete)."""
        from minidfs.client import trash_ops

        return trash_ops.move_to_trash(self, self.resolve(path))

    def expunge(self, immediate: bool = False) -> list[str]:
        """Deletes this user's trash checkpoints older than trash_interval_s and makes
        Current a checkpoint (immediate: deletes all of it); one line per step."""
        from minidfs.client import trash_ops

        return trash_ops.expunge(self, immediate)

    def rename(self, src: str, dst: str) -> None:
        src, dst = self.resolve(src), self.resolve(dst)
        self._nn.call("Rename", pb.RenameRequest(src=src, dst=dst))

    mv = rename

    def setrep(self, path: str, replication: int) -> int:
        """Sets the replication of a file, or of every file below a directory (as
        `hdfs dfs -setrep` does). Returns how many files were changed."""
        if isinstance(replication, bool) or not isinstance(replication, int) or replication < 1:
            raise errors.InvalidArgument(f"{replication}: replication must be a positive integer")
        path = self.resolve(path)
        self.limits.check_replication(replication, path)
        targets = [e["path"] for e in self.ls(path, recursive=True) if e["type"] == "file"]
        for target in targets:
            self._nn.call("SetReplication",
                          pb.SetReplicationRequest(path=target, replication=replication))
        return len(targets)

    def chmod(self, path: str, mode: int | str, recursive: bool = False) -> int:
        """Sets the mode: an int (0o750) or text as `chmod` takes it ("750", "u+x,go-w").
        With recursive, of everything below too; nothing changes unless the caller
        may change all of it. Returns how many inodes changed."""
        if isinstance(mode, int) and not isinstance(mode, bool):
            if not 0 <= mode <= fsmode.ALL_BITS:
                raise errors.InvalidArgument(f"{mode:o}: not a valid mode (000 to 1777)")
            mode = fsmode.octal(mode)
        if not isinstance(mode, str):
            raise errors.InvalidArgument(f"{mode!r}: a mode is an int or a string")
        fsmode.parse_mode(mode, 0, False)   # a malformed mode fails here, not remotely
        return self._nn.call("SetPermission", pb.SetPermissionRequest(
            path=self.resolve(path), mode=mode, recursive=recursive)).changed

    def chown(self, path: str, owner: str | None = None, group: str | None = None,
              recursive: bool = False) -> int:
        """Sets the owner and/or the group (None: unchanged); returns how many inodes
        changed. Only a superuser may change the owner."""
        if owner is None and group is None:
            raise errors.InvalidArgument(f"{path}: give an owner, a group or both")
        if owner is not None:
            fsmode.check_name(owner, "user")
        if group is not None:
            fsmode.check_name(group, "group")
        return self._nn.call("SetOwner", pb.SetOwnerRequest(
            path=self.resolve(path), owner=owner or "", group=group or "",
            recursive=recursive)).changed

    def chgrp(self, path: str, group: str, recursive: bool = False) -> int:
        return self.chown(path, None, group, recursive)

    def ls(self, path: str = "/", recursive: bool = False) -> list[dict[str, Any]]:
        """A file lists itself; a directory lists its children (all descendants with
        recursive=True, each directory followed by its contents)."""
        path = self.resolve(path)
        status = self._info(path)
        if not status.is_dir:
            return [entry_dict(status)]
        return [entry for entry, _ in self._walk(path, recursive)]

    def _walk(self, root: str, recursive: bool, need_locations: bool = False
              ) -> Iterator[tuple[dict[str, Any], Any]]:
        """(entry dict, its LocatedBlocks with need_locations else None) under root."""
        # An explicit stack: paths may be nested deeper than Python's recursion limit.
        stack = [self._list_dir(root, need_locations)]
        while stack:
            status, located = next(stack[-1], (None, None))
            if status is None:
                stack.pop()
                continue
            yield entry_dict(status), located
            if recursive and status.is_dir:
                stack.append(self._list_dir(status.path, need_locations))

    def _list_dir(self, path: str, need_locations: bool) -> Iterator[tuple[Any, Any]]:
        start_after = ""
        while True:
            page = self._nn.call("ListStatus", pb.ListStatusRequest(
                path=path, start_after=start_after, limit=LIST_PAGE_LIMIT,
                need_locations=need_locations, client_node=self.client_node))
            located = page.locations if need_locations else [None] * len(page.entries)
            yield from zip(page.entries, located)
            if not page.has_more or not page.entries:
                return
            start_after = paths.basename(page.entries[-1].path)

    def stat(self, path: str) -> dict[str, Any]:
        """The `ls` dict plus "blocks": [{"id", "genstamp", "offset", "length",
        "locations": [DataNode names], "corrupt"}] in file order."""
        path = self.resolve(path)
        status = self._info(path)
        result = entry_dict(status)
        result["blocks"] = []
        if not status.is_dir:
            located = self._nn.call("GetBlockLocations", pb.GetBlockLocationsRequest(
                path=path, offset=0, length=0))
            result["blocks"] = [{
                "id": b.block.id,
                "genstamp": b.block.genstamp,
                "offset": b.offset,
                "length": b.block.length,
                "locations": [loc.name for loc in b.locations],
                "corrupt": b.corrupt,
            } for b in located.blocks]
        return result

    def du(self, path: str) -> dict[str, Any]:
        path = self.resolve(path)
        summary = self._nn.call("GetContentSummary", pb.PathRequest(path=path))
        return {
            "path": path,
            "length": summary.length,
            "space_consumed": summary.space_consumed,
            "files": summary.file_count,
            "directories": summary.directory_count,
        }

    def count(self, path: str) -> dict[str, Any]:
        """`count -q`'s figures: {"path", "directories", "files", "length",
        "space_consumed", "quota", "remaining_quota", "space_quota",
        "remaining_space_quota"}; the quotas and what remains of them are None where
        the directory has none (HDFS prints none / inf)."""
        path = self.resolve(path)
        s = self._nn.call("GetContentSummary", pb.PathRequest(path=path))
        names_quota = s.quota if s.quota > 0 else None
        space_quota = s.space_quota if s.space_quota > 0 else None
        return {
            "path": path, "directories": s.directory_count, "files": s.file_count,
            "length": s.length, "space_consumed": s.space_consumed,
            "quota": names_quota,
            "remaining_quota": (names_quota - s.directory_count - s.file_count
                                if names_quota is not None else None),
            "space_quota": space_quota,
            "remaining_space_quota": (space_quota - s.space_consumed
                                      if space_quota is not None else None),
        }

    def set_quota(self, path: str, quota: int) -> None:
        """The namespace quota (files + directories, the directory itself included)
        of a directory; superusers only. Allowed below the current use."""
        self._set_quotas(path, self._quota_arg(quota, "quota"), 0)

    def set_space_quota(self, path: str, size_bytes: int) -> None:
        """The space quota (bytes x replication) of a directory; superusers only."""
        self._set_quotas(path, 0, self._quota_arg(size_bytes, "space quota"))

    def clear_quota(self, path: str) -> None:
        """Removes the namespace quota (HDFS's -clrQuota; the space quota stays)."""
        self._set_quotas(path, -1, 0)

    def clear_space_quota(self, path: str) -> None:
        self._set_quotas(path, 0, -1)

    @staticmethod
    def _quota_arg(value: int, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 63:
            raise errors.InvalidArgument(f"{value}: the {what} must be a positive integer")
        return value

    def _set_quotas(self, path: str, quota: int, space_quota: int) -> None:
        self._nn.call("SetQuota", pb.SetQuotaRequest(path=self.resolve(path), quota=quota,
                                                     space_quota=space_quota))

    def df(self) -> dict[str, Any]:
        stats = self._nn.call("GetStats", pb.GetStatsRequest())
        return {
            "capacity": stats.capacity,
            "used": stats.used,
            "remaining": stats.remaining,
            "live_datanodes": stats.live_datanodes,
            "dead_datanodes": stats.dead_datanodes,
            "files": stats.files,
            "blocks": stats.blocks,
            "under_replicated": stats.under_replicated,
            "missing": stats.missing,
            "corrupt": stats.corrupt,
            "safe_mode": stats.safe_mode,
        }

    # ---- file data ---------------------------------------------------------------

    def open(self, path: str, mode: str = "rb", *, replication: int | None = None,
             block_size: int | None = None, overwrite: bool = False,
             encoding: str | None = None, newline: str | None = None,
             verify: bool = True) -> IO[Any]:
        """"rb"/"wb" give buffered binary files (reads are seekable); "r"/"w" text
        (UTF-8 unless `encoding`). Writing creates the file; the data is durable on
        every DataNode of the pipeline once close() returns."""
        path = self.resolve(path)
        if mode in _READ_MODES:
            stream: IO[Any] = io.BufferedReader(self._input_stream(path, verify), BUFFER_BYTES)
            text = _READ_MODES[mode]
        elif mode in _WRITE_MODES:
            stream = self._open_writer(path, overwrite, replication, block_size)
            text = _WRITE_MODES[mode]
        elif mode in _APPEND_MODES:
            stream = self._open_appender(path, replication, block_size)
            text = _APPEND_MODES[mode]
        else:
            raise errors.InvalidArgument(f"{mode}: unsupported mode (use rb, r, wb, w, ab or a)")
        if text:
            wrapper = _TextWriter if isinstance(stream, _LeasedWriter) else io.TextIOWrapper
            return wrapper(stream, encoding=encoding or "utf-8", newline=newline)
        return stream

    def _input_stream(self, path: str, verify: bool, located: Any = None) -> io.RawIOBase:
        from minidfs.client.input_stream import DFSInputStream

        return DFSInputStream(self._nn, path, client_node=self.client_node, verify=verify,
                              breaker=self.datanode_breaker, breaker_lock=self._breaker_lock,
                              pool=self.channel_pool, located=located)

    def _open_writer(self, path: str, overwrite: bool, replication: int | None,
                     block_size: int | None) -> _LeasedWriter:
        from minidfs.client.output_stream import DFSOutputStream

        if self._closed:
            raise errors.MinidfsError(f"{path}: client is closed")
        self._check_write_options(path, replication, block_size)
        created = self._nn.call("Create", pb.CreateRequest(
            path=path, overwrite=overwrite, replication=replication or 0,
            block_size=block_size or 0, client_name=self.client_name,
            client_node=self.client_node, create_parent=True, add_block=True,
            mode=fsmode.apply_umask(fsmode.FILE_DEFAULT, self._umask)))
        status = created.status
        settings = self.conf.settings
        raw = DFSOutputStream(
            self._nn, path, self.client_name,
            block_size=status.block_size or block_size or settings.block_size_bytes,
            replication=status.replication or replication or settings.replication,
            chunk_size=settings.chunk_size_bytes, client_node=self.client_node,
            pool=self.channel_pool,
            first_block=created.first_block if created.HasField("first_block") else None)
        writer = _LeasedWriter(raw, self._writer_closed)
        with self._writers_lock:
            self._writers.add(writer)
        self._lease.acquire()
        return writer

    def _open_appender(self, path: str, replication: int | None,
                       block_size: int | None) -> _LeasedWriter:
        """Append (docs/append.md): the file reopened under this client's lease; a
        missing file is created first (Python's "ab", HDFS's appendToFile)."""
        from minidfs.client.output_stream import DFSOutputStream

        if self._closed:
            raise errors.MinidfsError(f"{path}: client is closed")
        request = pb.AppendRequest(path=path, client_name=self.client_name,
                                   client_node=self.client_node)
        try:
            reply = self._nn.call("Append", request)
        except errors.FileNotFound:
            try:
                return self._open_writer(path, False, replication, block_size)
            except errors.FileExists:   # made meanwhile by someone else: append to it
                reply = self._nn.call("Append", pb.AppendRequest(
                    path=path, client_name=self.client_name, client_node=self.client_node))
        status = reply.status
        self._lease.acquire()
        try:
            raw = DFSOutputStream(
                self._nn, path, self.client_name, block_size=status.block_size,
                replication=status.replication, chunk_size=self.conf.settings.chunk_size_bytes,
                client_node=self.client_node, pool=self.channel_pool,
                append_to=reply.last_block if reply.HasField("last_block") else None,
                reopened=reply.reopened)
        except BaseException:
            self._lease.release()
            raise
        writer = _LeasedWriter(raw, self._writer_closed)
        with self._writers_lock:
            self._writers.add(writer)
        return writer

    def append(self, local: str | os.PathLike[str] | IO[bytes], remote: str, *,
               progress: ProgressFn | None = None) -> str:
        """Appends a local file (or a readable binary stream) to `remote`, creating it
        when missing (HDFS's appendToFile). Returns the DFS path."""
        remote = self.resolve(remote)
        is_stream = hasattr(local, "read")
        source = contextlib.nullcontext(local) if is_stream else open(local, "rb")  # type: ignore[arg-type]
        with source as stream:
            with self.open(remote, "ab") as writer:
                _copy(stream, writer, progress, _local_size(stream))
        return remote

    def recover_lease(self, path: str) -> bool:
        """Starts lease recovery of a file at once (HDFS's recoverLease): True when it
        is closed (already, or by now)."""
        return self._nn.call("RecoverLease", pb.RecoverLeaseRequest(
            path=self.resolve(path), client_name=self.client_name)).closed

    def _check_write_options(self, path: str, replication: int | None,
                             block_size: int | None) -> None:
        self.limits.check_new_path(path)
        # None (or 0, the protocol's word for it) means the cluster default.
        if replication:
            self.limits.check_replication(replication, path)
        if block_size:
            self.limits.check_block_size(block_size, path)

    def _writer_closed(self, writer: _LeasedWriter) -> None:
        with self._writers_lock:
            self._writers.discard(writer)
        self._lease.release()

    def put(self, local: str | os.PathLike[str] | IO[bytes], remote: str,
            overwrite: bool = False, replication: int | None = None,
            block_size: int | None = None, *, progress: ProgressFn | None = None,
            threads: int | None = None,
            files_progress: tree_copy.FilesProgressFn | None = None) -> str:
        """Copies a local file (or a readable binary stream) to `remote`; into it when
        `remote` is a directory. Returns the DFS path written. A failed copy removes
        the partial file. A local directory is copied whole (tree_copy.py), `threads`
        files at a time (default: settings.client_copy_threads)."""
        remote = self.resolve(remote)
        self._check_write_options(remote, replication, block_size)
        is_stream = hasattr(local, "read")
        if not is_stream and os.path.isdir(local):  # type: ignore[arg-type]
            return tree_copy.put_tree(self, pathlib.Path(local), remote, overwrite,  # type: ignore[arg-type]
                                      replication, block_size, progress,
                                      self._copy_threads(threads), files_progress)
        # The local side first: a typo in a local name should not cost a round trip.
        source = contextlib.nullcontext(local) if is_stream else open(local, "rb")  # type: ignore[arg-type]
        with source as stream:
            target = remote
            status = self._info_or_none(remote)
            if status is not None and status.is_dir:
                if is_stream:
                    raise errors.IsADirectory(f"{remote}: is a directory")
                target = paths.join(remote, pathlib.Path(os.fspath(local)).name)  # type: ignore[arg-type]
            self._upload(stream, target, overwrite, replication, block_size, progress)
        return target

    def _upload(self, source: IO[bytes], target: str, overwrite: bool,
                replication: int | None, block_size: int | None,
                progress: ProgressFn | None) -> None:
        writer = self._open_writer(target, overwrite, replication, block_size)
        try:
            with writer:
                _copy(source, writer, progress, _local_size(source))
        except (errors.OutcomeUnknownError, OutcomeUnknownInterrupt) as e:
            if writer.raw.completing:
                # Every byte was acked before the close's Complete, so the file is
                # whole if that Complete applied, and lease recovery makes it whole
                # otherwise: keep it, never report it failed (docs/outcomes.md).
                raise
            self._remove_partial(target, e)
            raise
        except BaseException as e:
            self._remove_partial(target, e)
            raise

    def _remove_partial(self, path: str, cause: BaseException) -> None:
        """Deletes what a failed put left. When that is not certain to have worked the
        put's outcome is unknown (a partial file may remain): OutcomeUnknownError."""
        try:
            self._nn.call("Delete", pb.DeleteRequest(path=path, recursive=False))
        except errors.MinidfsError as e:
            log.warning("%s: could not remove the partial file: %s", path, e)
            if not isinstance(cause, errors.OutcomeUnknownError):
                raise errors.OutcomeUnknownError(
                    f"{path}: outcome unknown: the write failed ({cause}) and its partial "
                    f"file could not be removed ({e})") from None

    def get(self, remote: str, local: str | os.PathLike[str], overwrite: bool = False, *,
            progress: ProgressFn | None = None, verify: bool = True, threads: int | None = None,
            files_progress: tree_copy.FilesProgressFn | None = None) -> str:
        """Copies a DFS file to a local path (into it when it is a directory). The
        local file appears whole or not at all. Returns the local path written. A DFS
        directory is copied whole (tree_copy.py), `threads` files at a time."""
        remote = self.resolve(remote)
        if self._info(remote).is_dir:
            return tree_copy.get_tree(self, remote, pathlib.Path(local), overwrite, progress, verify,
                                      self._copy_threads(threads), files_progress)
        target = pathlib.Path(local)
        if target.is_dir():
            target = target / paths.basename(remote)
        if target.exists() and not overwrite:
            raise errors.FileExists(f"{target}: local file exists")
        self._download(remote, target, overwrite, progress, verify)
        return str(target)

    def _download(self, remote: str, target: pathlib.Path, overwrite: bool,
                  progress: ProgressFn | None, verify: bool, located: Any = None) -> None:
        """Copies DFS file `remote` to exactly `target`, written aside and renamed, so
        the name only ever holds a whole file (the partial one goes on any error).
        `located`: its block locations when a listing brought them already."""
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.minidfs-partial")
        try:
            # The raw stream: it fills a whole buffer per call, a BufferedReader
            # would only add a copy.
            with self._input_stream(remote, verify, located) as source, \
                    open(partial, "wb") as sink:
                _copy(source, sink, progress, source.length)
            os.replace(partial, target)
        except OSError as e:
            partial.unlink(missing_ok=True)
            if e.filename in (None, str(partial)) and e.strerror:
                # Name the file the user asked for, not our temporary one (disk full).
                raise OSError(e.errno, e.strerror, str(target)) from None
            raise
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def _copy_threads(self, threads: int | None) -> int:
        count = self.conf.settings.client_copy_threads if threads is None else threads
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise errors.InvalidArgument(f"{count}: threads must be a positive integer")
        return count

    def cat(self, path: str) -> bytes:
        with self.open(path, "rb") as f:
            return f.read()

    # ---- lifetime ----------------------------------------------------------------

    def close(self) -> None:
        """Closes every file still open for writing, stops lease renewal, drops channels."""
        if self._closed:
            return
        self._closed = True
        with self._writers_lock:
            writers = list(self._writers)
        for writer in writers:
            try:
                writer.close()
            except (errors.MinidfsError, OSError) as e:
                log.warning("closing a file left open failed: %s", e)
        self._lease.close()
        self.channel_pool.close()
        self._nn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Client(conf={str(self.conf_path)!r}, user={self.user!r}, "
                f"client_name={self.client_name!r})")


def _copy(source: IO[bytes], sink: IO[bytes], progress: ProgressFn | None,
          size_hint: int | None = None) -> None:
    """Streams source to sink in COPY_CHUNK_BYTES slices, reusing one buffer (no
    bigger than a known size needs, plus one byte to see the end: a 10 KiB file
    should not zero 4 MiB)."""
    buffer = bytearray(COPY_CHUNK_BYTES if size_hint is None else
                       max(1, min(COPY_CHUNK_BYTES, size_hint + 1)))
    view = memoryview(buffer)
    readinto = getattr(source, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(view)
            chunk = view[:n] if n else None
        else:
            data = source.read(COPY_CHUNK_BYTES)
            n, chunk = len(data), memoryview(data)
        if not n:
            return
        sink.write(chunk)
        if progress is not None:
            progress(n)


def _local_size(stream: IO[bytes]) -> int | None:
    """The size of a local regular file behind stream, None for a pipe or socket."""
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    # (An empty-looking regular file may be /proc-like: no hint then.)
    return info.st_size if stat_mode.S_ISREG(info.st_mode) and info.st_size else None
