"""The local file journal: edit-log segments in <data_dir>/current/, group commit.

The single-NameNode implementation of journal.Journal, used by namesystem.py.

Segments: `edits_inprogress_<first>.log` is being written; at a roll (checkpoint,
graceful stop, start-up) it is renamed to `edits_<first>-<last>.log`. txids are
zero-padded to 19 digits so names sort by txid.

Group commit: `append` only buffers. `sync(txid)` starts a flush if none runs; a
flush takes everything buffered so far, writes it and fsyncs once in the journal's
own thread, then releases every waiter whose txid it covered. Records appended
while a flush runs wait for the next one, which takes all of them: one fsync per
batch, not per edit. `fsync_count` lets tests see that.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import pathlib
import re
from typing import Any, Iterator, NamedTuple

from minidfs.errors import EditLogCorrupt
from minidfs import durable
from minidfs.namenode.editlog_format import SegmentReader
from minidfs.namenode.journal import Journal, JournalError

_INPROGRESS = re.compile(r"^edits_inprogress_(\d+)\.log$")
_FINALIZED = re.compile(r"^edits_(\d+)-(\d+)\.log$")


def inprogress_name(first: int) -> str:
    return f"edits_inprogress_{first:019d}.log"


def finalized_name(first: int, last: int) -> str:
    return f"edits_{first:019d}-{last:019d}.log"


class Segment(NamedTuple):
    first: int
    last: int | None   # None while in progress
    path: pathlib.Path


class FileJournal(Journal):
    def __init__(self, directory: pathlib.Path) -> None:
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync_count = 0
        self._fd: int | None = None
        # Open from start-up to close. Not the same as "_fd is set": a roll closes the
        # old segment's fd in the executor before the next segment exists, and appends
        # (which only buffer) must keep working meanwhile.
        self._open = False
        self._segment_first = 0
        self._buffer: list[bytes] = []
        self._last = 0
        self._synced = 0
        self._flush_task: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._failed: BaseException | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def last_txid(self) -> int:
        return self._last

    @property
    def synced_txid(self) -> int:
        return self._synced

    # ------------------------------------------------------------ reading

    def segments(self) -> list[Segment]:
        found = []
        for path in self.dir.iterdir():
            if m := _INPROGRESS.match(path.name):
                found.append(Segment(int(m.group(1)), None, path))
            elif m := _FINALIZED.match(path.name):
                found.append(Segment(int(m.group(1)), int(m.group(2)), path))
        found.sort(key=lambda s: s.first)
        for before, after in zip(found, found[1:]):
            if before.last is None:
                raise EditLogCorrupt(f"{before.path}: in-progress segment is not the newest")
            if after.first != before.last + 1:
                raise EditLogCorrupt(
                    f"{after.path}: starts at txid {after.first}, expected {before.last + 1}")
        return found

    def _read_segment(self, seg: Segment, allow_torn: bool) -> tuple[SegmentReader, list]:
        reader = SegmentReader(seg.path.read_bytes(), str(seg.path), allow_torn)
        records = []
        expected = seg.first
        for offset, record in reader:
            if record["txid"] != expected:
                raise EditLogCorrupt(
                    f"{seg.path}: txid {record['txid']} at offset {offset}, expected {expected}")
            records.append((expected, record))
            expected += 1
        if seg.last is not None and expected - 1 != seg.last:
            raise EditLogCorrupt(f"{seg.path}: ends at txid {expected - 1}, expected {seg.last}")
        return reader, records

    def recover(self) -> int:
        segments = self.segments()
        if not segments:
            return 0
        newest = segments[-1]
        if newest.last is not None:
            return newest.last
        reader, records = self._read_segment(newest, allow_torn=True)
        if reader.torn:
            with open(newest.path, "r+b") as f:
                f.truncate(reader.valid_end)
                os.fsync(f.fileno())
        return records[-1][0] if records else newest.first - 1

    def _recover_inprogress(self, seg: Segment) -> int:
        """The last txid of the (already recovered) in-progress segment."""
        _, records = self._read_segment(seg, allow_torn=False)
        return records[-1][0] if records else seg.first - 1

    def read_edits(self, from_txid: int) -> Iterator[tuple[int, dict[str, Any]]]:
        expected = from_txid
        for seg in self.segments():
            if seg.last is not None and seg.last < from_txid:
                continue
            _, records = self._read_segment(seg, allow_torn=False)
            for txid, record in records:
                if txid < from_txid:
                    continue
                if txid != expected:
                    raise EditLogCorrupt(
                        f"{seg.path}: edits {expected}..{txid - 1} are missing from the log")
                expected += 1
                yield txid, record

    # ------------------------------------------------------------ writing

    async def open(self, last_applied_txid: int) -> None:
        self._lock = asyncio.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal")
        segments = self.segments()
        if segments and segments[-1].last is None:
            seg = segments[-1]
            last = self._recover_inprogress(seg)
            if last > last_applied_txid:
                raise JournalError(f"{seg.path}: holds txid {last}, beyond the applied {last_applied_txid}")
            if last >= seg.first:
                durable.rename_durably(seg.path, self.dir / finalized_name(seg.first, last))
            else:
                seg.path.unlink()
            segments = self.segments()
        if segments and segments[-1].last is not None and segments[-1].last < last_applied_txid:
            # The checkpoint is ahead of the whole log: keep the log contiguous.
            self.purge(last_applied_txid)
        self._last = self._synced = last_applied_txid
        self._start_segment(last_applied_txid + 1)
        self._open = True

    def _start_segment(self, first: int) -> None:
        self._fd = durable.create_exclusive(self.dir / inprogress_name(first))
        self._segment_first = first

    def append(self, txid: int, frame: bytes) -> None:
        self._check_usable()
        if txid != self._last + 1:
            raise ValueError(f"append of txid {txid}, expected {self._last + 1}")
        self._buffer.append(frame)
        self._last = txid

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise JournalError(f"{self.dir}: edit log failed earlier: {self._failed}")
        if not self._open:
            raise JournalError(f"{self.dir}: journal is not open")

    async def sync(self, txid: int) -> None:
        if txid > self._last:
            raise ValueError(f"sync of txid {txid} beyond the last appended {self._last}")
        while self._synced < txid:
            self._check_usable()
            if self._flush_task is None:
                self._flush_task = asyncio.get_running_loop().create_task(self._flush())
            await asyncio.shield(self._flush_task)

    async def _flush(self) -> None:
        try:
            assert self._lock is not None
            async with self._lock:
                await self._write_buffer()
        finally:
            self._flush_task = None

    async def _write_buffer(self) -> None:
        """Writes and fsyncs everything buffered. Caller holds the lock."""
        if not self._buffer:
            return
        data, upto = b"".join(self._buffer), self._last
        self._buffer = []
        fd = self._fd
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _write_and_sync, fd, data)
        except asyncio.CancelledError:
            # The loop is shutting down mid-write: whether the bytes landed is unknown.
            self._failed = JournalError("a write was cancelled")
            raise
        except Exception as e:
            self._failed = e
            raise JournalError(f"{self.dir}: cannot write the edit log: {e}") from e
        self.fsync_count += 1
        self._synced = upto

    async def roll(self) -> None:
        self._check_usable()
        assert self._lock is not None
        async with self._lock:
            await self._write_buffer()
            end = self._synced
            if end < self._segment_first:
                return
            await asyncio.get_running_loop().run_in_executor(self._executor, self._finalize, end)
            self._start_segment(end + 1)

    def _finalize(self, end: int) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        durable.rename_durably(self.dir / inprogress_name(self._segment_first),
                               self.dir / finalized_name(self._segment_first, end))

    def purge(self, upto_txid: int) -> None:
        for seg in self.segments():
            if seg.last is not None and seg.last <= upto_txid:
                seg.path.unlink()

    async def close(self) -> None:
        if self._fd is None or self._lock is None:
            return
        self._open = False
        try:
            if self._failed is None:
                async with self._lock:
                    await self._write_buffer()
                    if self._synced >= self._segment_first:
                        self._finalize(self._synced)
                    else:
                        os.close(self._fd)
                        self._fd = None
                        (self.dir / inprogress_name(self._segment_first)).unlink()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._executor is not None:
                self._executor.shutdown(wait=True)


def _write_and_sync(fd: int, data: bytes) -> None:
    durable.write_all(fd, data)
    os.fdatasync(fd)
