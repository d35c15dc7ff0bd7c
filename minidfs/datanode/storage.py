"""Replica storage on a DataNode's local disk: files, the replica map, capacity.

Layout under the node's data_dir (see docs/datanode.md):

    in_use.lock                          flock'ed while a DataNode owns the folder
    current/rbw/blk_<id>                 a replica being written
    current/rbw/blk_<id>_<gs>.meta       its checksums (meta_format.py)
    current/finalized/<id % 256:02x>/... finalized replicas, same two files

Finalize = fsync block and meta, rename the meta then the block into finalized/,
fsync both directories. A crash between the two renames leaves the meta in
finalized/ and the block in rbw/; start-up completes that rename. Every path is
built from an integer block id and genstamp, never from request text, so no
request can reach outside the data folder.

Used by the pipeline (ReplicaWriter), ReadBlock (ReplicaReader), the NameNode link
(reports, DELETE) and the block scanner. Blocking file I/O: the asyncio callers
run the slow parts (fsync) in a thread; the replica map is guarded by a lock.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import pathlib
import re
import shutil
import threading
from dataclasses import dataclass

from minidfs import errors
from minidfs.durable import fsync_dir, write_all
from minidfs.checksum import chunk_count
from minidfs.datanode import meta_format

log = logging.getLogger("minidfs.datanode.storage")

FINALIZED_SUBDIRS = 256
MAX_BLOCK_ID = 2**63 - 1
MAX_GENSTAMP = 2**63 - 1
LOCK_NAME = "in_use.lock"

FINALIZED = "finalized"
RBW = "rbw"
CORRUPT = "corrupt"

_BLOCK_RE = re.compile(r"^blk_([1-9][0-9]{0,18})$")
_META_RE = re.compile(r"^blk_([1-9][0-9]{0,18})_([0-9]{1,19})\.meta$")


def check_block_id(block_id: object) -> int:
    """block_id if it is a positive integer id, else InvalidArgument."""
    if type(block_id) is not int or not 0 < block_id <= MAX_BLOCK_ID:
        raise errors.InvalidArgument(f"block {block_id!r}: block id must be a positive integer")
    return block_id


def check_genstamp(genstamp: object) -> int:
    if type(genstamp) is not int or not 0 <= genstamp <= MAX_GENSTAMP:
        raise errors.InvalidArgument(f"genstamp {genstamp!r}: must be a non-negative integer")
    return genstamp


@dataclass
class Replica:
    block_id: int
    genstamp: int
    length: int
    state: str
    block_path: pathlib.Path
    meta_path: pathlib.Path | None
    chunk_size: int = 0
    reason: str = ""          # why a replica is CORRUPT

    @property
    def finalized(self) -> bool:
        return self.state == FINALIZED


class Storage:
    def __init__(self, data_dir: pathlib.Path, *, block_size_bytes: int,
                 capacity_bytes: int = 0) -> None:
        self.data_dir = pathlib.Path(data_dir)
        self.block_size_bytes = block_size_bytes
        self.capacity_limit_bytes = capacity_bytes
        self.current = self.data_dir / "current"
        self.rbw_dir = self.current / RBW
        self.finalized_dir = self.current / FINALIZED
        self.used_bytes = 0
        self._replicas: dict[int, Replica] = {}
        self._writers: dict[int, ReplicaWriter] = {}
        self._lock = threading.RLock()  # delete() closes a writer, which re-enters
        self._lock_fd: int | None = None

    # ---- start-up -------------------------------------------------------------

    def open(self) -> None:
        """Takes the folder lock, creates the layout and scans every replica."""
        for d in (self.data_dir, self.current, self.rbw_dir, self.finalized_dir):
            d.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise errors.ConfigError(f"{self.data_dir}: data folder in use by another DataNode") from None
        self._lock_fd = fd
        self._scan_finalized()
        self._scan_rbw()
        self.used_bytes = sum(self._replica_bytes(r) for r in self._replicas.values())

    def close(self) -> None:
        for writer in list(self._writers.values()):
            writer.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _scan_finalized(self) -> None:
        for sub in sorted(p for p in self.finalized_dir.iterdir() if p.is_dir()):
            metas = _metas_by_id(sub)
            for path in sub.iterdir():
                match = _BLOCK_RE.match(path.name)
                if match:
                    block_id = int(match.group(1))
                    self._add_scanned(self._load_finalized(block_id, path, metas.pop(block_id, [])))
            for block_id, found in metas.items():
                rbw_block = self.rbw_dir / f"blk_{block_id}"
                if rbw_block.exists():
                    # A finalize interrupted between its two renames: finish it.
                    target = sub / rbw_block.name
                    os.rename(rbw_block, target)
                    fsync_dir(sub)
                    fsync_dir(self.rbw_dir)
                    log.info("block %d: completed an interrupted finalize", block_id)
                    self._add_scanned(self._load_finalized(block_id, target, found))
                else:
                    log.warning("block %d: meta without a block file in %s, ignored", block_id, sub)

    def _scan_rbw(self) -> None:
        metas = _metas_by_id(self.rbw_dir)
        for path in self.rbw_dir.iterdir():
            match = _BLOCK_RE.match(path.name)
            if not match:
                continue
            block_id = int(match.group(1))
            found = metas.pop(block_id, [])
            existing = self._replicas.get(block_id)
            if existing is not None and existing.state == FINALIZED:
                log.info("block %d: dropping a stale rbw copy of a finalized replica", block_id)
                for stale in [path, *(m for _, m in found)]:
                    stale.unlink(missing_ok=True)
                continue
            self._add_scanned(self._load_rbw(block_id, path, found))

    def _load_finalized(self, block_id: int, path: pathlib.Path,
                        metas: list[tuple[int, pathlib.Path]]) -> Replica:
        size = path.stat().st_size
        if not metas:
            return Replica(block_id, 0, size, CORRUPT, path, None, reason="no meta file")
        genstamp, meta_path = max(metas)
        try:
            meta = meta_format.decode_finalized(meta_path.read_bytes(), size)
        except meta_format.MetaCorrupt as e:
            return Replica(block_id, genstamp, size, CORRUPT, path, meta_path, reason=str(e))
        return Replica(block_id, genstamp, size, FINALIZED, path, meta_path, meta.chunk_size)

    def _load_rbw(self, block_id: int, path: pathlib.Path,
                  metas: list[tuple[int, pathlib.Path]]) -> Replica:
        size = path.stat().st_size
        if not metas:
            return Replica(block_id, 0, size, CORRUPT, path, None, reason="no meta file")
        genstamp, meta_path = max(metas)
        try:
            meta, length = meta_format.rbw_length(meta_path.read_bytes(), size)
        except meta_format.MetaCorrupt as e:
            return Replica(block_id, genstamp, size, CORRUPT, path, meta_path, reason=str(e))
        return Replica(block_id, genstamp, length, RBW, path, meta_path, meta.chunk_size)

    def _add_scanned(self, replica: Replica) -> None:
        if replica.state == CORRUPT:
            log.warning("block %d: replica is corrupt: %s", replica.block_id, replica.reason)
        self._replicas[replica.block_id] = replica

    # ---- queries ----------------------------------------------------------------

    def replicas(self) -> list[Replica]:
        with self._lock:
            return list(self._replicas.values())

    def get(self, block_id: int) -> Replica | None:
        with self._lock:
            return self._replicas.get(check_block_id(block_id))

    @property
    def active_writers(self) -> int:
        return len(self._writers)

    def capacity(self) -> tuple[int, int, int]:
        """(capacity, used, remaining) in bytes; remaining already sets aside the
        unwritten rest of every block being written."""
        reserved = sum(max(0, self.block_size_bytes - w.bytes_written) for w in list(self._writers.values()))
        disk = shutil.disk_usage(self.data_dir)
        if self.capacity_limit_bytes > 0:
            capacity = self.capacity_limit_bytes
            remaining = min(capacity - self.used_bytes, disk.free)
        else:
            capacity, remaining = disk.total, disk.free
        return capacity, self.used_bytes, max(0, remaining - reserved)

    # ---- writes -----------------------------------------------------------------

    def create(self, block_id: int, genstamp: int, chunk_size: int) -> "ReplicaWriter":
        """A new replica in rbw/. FileExists if a good copy is here or being written,
        DiskFull if less than one block of space is left."""
        check_block_id(block_id)
        check_genstamp(genstamp)
        if not meta_format.valid_chunk_size(chunk_size):
            raise errors.InvalidArgument(f"block {block_id}: invalid chunk size {chunk_size}")
        with self._lock:
            if block_id in self._writers:
                raise errors.FileExists(f"block {block_id}: replica is being written")
            old = self._replicas.get(block_id)
            if old is not None and old.state == FINALIZED and old.genstamp >= genstamp:
                raise errors.FileExists(f"block {block_id}: replica already exists")
            remaining = self.capacity()[2]
            if remaining < self.block_size_bytes:
                raise errors.DiskFull(
                    f"block {block_id}: disk full ({remaining} bytes left, a block needs "
                    f"{self.block_size_bytes})")
            if old is not None:
                self._remove_locked(old)
            replica = Replica(block_id, genstamp, 0, RBW, self.rbw_dir / f"blk_{block_id}",
                              self.rbw_dir / f"blk_{block_id}_{genstamp}.meta", chunk_size)
            writer = ReplicaWriter(self, replica)
            self._replicas[block_id] = replica
            self._writers[block_id] = writer
            return writer

    def recover(self, block_id: int, genstamp: int, length: int, chunk_size: int) -> "ReplicaWriter":
        """Pipeline recovery: this node's replica of block_id (being written or finalized,
        an older genstamp, at least `length` bytes) is cut to `length`, takes
        `genstamp`, goes back to rbw/ and is opened for appending at `length`.
        A running writer of the broken pipeline is stopped first. With no replica and
        length 0 a new one is created. ReplicaNotFound / PreconditionFailed when the
        replica cannot continue the block."""
        check_block_id(block_id)
        check_genstamp(genstamp)
        with self._lock:
            old = self._replicas.get(block_id)
            if old is None and length == 0:
                return self.create(block_id, genstamp, chunk_size)
            if old is None or old.state == CORRUPT:
                raise errors.ReplicaNotFound(f"block {block_id}: no usable replica to recover")
            if old.genstamp >= genstamp:
                raise errors.PreconditionFailed(
                    f"block {block_id}: replica genstamp {old.genstamp} is not older than {genstamp}")
            if old.chunk_size != chunk_size or length % chunk_size:
                raise errors.PreconditionFailed(
                    f"block {block_id}: cannot resume at {length} with chunk size {chunk_size} "
                    f"(replica chunk size {old.chunk_size})")
            if old.length < length:
                raise errors.PreconditionFailed(
                    f"block {block_id}: replica has {old.length} bytes, fewer than the {length} acked")
            running = self._writers.pop(block_id, None)
            if running is not None:
                running.close()
            before = self._replica_bytes(old)
            block_path = self.rbw_dir / f"blk_{block_id}"
            meta_path = self.rbw_dir / f"blk_{block_id}_{genstamp}.meta"
            os.truncate(old.block_path, length)
            os.truncate(old.meta_path, meta_format.checksum_offset(chunk_count(length, chunk_size)))
            # A crash before both renames are done leaves files the start-up scan finds
            # without their partner (corrupt) or with the old genstamp (stale): either
            # way the NameNode has the copy deleted. Nothing is lost: the write resumes
            # on the other nodes of the pipeline.
            os.rename(old.meta_path, meta_path)
            if old.block_path != block_path:
                os.rename(old.block_path, block_path)
            fsync_dir(self.rbw_dir)
            if old.finalized:
                fsync_dir(old.block_path.parent)
            # A new Replica object: the stopped writer's clean-up must not touch it.
            replica = Replica(block_id, genstamp, length, RBW, block_path, meta_path, chunk_size)
            self._replicas[block_id] = replica
            self.used_bytes += self._replica_bytes(replica) - before
            writer = ReplicaWriter(self, replica, resume=True)
            self._writers[block_id] = writer
            log.info("block %d: recovered at %d bytes with genstamp %d (was %d)",
                     block_id, length, genstamp, old.genstamp)
            return writer

    def _finalize_paths(self, replica: Replica) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
        sub = self.finalized_dir / f"{replica.block_id % FINALIZED_SUBDIRS:02x}"
        return sub, sub / replica.block_path.name, sub / replica.meta_path.name

    def _writer_done(self, writer: "ReplicaWriter", removed: bool) -> None:
        with self._lock:
            if self._writers.get(writer.replica.block_id) is writer:
                del self._writers[writer.replica.block_id]
            if removed and self._replicas.get(writer.replica.block_id) is writer.replica:
                del self._replicas[writer.replica.block_id]

    def _account(self, delta: int) -> None:
        with self._lock:
            self.used_bytes += delta

    def check_space(self, extra_bytes: int) -> None:
        """Simulates ENOSPC when a configured capacity would be exceeded."""
        if self.capacity_limit_bytes > 0 and self.used_bytes + extra_bytes > self.capacity_limit_bytes:
            raise OSError(errno.ENOSPC, "no space left (capacity_bytes reached)")

    # ---- reads, deletes, corruption ------------------------------------------------

    def open_reader(self, block_id: int, genstamp: int) -> "ReplicaReader":
        """A reader of a replica at least as new as genstamp; ReplicaNotFound or
        ChecksumError (corrupt replica) otherwise."""
        replica = self.get(block_id)
        if replica is None:
            raise errors.ReplicaNotFound(f"block {block_id}: no replica on this node")
        if replica.state == CORRUPT:
            raise errors.ChecksumError(f"block {block_id}: replica is corrupt: {replica.reason}")
        if replica.genstamp < genstamp:
            raise errors.ReplicaNotFound(
                f"block {block_id}: replica genstamp {replica.genstamp} is older than {genstamp}")
        return ReplicaReader(replica)

    def delete(self, block_id: int, genstamp: int) -> Replica | None:
        """Removes the replica (any genstamp <= genstamp) and returns it, or None."""
        check_block_id(block_id)
        with self._lock:
            replica = self._replicas.get(block_id)
            if replica is None or replica.genstamp > genstamp:
                return None
            writer = self._writers.pop(block_id, None)
            if writer is not None:
                writer.close()
            self._remove_locked(replica)
            return replica

    def mark_corrupt(self, block_id: int, reason: str) -> Replica | None:
        with self._lock:
            replica = self._replicas.get(block_id)
            if replica is not None and replica.state == FINALIZED:
                replica.state, replica.reason = CORRUPT, reason
                log.warning("block %d: replica is corrupt: %s", block_id, reason)
            return replica

    def _remove_locked(self, replica: Replica) -> None:
        self.used_bytes -= self._replica_bytes(replica)
        for path in (replica.block_path, replica.meta_path):
            if path is not None:
                path.unlink(missing_ok=True)
        if self._replicas.get(replica.block_id) is replica:
            del self._replicas[replica.block_id]

    @staticmethod
    def _replica_bytes(replica: Replica) -> int:
        total = 0
        for path in (replica.block_path, replica.meta_path):
            try:
                total += path.stat().st_size if path is not None else 0
            except FileNotFoundError:
                pass
        return total


def _metas_by_id(folder: pathlib.Path) -> dict[int, list[tuple[int, pathlib.Path]]]:
    found: dict[int, list[tuple[int, pathlib.Path]]] = {}
    for path in folder.iterdir():
        match = _META_RE.match(path.name)
        if match:
            found.setdefault(int(match.group(1)), []).append((int(match.group(2)), path))
    return found


class ReplicaWriter:
    """Appends packets to one rbw replica; finalize() makes it durable and visible."""

    def __init__(self, storage: Storage, replica: Replica, resume: bool = False) -> None:
        """A new, empty replica; with resume, appends to the replica's files as they
        are (pipeline recovery has cut them to replica.length)."""
        self.storage = storage
        self.replica = replica
        self.bytes_written = replica.length if resume else 0
        self.unsynced_bytes = 0
        flags = os.O_WRONLY | os.O_APPEND if resume else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        self._block_fd: int | None = os.open(replica.block_path, flags, 0o644)
        try:
            self._meta_fd: int | None = os.open(replica.meta_path, flags, 0o644)
        except OSError:
            os.close(self._block_fd)
            raise
        if not resume:
            header = meta_format.encode_header(replica.chunk_size)
            write_all(self._meta_fd, header)
            storage._account(len(header))

    def write(self, offset: int, data: bytes | memoryview, checksums: list[int]) -> None:
        """Appends data (whole chunks but maybe the last) and their checksums.
        Raises OSError (ENOSPC included) on I/O failure."""
        if self._block_fd is None or self._meta_fd is None:
            raise OSError(errno.EBADF, f"block {self.replica.block_id}: replica was closed")
        if offset != self.bytes_written:
            raise errors.InvalidArgument(
                f"block {self.replica.block_id}: offset {offset} but {self.bytes_written} bytes received")
        meta = meta_format.encode_checksums(checksums)
        self.storage.check_space(len(data) + len(meta))
        write_all(self._block_fd, data)
        # Data before its checksums: a crash leaves a block ahead of its meta, which
        # start-up trims to what the meta covers (meta_format.rbw_length).
        write_all(self._meta_fd, meta)
        self.bytes_written += len(data)
        self.unsynced_bytes += len(data)
        self.storage._account(len(data) + len(meta))
        self.replica.length = self.bytes_written

    def start_writeback(self) -> None:
        """Flushes what is written so far (blocking; run off the event loop while the
        stream goes on), so the disk works during the stream and finalize's fsync
        has little left to do."""
        fd = self._block_fd
        self.unsynced_bytes = 0
        if fd is not None:
            try:
                os.fdatasync(fd)
            except OSError:
                pass  # closed meanwhile or a real I/O error, which finalize's fsync reports

    def finalize(self) -> Replica:
        """fsync, move both files into finalized/, fsync the directories. Blocking."""
        replica = self.replica
        if self._block_fd is None or self._meta_fd is None:
            raise OSError(errno.EBADF, f"block {replica.block_id}: replica was closed")
        os.fsync(self._block_fd)
        os.fsync(self._meta_fd)
        self._close_fds()
        sub, block_target, meta_target = self.storage._finalize_paths(replica)
        if not sub.is_dir():
            sub.mkdir(exist_ok=True)
            fsync_dir(self.storage.finalized_dir)
        os.rename(replica.meta_path, meta_target)
        os.rename(replica.block_path, block_target)
        fsync_dir(sub)
        fsync_dir(self.storage.rbw_dir)
        replica.block_path, replica.meta_path = block_target, meta_target
        replica.state = FINALIZED
        self.storage._writer_done(self, removed=False)
        return replica

    def abort(self) -> None:
        """Closes and removes the replica (a failed write: checksum, disk full, I/O)."""
        self._close_fds()
        with self.storage._lock:
            if self.storage._replicas.get(self.replica.block_id) is self.replica:
                self.storage._remove_locked(self.replica)
        self.storage._writer_done(self, removed=True)

    def close(self) -> None:
        """Closes, leaving the replica in rbw/ for recovery (stream ended without `last`)."""
        self._close_fds()
        self.storage._writer_done(self, removed=False)

    def _close_fds(self) -> None:
        for name in ("_block_fd", "_meta_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)


class ReplicaReader:
    """Reads chunk-aligned ranges of a replica with their stored checksums."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self.chunk_size = replica.chunk_size
        self._block_fd = os.open(replica.block_path, os.O_RDONLY)
        try:
            self._meta_fd = os.open(replica.meta_path, os.O_RDONLY)
        except OSError:
            os.close(self._block_fd)
            raise

    @property
    def length(self) -> int:
        return self.replica.length

    def read(self, offset: int, size: int) -> tuple[bytes, list[int]]:
        """size bytes from offset (a chunk boundary) and their checksums."""
        data = os.pread(self._block_fd, size, offset)
        first = offset // self.chunk_size
        count = chunk_count(len(data), self.chunk_size)
        raw = os.pread(self._meta_fd, count * meta_format.CHECKSUM_BYTES,
                       meta_format.checksum_offset(first))
        if len(raw) != count * meta_format.CHECKSUM_BYTES:
            raise errors.ChecksumError(f"block {self.replica.block_id}: meta file is truncated")
        return data, meta_format.decode_checksums(raw)

    def close(self) -> None:
        os.close(self._block_fd)
        os.close(self._meta_fd)
