"""The JobTracker's edit log on its own disk: `<data_dir>/journal/edits.log`, plus one
submission file per running job (`<job_id>.job`: its splits and package).

Used by tracker.py; records and their meaning are in recovery.py. Frames are the
NameNode's (minidfs/namenode/editlog_format.py: length, xxh3 checksum, msgpack), so
a crash in the middle of an append leaves a torn tail, which `open` cuts off, and any
other damage stops the start-up with the file and offset named.

`append` writes a whole frame with one write(2) on an O_APPEND descriptor: cheap enough
for the event loop, and safe from SIGKILL (the bytes are in the page cache). `sync`
fsyncs, for what must survive a machine crash too (a submission before its reply, a
job's commit point, a kill); callers run it in a thread. Each start rewrites the log
with only the live jobs' records (`rewrite`), so it never grows past the jobs running.
"""
from __future__ import annotations

import os
import pathlib
import threading
from typing import Any

from mapreduce import ids
from minidfs import durable
from minidfs.namenode import editlog_format
from minidfs.namenode.editlog_format import SegmentReader

JOURNAL_NAME = "edits.log"
JOB_FILE_SUFFIX = ".job"


class JobJournal:
    def __init__(self, root: pathlib.Path) -> None:
        self.root = pathlib.Path(root)
        self.path = self.root / JOURNAL_NAME
        self.fsync_count = 0
        self._fd: int | None = None
        self._txid = 0
        self._appended = 0
        self._synced = 0
        self._sync_lock = threading.Lock()

    # ---- start-up -----------------------------------------------------------

    def read(self) -> list[dict[str, Any]]:
        """Every record, oldest first; a torn tail is cut off the file."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        reader = SegmentReader(data, str(self.path), allow_torn_tail=True)
        records = [record for _, record in reader]
        if reader.torn:
            with open(self.path, "r+b") as f:
                f.truncate(reader.valid_end)
                os.fsync(f.fileno())
        self._txid = max((r["txid"] for r in records), default=0)
        return records

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replaces the log with these records (durably), then appends after them.
        Only with nothing appended since the last sync (start-up, or no live job)."""
        with self._sync_lock:
            self._close()
            data = b"".join(editlog_format.encode(self._stamp(r)) for r in records)
            durable.write_atomic(self.path, data)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            self._synced = self._appended = self._txid

    # ---- running ------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> int:
        """Writes one record (not yet fsynced); its txid."""
        if self._fd is None:
            raise RuntimeError("the JobTracker journal is not open")
        durable.write_all(self._fd, editlog_format.encode(self._stamp(record)))
        self._appended = self._txid
        return self._txid

    @property
    def dirty(self) -> bool:
        return self._synced < self._appended

    def sync(self) -> None:
        """fsyncs everything appended so far (blocking: call it in a thread)."""
        with self._sync_lock:
            target = self._appended
            if self._fd is None or self._synced >= target:
                return
            os.fsync(self._fd)
            self.fsync_count += 1
            self._synced = max(self._synced, target)

    def close(self) -> None:
        with self._sync_lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _stamp(self, record: dict[str, Any]) -> dict[str, Any]:
        self._txid += 1
        return {**record, "txid": self._txid}

    # ---- submission files ---------------------------------------------------

    def _job_path(self, job_id: str) -> pathlib.Path:
        return self.root / f"{ids.validate_job_id(job_id)}{JOB_FILE_SUFFIX}"

    def save_job(self, job_id: str, data: bytes) -> None:
        durable.write_atomic(self._job_path(job_id), data)

    def load_job(self, job_id: str) -> bytes | None:
        try:
            return self._job_path(job_id).read_bytes()
        except FileNotFoundError:
            return None

    def drop_job(self, job_id: str) -> None:
        self._job_path(job_id).unlink(missing_ok=True)

    def job_files(self) -> list[str]:
        return sorted(p.name[:-len(JOB_FILE_SUFFIX)] for p in self.root.glob("job_*" + JOB_FILE_SUFFIX))
