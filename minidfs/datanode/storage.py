"""Replica storage on a DataNode's local disks: files, the replica map, capacity,
volume health.

One replica map over every volume (data dir, volume.py). Layout under each
(see docs/datanode.md):

    in_use.lock                          flock'ed while a DataNode owns the folder
    current/rbw/blk_<id>                 a replica being written
    current/rbw/blk_<id>_<gs>.meta       its checksums (meta_format.py)
    current/finalized/<id % 256:02x>/... finalized replicas, same two files

A new replica goes to the volume with the most room (volume_choice.py). A replica
whose files turn out to be gone, or a volume whose I/O fails, is taken out of the
map at once and handed to `on_lost` (the NameNode link reports it, so the block is
re-replicated); a failed volume stays out of service, and once more than
failed_volumes_tolerated have failed `on_too_many_failed` is called (the DataNode
stops).

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
import logging
import os
import pathlib
import threading
from dataclasses import dataclass
from typing import Callable

from minidfs import errors
from minidfs.durable import fsync_dir, pwrite_all, write_all
from minidfs.checksum import checksum_chunks, chunk_count
from minidfs.datanode import disk_diff, meta_format, volume_choice
from minidfs.datanode.direct_io import DirectFile, DirectReader
from minidfs.datanode.volume import BLOCK_RE as _BLOCK_RE, META_RE as _META_RE, Volume

log = logging.getLogger("minidfs.datanode.storage")

MAX_BLOCK_ID = 2**63 - 1
MAX_GENSTAMP = 2**63 - 1

FINALIZED = "finalized"
RBW = "rbw"
CORRUPT = "corrupt"
# What ranks higher when two volumes hold the same block (a copy left behind by
# an interrupted move between disks, or a restored backup).
_STATE_RANK = {FINALIZED: 2, RBW: 1, CORRUPT: 0}


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
    volume: Volume | None = None

    @property
    def finalized(self) -> bool:
        return self.state == FINALIZED


class Storage:
    def __init__(self, data_dirs: pathlib.Path | list[pathlib.Path], *, block_size_bytes: int,
                 capacity_bytes: int = 0, failed_volumes_tolerated: int = 0,
                 direct_io: bool = True) -> None:
        """direct_io: replica block files bypass the page cache (direct_io.py)."""
        dirs = [data_dirs] if isinstance(data_dirs, (str, os.PathLike)) else list(data_dirs)
        self.volumes = [Volume(pathlib.Path(d), i) for i, d in enumerate(dirs)]
        self.block_size_bytes = block_size_bytes
        self.capacity_limit_bytes = capacity_bytes
        self.failed_volumes_tolerated = failed_volumes_tolerated
        self.direct_io = direct_io
        self.used_bytes = 0
        self._replicas: dict[int, Replica] = {}
        self._writers: dict[int, ReplicaWriter] = {}
        self._lock = threading.RLock()  # delete() closes a writer, which re-enters
        self._turn = 0                  # volume_choice tie-breaker
        # Set by the DataNode; called from whichever thread found the loss.
        self.on_lost: Callable[[list[Replica], str], None] = lambda replicas, why: None
        self.on_corrupt: Callable[[list[Replica]], None] = lambda replicas: None
        self.on_too_many_failed: Callable[[str], None] = lambda why: None

    # ---- start-up -------------------------------------------------------------

    def open(self) -> None:
        """Takes every volume's lock, creates the layouts and scans every replica. A
        volume that cannot be used starts failed; ConfigError when more than
        failed_volumes_tolerated (or all) are, or a folder is another node's."""
        for volume in self.volumes:
            try:
                volume.open()
            except errors.ConfigError:
                self.close()
                raise
            except OSError as e:
                volume.fail(str(e))
                log.error("volume %s failed at start-up: %s", volume.root, e)
        why = self._too_many_failed()
        if why:
            self.close()
            raise errors.ConfigError(why)
        for volume in self.healthy_volumes():
            self._scan_finalized(volume)
            self._scan_rbw(volume)
        self.used_bytes = sum(self._replica_bytes(r) for r in self._replicas.values())

    def close(self) -> None:
        for writer in list(self._writers.values()):
            writer.close()
        for volume in self.volumes:
            volume.close()

    def _scan_finalized(self, volume: Volume) -> None:
        for sub in sorted(p for p in volume.finalized_dir.iterdir() if p.is_dir()):
            metas = _metas_by_id(sub)
            for path in sub.iterdir():
                match = _BLOCK_RE.match(path.name)
                if match:
                    block_id = int(match.group(1))
                    self._add_scanned(self._load_finalized(volume, block_id, path,
                                                           metas.pop(block_id, [])))
            for block_id, found in metas.items():
                rbw_block = volume.rbw_dir / f"blk_{block_id}"
                if rbw_block.exists():
                    # A finalize interrupted between its two renames: finish it.
                    target = sub / rbw_block.name
                    os.rename(rbw_block, target)
                    fsync_dir(sub)
                    fsync_dir(volume.rbw_dir)
                    log.info("block %d: completed an interrupted finalize", block_id)
                    self._add_scanned(self._load_finalized(volume, block_id, target, found))
                else:
                    log.warning("block %d: meta without a block file in %s, ignored", block_id, sub)

    def _scan_rbw(self, volume: Volume) -> None:
        metas = _metas_by_id(volume.rbw_dir)
        for path in volume.rbw_dir.iterdir():
            match = _BLOCK_RE.match(path.name)
            if not match:
                continue
            block_id = int(match.group(1))
            found = metas.pop(block_id, [])
            existing = self._replicas.get(block_id)
            if existing is not None and existing.volume is volume and existing.state == FINALIZED:
                log.info("block %d: dropping a stale rbw copy of a finalized replica", block_id)
                for stale in [path, *(m for _, m in found)]:
                    stale.unlink(missing_ok=True)
                continue
            self._add_scanned(self._load_rbw(volume, block_id, path, found))

    @staticmethod
    def _load_finalized(volume: Volume, block_id: int, path: pathlib.Path,
                        metas: list[tuple[int, pathlib.Path]]) -> Replica:
        size = path.stat().st_size
        if not metas:
            return Replica(block_id, 0, size, CORRUPT, path, None, reason="no meta file", volume=volume)
        genstamp, meta_path = max(metas)
        try:
            meta = meta_format.decode_finalized(meta_path.read_bytes(), size)
        except meta_format.MetaCorrupt as e:
            return Replica(block_id, genstamp, size, CORRUPT, path, meta_path, reason=str(e),
                           volume=volume)
        return Replica(block_id, genstamp, size, FINALIZED, path, meta_path, meta.chunk_size,
                       volume=volume)

    @staticmethod
    def _load_rbw(volume: Volume, block_id: int, path: pathlib.Path,
                  metas: list[tuple[int, pathlib.Path]]) -> Replica:
        size = path.stat().st_size
        if not metas:
            return Replica(block_id, 0, size, CORRUPT, path, None, reason="no meta file", volume=volume)
        genstamp, meta_path = max(metas)
        try:
            meta, length = meta_format.rbw_length(meta_path.read_bytes(), size)
        except meta_format.MetaCorrupt as e:
            return Replica(block_id, genstamp, size, CORRUPT, path, meta_path, reason=str(e),
                           volume=volume)
        return Replica(block_id, genstamp, length, RBW, path, meta_path, meta.chunk_size,
                       volume=volume)

    def _add_scanned(self, replica: Replica) -> None:
        if replica.state == CORRUPT:
            log.warning("block %d: replica is corrupt: %s", replica.block_id, replica.reason)
        old = self._replicas.get(replica.block_id)
        if old is not None and old.volume is not replica.volume:
            # The same block on two volumes: serve the better copy, leave the other's
            # files alone (the NameNode counts one replica per node either way).
            keep = max((old, replica), key=lambda r: (r.genstamp, _STATE_RANK[r.state]))
            other = replica if keep is old else old
            log.warning("block %d: on two volumes, using %s, ignoring the copy in %s",
                        replica.block_id, keep.block_path, other.block_path)
            replica = keep
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

    def healthy_volumes(self) -> list[Volume]:
        return [v for v in self.volumes if not v.failed]

    def failed_volumes(self) -> list[Volume]:
        return [v for v in self.volumes if v.failed]

    def _reserved_bytes(self, volume: Volume | None = None) -> int:
        """The unwritten rest of every block being written (to `volume`, or anywhere)."""
        return sum(max(0, self.block_size_bytes - w.bytes_written) for w in list(self._writers.values())
                   if volume is None or w.replica.volume is volume)

    def _usage(self) -> dict[int, tuple[int, int, list[Volume]]]:
        """file system id -> (total, free, its healthy volumes): several data dirs on
        one file system share its space and must not count it twice."""
        usage: dict[int, tuple[int, int, list[Volume]]] = {}
        for volume in self.healthy_volumes():
            try:
                dev, total, free = volume.disk_usage()
            except OSError:
                continue  # the next check fails the volume
            usage.setdefault(dev, (total, free, []))[2].append(volume)
        return usage

    def capacity(self) -> tuple[int, int, int]:
        """(capacity, used, remaining) in bytes over the healthy volumes; remaining
        already sets aside the unwritten rest of every block being written."""
        usage = self._usage().values()
        total = sum(t for t, _, _ in usage)
        free = sum(f for _, f, _ in usage)
        if self.capacity_limit_bytes > 0:
            capacity = self.capacity_limit_bytes
            remaining = min(capacity - self.used_bytes, free)
        else:
            capacity, remaining = total, free
        return capacity, self.used_bytes, max(0, remaining - self._reserved_bytes())

    def volume_reports(self) -> list[dict]:
        """Per volume: path, failure ('' when healthy), replicas, and its file
        system's capacity and free bytes (shared by data dirs on one file system)."""
        counts: dict[int, int] = {}
        for replica in self.replicas():
            if replica.volume is not None:
                counts[replica.volume.index] = counts.get(replica.volume.index, 0) + 1
        reports = []
        for volume in self.volumes:
            capacity = free = 0
            if not volume.failed:
                try:
                    _, capacity, free = volume.disk_usage()
                except OSError:
                    pass
            reports.append({"path": str(volume.root), "failure": volume.failure,
                            "replicas": counts.get(volume.index, 0),
                            "capacity": capacity, "remaining": free})
        return reports

    def _choose_volume(self, block_id: int) -> Volume:
        rooms = []
        for total_free_volumes in self._usage().values():
            _, free, volumes = total_free_volumes
            shared_reserve = sum(self._reserved_bytes(v) for v in volumes)
            rooms += [volume_choice.VolumeRoom(v.index, free, shared_reserve) for v in volumes]
        self._turn += 1
        index = volume_choice.choose(rooms, self.block_size_bytes, self._turn)
        if index is None:
            raise errors.DiskFull(f"block {block_id}: no volume has room for a block "
                                  f"({self.block_size_bytes} bytes)")
        return self.volumes[index]

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
            volume = self._choose_volume(block_id)
            if old is not None:
                self._remove_locked(old)
            replica = Replica(block_id, genstamp, 0, RBW, volume.rbw_dir / f"blk_{block_id}",
                              volume.rbw_dir / f"blk_{block_id}_{genstamp}.meta", chunk_size,
                              volume=volume)
            try:
                writer = ReplicaWriter(self, replica)
            except OSError:
                self.check_volume(volume)
                raise
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
            if old.chunk_size != chunk_size:
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
            volume = old.volume
            block_path = volume.rbw_dir / f"blk_{block_id}"
            meta_path = volume.rbw_dir / f"blk_{block_id}_{genstamp}.meta"
            _cut(old.block_path, old.meta_path, length, chunk_size, not old.finalized)
            # A crash before both renames are done leaves files the start-up scan finds
            # without their partner (corrupt) or with the old genstamp (stale): either
            # way the NameNode has the copy deleted. Nothing is lost: the write resumes
            # on the other nodes of the pipeline.
            os.rename(old.meta_path, meta_path)
            if old.block_path != block_path:
                os.rename(old.block_path, block_path)
            fsync_dir(volume.rbw_dir)
            if old.finalized:
                fsync_dir(old.block_path.parent)
            # A new Replica object: the stopped writer's clean-up must not touch it.
            replica = Replica(block_id, genstamp, length, RBW, block_path, meta_path, chunk_size,
                              volume=volume)
            self._replicas[block_id] = replica
            self.used_bytes += self._replica_bytes(replica) - before
            writer = ReplicaWriter(self, replica, resume=True)
            self._writers[block_id] = writer
            log.info("block %d: recovered at %d bytes with genstamp %d (was %d)",
                     block_id, length, genstamp, old.genstamp)
            return writer

    def finalize_recovery(self, block_id: int, old_genstamp: int, genstamp: int,
                          length: int) -> Replica:
        """Lease recovery: the replica of block_id (genstamp >= old_genstamp, at least
        `length` bytes) is cut to `length` and finalized under `genstamp`. Done
        already (a retried command): the finalized replica as it is. Blocking."""
        check_block_id(block_id)
        with self._lock:
            old = self._replicas.get(block_id)
            if old is not None and old.finalized and old.genstamp == genstamp and old.length == length:
                return old
            if old is None or old.genstamp < old_genstamp:
                raise errors.ReplicaNotFound(f"block {block_id}: no replica to recover here")
            writer = self.recover(block_id, genstamp, length, old.chunk_size)
        try:
            return writer.finalize()
        except OSError:
            writer.close()
            raise

    @staticmethod
    def _finalize_paths(replica: Replica) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
        sub = replica.volume.finalized_subdir(replica.block_id)
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
        ChecksumError (corrupt replica) otherwise, also when its files cannot be
        opened (io_failed)."""
        replica = self.get(block_id)
        if replica is None:
            raise errors.ReplicaNotFound(f"block {block_id}: no replica on this node")
        if replica.state == CORRUPT:
            raise errors.ChecksumError(f"block {block_id}: replica is corrupt: {replica.reason}")
        if replica.genstamp < genstamp:
            raise errors.ReplicaNotFound(
                f"block {block_id}: replica genstamp {replica.genstamp} is older than {genstamp}")
        try:
            return ReplicaReader(replica, self.visible_length(replica), direct_io=self.direct_io)
        except OSError as e:
            raise self.io_failed(replica, e) from None

    def visible_length(self, replica: Replica) -> int:
        """What a reader may see: all of a finalized replica; of one being written,
        what the rest of its pipeline acknowledged (at least every hflushed byte)."""
        with self._lock:
            writer = self._writers.get(replica.block_id)
        if writer is not None and writer.replica is replica and not replica.finalized:
            return min(writer.visible_length, replica.length)
        return replica.length

    # ---- lost replicas, failed volumes -------------------------------------------

    def io_failed(self, replica: Replica, error: OSError) -> errors.MinidfsError:
        """A file operation on replica's files failed: checks its volume; a failed
        volume is taken out of service, else a replica whose file is gone is lost,
        else (one file failing on a healthy volume) the replica is corrupt and handed
        to on_corrupt (kept in the map, so the NameNode replaces it and then has it
        deleted, rather than a lost one that a later scan would find again).
        Blocking. Returns the error for the caller to raise: ReplicaNotFound (gone)
        or ChecksumError (corrupt)."""
        block_id = replica.block_id
        volume = replica.volume
        if volume is not None and self.check_volume(volume):
            return errors.ReplicaNotFound(f"block {block_id}: its volume failed: {volume.failure}")
        if isinstance(error, FileNotFoundError):
            self.replica_lost(replica, "replica file is missing from the disk")
            return errors.ReplicaNotFound(f"block {block_id}: replica file is missing from the disk")
        why = f"replica file unreadable: {error.strerror or error}"
        if self.mark_corrupt(block_id, why) is replica:
            self.on_corrupt([replica])
        return errors.ChecksumError(f"block {block_id}: {why}")

    def check_volume(self, volume: Volume) -> bool:
        """Checks a volume after an I/O error and fails it if it is unusable; True if
        it is (or already was) failed. Blocking."""
        if volume.failed:
            return True
        why = volume.check()
        if why:
            self.fail_volume(volume, why)
        return bool(why)

    def replica_lost(self, replica: Replica, why: str) -> bool:
        """Takes a replica whose files are gone out of the map (if it is still the one
        there) and hands it to on_lost; True if it was."""
        with self._lock:
            if self._replicas.get(replica.block_id) is not replica:
                return False
            writer = self._writers.pop(replica.block_id, None)
            if writer is not None:
                writer.close()
            self.used_bytes -= _counted_bytes(replica)
            del self._replicas[replica.block_id]
        log.warning("block %d: replica lost: %s (%s)", replica.block_id, why, replica.block_path)
        self.on_lost([replica], why)
        return True

    def fail_volume(self, volume: Volume, why: str) -> None:
        """Takes the volume out of service: its replicas leave the map (reported lost),
        its writers stop; on_too_many_failed when past the tolerated count."""
        with self._lock:
            if volume.failed:
                return
            volume.fail(why)
            lost = [r for r in self._replicas.values() if r.volume is volume]
            for replica in lost:
                writer = self._writers.pop(replica.block_id, None)
                if writer is not None:
                    writer.close()
                del self._replicas[replica.block_id]
                self.used_bytes -= _counted_bytes(replica)
        log.error("volume %s failed: %s; %d replicas lost, %d of %d volumes failed", volume.root,
                  why, len(lost), len(self.failed_volumes()), len(self.volumes))
        if lost:
            self.on_lost(lost, f"volume {volume.root} failed")
        too_many = self._too_many_failed()
        if too_many:
            self.on_too_many_failed(too_many)

    def _too_many_failed(self) -> str | None:
        failed = self.failed_volumes()
        if len(failed) > self.failed_volumes_tolerated or len(failed) == len(self.volumes):
            return (f"{len(failed)} of {len(self.volumes)} volumes failed "
                    f"(failed_volumes_tolerated = {self.failed_volumes_tolerated}): "
                    + "; ".join(v.failure for v in failed))
        return None

    # ---- the directory scanner's findings ------------------------------------------

    def known_finalized(self, volume: Volume) -> tuple[dict[int, disk_diff.Known], set[int]]:
        """(finalized replicas on volume, ids held otherwise) for disk_diff.diff."""
        known, elsewhere = {}, set()
        with self._lock:
            for replica in self._replicas.values():
                if replica.volume is volume and replica.state == FINALIZED:
                    known[replica.block_id] = disk_diff.Known(replica.genstamp, replica.length,
                                                              replica.chunk_size)
                else:
                    elsewhere.add(replica.block_id)
        return known, elsewhere

    def apply_finding(self, volume: Volume, finding: disk_diff.Finding) -> tuple[str, Replica] | None:
        """Checks a finding again against the map and the files, then acts on it:
        ("lost", replica) taken out of the map, ("corrupt", replica) marked, or
        ("adopted", replica) added; None when it no longer holds. Blocking."""
        with self._lock:
            if finding.kind == disk_diff.UNKNOWN:
                return self._adopt(volume, finding.block_id)
            replica = self._replicas.get(finding.block_id)
            if replica is None or replica.volume is not volume or replica.state != FINALIZED:
                return None
            why = _replica_problem(replica)
            if why is None:
                return None
            if finding.kind == disk_diff.MISSING and not replica.block_path.exists():
                self.replica_lost(replica, why)
                return "lost", replica
            self.mark_corrupt(replica.block_id, why)
            return "corrupt", replica

    def _adopt(self, volume: Volume, block_id: int) -> tuple[str, Replica] | None:
        if block_id in self._replicas:
            return None
        sub = volume.finalized_subdir(block_id)
        path = sub / f"blk_{block_id}"
        try:
            replica = self._load_finalized(volume, block_id, path, _metas_by_id(sub).get(block_id, []))
        except FileNotFoundError:
            return None
        self._replicas[block_id] = replica
        self.used_bytes += self._replica_bytes(replica)
        log.info("block %d: found on disk, not in the replica map: %s replica adopted (%s)",
                 block_id, replica.state, path)
        return ("corrupt" if replica.state == CORRUPT else "adopted"), replica

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


def _cut(block_path: pathlib.Path, meta_path: pathlib.Path, length: int, chunk_size: int,
         being_written: bool) -> None:
    """Cuts a replica's files to `length` bytes. A cut inside a chunk gives that chunk
    the checksum of what is left of it (its bytes were verified on arrival). So does
    the last chunk of a replica being written, whatever its length: a crash in the
    middle of rewriting its short last chunk (hflush, append) leaves the longer bytes
    beside the shorter checksum."""
    os.truncate(block_path, length)
    count = chunk_count(length, chunk_size)
    os.truncate(meta_path, meta_format.checksum_offset(count))
    tail = length % chunk_size or (chunk_size if being_written and length else 0)
    if tail:
        with open(block_path, "rb") as f:
            f.seek(length - tail)
            rest = f.read(tail)
        fd = os.open(meta_path, os.O_WRONLY)
        try:
            pwrite_all(fd, meta_format.encode_checksums(checksum_chunks(rest, chunk_size)),
                       meta_format.checksum_offset(count - 1))
        finally:
            os.close(fd)


def _counted_bytes(replica: Replica) -> int:
    """What used_bytes counts for a replica whose files may be gone already: its
    block plus a meta covering it."""
    if replica.meta_path is None or not replica.chunk_size:
        return replica.length
    return replica.length + disk_diff.expected_meta_bytes(replica.length, replica.chunk_size)


def _replica_problem(replica: Replica) -> str | None:
    """Why a finalized replica's files no longer match it, or None."""
    try:
        block_bytes = os.stat(replica.block_path).st_size
    except FileNotFoundError:
        return "block file is missing from the disk"
    try:
        meta_bytes = os.stat(replica.meta_path).st_size
    except FileNotFoundError:
        return "meta file is missing from the disk"
    if block_bytes != replica.length:
        return f"block file has {block_bytes} bytes, the replica {replica.length}"
    expected = disk_diff.expected_meta_bytes(replica.length, replica.chunk_size)
    if meta_bytes != expected:
        return f"meta file has {meta_bytes} bytes, expected {expected}"
    return None


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
        # Bytes the rest of the pipeline acknowledged too (write_pipeline.py): what a
        # reader may see of this replica while it is written (HDFS's visible length).
        self.visible_length = self.bytes_written
        self.unsynced_bytes = 0
        # Positioned writes (pwrite), not O_APPEND: after an hflush or an append the
        # short last chunk is written again, longer, with its new checksum.
        flags = os.O_WRONLY if resume else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        self._block_fd: int | None = os.open(replica.block_path, flags, 0o644)
        self._direct: DirectFile | None = None
        try:
            self._meta_fd: int | None = os.open(replica.meta_path, flags, 0o644)
            # The block's data bypasses the page cache where the file system allows
            # (direct_io.py: the page cache cost more CPU than the network path).
            self._direct = DirectFile.open(replica.block_path) if storage.direct_io else None
        except OSError:
            os.close(self._block_fd)
            if getattr(self, "_meta_fd", None) is not None:
                os.close(self._meta_fd)
            raise
        if not resume:
            header = meta_format.encode_header(replica.chunk_size)
            write_all(self._meta_fd, header)
            storage._account(len(header))

    def write(self, offset: int, data: bytes | memoryview, checksums: list[int]) -> None:
        """Appends data (whole chunks but maybe the last) and their checksums.
        Raises OSError (ENOSPC included) on I/O failure. Called on the event loop:
        measured, a thread hop per request cost more CPU than the overlap won on a
        2-core machine (docs/datanode.md, "Performance")."""
        if self._block_fd is None or self._meta_fd is None:
            raise OSError(errno.EBADF, f"block {self.replica.block_id}: replica was closed")
        chunk = self.replica.chunk_size
        if offset not in (self.bytes_written, self.bytes_written - self.bytes_written % chunk) or (
                offset + len(data) < self.bytes_written):
            raise errors.InvalidArgument(
                f"block {self.replica.block_id}: offset {offset} but {self.bytes_written} bytes received")
        meta = meta_format.encode_checksums(checksums)
        meta_at = meta_format.checksum_offset(offset // chunk)
        grown = offset + len(data) - self.bytes_written
        grown_meta = max(0, meta_at + len(meta) - meta_format.checksum_offset(
            chunk_count(self.bytes_written, chunk)))
        self.storage.check_space(grown + grown_meta)
        view = memoryview(data)
        direct = self._direct.write(view, offset) if self._direct is not None else 0
        if direct < len(view):
            pwrite_all(self._block_fd, view[direct:], offset + direct)
        # Data before its checksums: a crash leaves a block ahead of its meta, which
        # start-up trims to what the meta covers (meta_format.rbw_length). A short
        # last chunk rewritten (hflush, append) keeps its bytes: only more follow.
        pwrite_all(self._meta_fd, meta, meta_at)
        self.bytes_written = offset + len(data)
        self.unsynced_bytes += len(data)
        self.storage._account(grown + grown_meta)
        self.replica.length = self.bytes_written

    def sync(self) -> None:
        """hsync: the block and meta files on disk now (blocking)."""
        if self._block_fd is None or self._meta_fd is None:
            raise OSError(errno.EBADF, f"block {self.replica.block_id}: replica was closed")
        os.fsync(self._block_fd)
        os.fsync(self._meta_fd)
        self.unsynced_bytes = 0

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
            fsync_dir(replica.volume.finalized_dir)
        os.rename(replica.meta_path, meta_target)
        os.rename(replica.block_path, block_target)
        fsync_dir(sub)
        fsync_dir(replica.volume.rbw_dir)
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
        if self._direct is not None:
            self._direct.close()
            self._direct = None


class ReplicaReader:
    """Reads chunk-aligned ranges of a replica with their stored checksums."""

    def __init__(self, replica: Replica, length: int | None = None, direct_io: bool = False) -> None:
        """`length`: how much of the replica to serve (a replica being written: its
        visible length); all of it by default."""
        self.replica = replica
        self.chunk_size = replica.chunk_size
        self._length = replica.length if length is None else length
        self._block_fd = os.open(replica.block_path, os.O_RDONLY)
        self._direct: DirectReader | None = None
        try:
            self._meta_fd = os.open(replica.meta_path, os.O_RDONLY)
            # direct_io.py: why
            self._direct = DirectReader.open(replica.block_path) if direct_io else None
        except OSError:
            os.close(self._block_fd)
            if getattr(self, "_meta_fd", None) is not None:
                os.close(self._meta_fd)
            raise

    @property
    def length(self) -> int:
        return self._length

    def read(self, offset: int, size: int) -> tuple[bytes, list[int]]:
        """size bytes from offset (a chunk boundary) and their checksums."""
        data = self._direct.read(size, offset) if self._direct is not None else None
        if data is None:
            data = os.pread(self._block_fd, size, offset)
        first = offset // self.chunk_size
        count = chunk_count(len(data), self.chunk_size)
        raw = os.pread(self._meta_fd, count * meta_format.CHECKSUM_BYTES,
                       meta_format.checksum_offset(first))
        if len(raw) != count * meta_format.CHECKSUM_BYTES:
            raise errors.ChecksumError(f"block {self.replica.block_id}: meta file is truncated")
        checksums = meta_format.decode_checksums(raw)
        tail = len(data) % self.chunk_size
        if tail and not self.replica.finalized:
            # A replica being written: its short last chunk may be rewritten longer
            # right now (hflush, append), its stored checksum then covering more than
            # was read. The bytes were verified when they arrived; HDFS's DataNode
            # likewise serves the last partial chunk with a checksum of its own.
            checksums[-1] = checksum_chunks(memoryview(data)[len(data) - tail:], self.chunk_size)[0]
        return data, checksums

    def checksums(self) -> list[int]:
        """Every stored chunk checksum of the replica, from its meta file alone."""
        count = chunk_count(self.replica.length, self.chunk_size)
        raw = os.pread(self._meta_fd, count * meta_format.CHECKSUM_BYTES,
                       meta_format.checksum_offset(0))
        if len(raw) != count * meta_format.CHECKSUM_BYTES:
            raise errors.ChecksumError(f"block {self.replica.block_id}: meta file is truncated")
        return meta_format.decode_checksums(raw)

    def close(self) -> None:
        os.close(self._block_fd)
        os.close(self._meta_fd)
        if self._direct is not None:
            self._direct.close()
