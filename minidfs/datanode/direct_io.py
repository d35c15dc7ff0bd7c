"""Block-file I/O that bypasses the page cache (O_DIRECT), with a buffered fallback.

Why: on this project's machines (VMs) a buffered write into a *new* file costs
the kernel 1.5-3 ms of CPU per MiB (page-cache pages allocated and first
touched, ext4's delayed allocation, then writeback), while the same bytes
written with O_DIRECT from one reused aligned buffer cost ~0.1 ms/MiB (the
device DMAs from it). A put writes every byte three times on one machine, so
this was the largest single cost of the write path (docs/datanode.md,
"Performance"). HDFS keeps the page cache; a DataNode here does not need it
for the bytes it just received (a reader gets them from the device).

The rules of O_DIRECT: file offset, length and memory address all aligned to
the device's logical block (ALIGN_BYTES covers 512 and 4096 byte devices).
`DirectFile.write` writes the aligned head of a request through a page-aligned
bounce buffer (one memcpy of hot memory, ~0.1 ms/MiB; the data arrives at an
arbitrary address inside a gRPC message) and returns how much it wrote; the
caller writes the unaligned rest (a short last chunk) through its normal fd.
Linux keeps the two coherent (a direct write flushes and drops cached pages of
its range first), so a short chunk rewritten longer later (hflush, append) is
correct either way.

Reads (`DirectReader`, ReplicaReader's ReadBlock / transfer / scanner reads) go
the same way, for the same reason in reverse: a buffered read of bytes that are
not cached allocates and fills new page-cache pages (get fell from ~1,000 to
~310 MB/s once the put stopped leaving the replicas cached), while a direct
read lands in the reused bounce buffer and is copied once into the reply.

Durability is unchanged: an O_DIRECT write may still sit in the device's
cache, so finalize and hsync fsync the file exactly as before.

A file system without O_DIRECT (open fails with EINVAL) or a device with a
stricter alignment (a write fails with EINVAL) turns direct writes off for that
file; the bytes then go through the page cache as before. Not thread-safe: the
owner (storage.ReplicaWriter) serializes calls.
"""
from __future__ import annotations

import errno
import mmap
import os

ALIGN_BYTES = 4096
BOUNCE_BYTES = 1024 * 1024     # one WriteBlock request's data (output_stream.REQUEST_PACKETS)


def _open_direct(path, flags: int) -> int | None:
    """An O_DIRECT descriptor on path; None where the platform or the file system
    has no direct I/O (the caller stays buffered)."""
    if not hasattr(os, "O_DIRECT"):
        return None
    try:
        return os.open(path, flags | os.O_DIRECT)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise


class DirectFile:
    """A second, O_DIRECT descriptor on a block file opened for writing."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._bounce: mmap.mmap | None = None

    @classmethod
    def open(cls, path) -> "DirectFile | None":
        """The file opened O_DIRECT for writing; None where that is not possible."""
        fd = _open_direct(path, os.O_WRONLY)
        return None if fd is None else cls(fd)

    def write(self, data: memoryview, offset: int) -> int:
        """Writes the longest aligned head of data at offset; returns its length (0
        when offset is not aligned or direct writes were turned off). OSError on
        I/O failure (ENOSPC included)."""
        if self._fd is None or offset % ALIGN_BYTES:
            return 0
        head = len(data) - len(data) % ALIGN_BYTES
        if self._bounce is None and head:
            self._bounce = mmap.mmap(-1, BOUNCE_BYTES)   # page-aligned, reused
        done = 0
        while done < head:
            n = min(BOUNCE_BYTES, head - done)
            self._bounce[:n] = data[done:done + n]
            try:
                with memoryview(self._bounce) as view:
                    written = os.pwrite(self._fd, view[:n], offset + done)
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
                self.close()    # the device wants another alignment: buffered from here
                return done
            if written <= 0 or written % ALIGN_BYTES:
                # A short write that ends unaligned: leave the rest to the buffered fd.
                return done + max(0, written)
            done += written
        return done

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if self._bounce is not None:
            self._bounce.close()
            self._bounce = None


class DirectReader:
    """A second, O_DIRECT descriptor on a block file opened for reading. Reads may run
    in several threads at once (ReadBlock reads ahead): each takes a bounce buffer
    of its own from a small free list."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._free: list[mmap.mmap] = []
        self._closed = False

    @classmethod
    def open(cls, path) -> "DirectReader | None":
        fd = _open_direct(path, os.O_RDONLY)
        return None if fd is None else cls(fd)

    def read(self, size: int, offset: int) -> bytes | None:
        """Up to size bytes at offset (fewer at the end of the file), or None when
        this read cannot be direct (unaligned offset, direct reads turned off): the
        caller then preads through its buffered fd."""
        fd = self._fd
        if fd is None or offset % ALIGN_BYTES:
            return None
        span = -(-size // ALIGN_BYTES) * ALIGN_BYTES
        try:
            bounce = self._free.pop()      # atomic under the GIL
        except IndexError:
            bounce = None
        if bounce is None or len(bounce) < span:
            if bounce is not None:
                bounce.close()
            bounce = mmap.mmap(-1, max(span, BOUNCE_BYTES))
        try:
            with memoryview(bounce) as view:
                got = os.preadv(fd, [view[:span]], offset)
                return bytes(view[:min(got, size)])
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            self._fd = None    # the device wants another alignment: buffered from here
            os.close(fd)
            return None
        finally:
            if self._closed:
                bounce.close()
            else:
                self._free.append(bounce)

    def close(self) -> None:
        """Only once no read runs any more (ReplicaReader's owner sees to that)."""
        self._closed = True
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        while self._free:
            self._free.pop().close()
