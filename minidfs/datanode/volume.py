"""One data dir of a DataNode (a volume, one disk in HDFS's JBOD): its folders,
its lock, its health check and the listing the directory scanner compares.

Owned by storage.py, which keeps one replica map over every volume. Layout under
the volume's root (docs/datanode.md):

    in_use.lock                          flock'ed while a DataNode owns the folder
    current/rbw/blk_<id>[_<gs>.meta]     replicas being written
    current/finalized/<id % 256:02x>/    finalized replicas

`check` is HDFS's disk checker: the root is still the folder opened at start (not
vanished, not replaced, not a file), every folder of the layout can be listed and
is not closed to its owner (mode bits are checked as well as access, because a
DataNode run as root reads a chmod 000 folder regardless), and a probe file can
be written, fsync'ed and removed (read-only file systems and EIO fail here).
Blocking: callers on the event loop run it in a thread.
"""
from __future__ import annotations

import fcntl
import os
import pathlib
import re
import shutil
import stat

from minidfs import errors
from minidfs.datanode.disk_diff import OnDisk
from minidfs.durable import write_all

LOCK_NAME = "in_use.lock"
PROBE_NAME = ".disk_check"
FINALIZED_SUBDIRS = 256
FINALIZED = "finalized"
RBW = "rbw"
OWNER_RWX = stat.S_IRWXU

BLOCK_RE = re.compile(r"^blk_([1-9][0-9]{0,18})$")
META_RE = re.compile(r"^blk_([1-9][0-9]{0,18})_([0-9]{1,19})\.meta$")


class Volume:
    def __init__(self, root: pathlib.Path, index: int) -> None:
        self.root = pathlib.Path(root)
        self.index = index
        self.current = self.root / "current"
        self.rbw_dir = self.current / RBW
        self.finalized_dir = self.current / FINALIZED
        self.failure = ""             # why the volume was taken out of service
        self._lock_fd: int | None = None
        self._identity: tuple[int, int] | None = None   # (st_dev, st_ino) of root

    @property
    def failed(self) -> bool:
        return bool(self.failure)

    def open(self) -> None:
        """Creates the layout and takes the folder lock; ConfigError when another
        DataNode holds it, OSError when the folder cannot be used."""
        for d in (self.root, self.current, self.rbw_dir, self.finalized_dir):
            d.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise errors.ConfigError(f"{self.root}: data folder in use by another DataNode") from None
        self._lock_fd = fd
        st = os.stat(self.root)
        self._identity = (st.st_dev, st.st_ino)
        why = self.check()
        if why:
            self.close()
            raise OSError(why)

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def fail(self, why: str) -> None:
        self.failure = why
        self.close()

    def check(self) -> str | None:
        """Why this volume cannot serve, or None when it is healthy."""
        try:
            st = os.stat(self.root)
        except OSError as e:
            return f"{self.root}: {e.strerror or e}"
        if not stat.S_ISDIR(st.st_mode):
            return f"{self.root}: no longer a folder"
        if self._identity is not None and (st.st_dev, st.st_ino) != self._identity:
            return f"{self.root}: the folder was replaced or unmounted"
        for folder in (self.root, self.current, self.rbw_dir, self.finalized_dir):
            try:
                st = os.stat(folder)
                if not stat.S_ISDIR(st.st_mode):
                    return f"{folder}: not a folder"
                if st.st_uid == os.geteuid() and st.st_mode & OWNER_RWX != OWNER_RWX:
                    return f"{folder}: permission denied (mode {stat.S_IMODE(st.st_mode):03o})"
                os.listdir(folder)
            except OSError as e:
                return f"{folder}: {e.strerror or e}"
        probe = self.current / PROBE_NAME
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                write_all(fd, b"minidfs disk check\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.unlink(probe)
        except OSError as e:
            return f"{self.current}: cannot write: {e.strerror or e}"
        return None

    def disk_usage(self) -> tuple[int, int, int]:
        """(file system id, total bytes, free bytes) of the volume's file system."""
        usage = shutil.disk_usage(self.root)
        return os.stat(self.root).st_dev, usage.total, usage.free

    def finalized_subdir(self, block_id: int) -> pathlib.Path:
        return self.finalized_dir / f"{block_id % FINALIZED_SUBDIRS:02x}"

    def list_finalized(self) -> dict[int, OnDisk]:
        """Every block id with files in finalized/, with their sizes (for disk_diff).
        OSError when the volume cannot be read."""
        found: dict[int, tuple[int | None, dict[int, int]]] = {}
        for sub in os.scandir(self.finalized_dir):
            if not sub.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(sub.path):
                block = BLOCK_RE.match(entry.name)
                meta = META_RE.match(entry.name) if block is None else None
                if block is None and meta is None:
                    continue
                try:
                    size = entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue   # removed while listing
                block_id = int((block or meta).group(1))
                block_bytes, metas = found.get(block_id, (None, {}))
                if block is not None:
                    block_bytes = size
                else:
                    metas[int(meta.group(2))] = size
                found[block_id] = (block_bytes, metas)
        return {block_id: OnDisk(b, m) for block_id, (b, m) in found.items()}
