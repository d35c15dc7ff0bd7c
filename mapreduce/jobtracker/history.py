"""Job history on the JobTracker's disk: one JSON status file per job.

Written by the JobTracker when a job finishes (a running one is in the journal), read when it
starts, so `mapreduce status JOB` and `mapreduce list` work after a job has finished
and after a JobTracker restart. A job that was still running when the JobTracker
stopped is resumed from the journal (journal.py, recovery.py); one the journal does not
know (from before it existed) is recorded as failed on the next start. Files are
written to a temporary name, fsynced, renamed, and the folder fsynced. Only the
newest MAX_HISTORY_JOBS are kept.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib
from typing import Any

from mapreduce import ids
from minidfs.errors import InvalidArgument

log = logging.getLogger("mapreduce.jobtracker.history")

MAX_HISTORY_JOBS = 1000
MAX_HISTORY_FILE_BYTES = 4 * 1024 * 1024


class History:
    def __init__(self, root: pathlib.Path, max_jobs: int = MAX_HISTORY_JOBS) -> None:
        self.root = root
        self.max_jobs = max_jobs

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, job_id: str) -> pathlib.Path:
        return self.root / f"{ids.validate_job_id(job_id)}.json"

    def save(self, status: dict[str, Any]) -> None:
        path = self._path(status["job_id"])
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(status, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self, job_id: str) -> dict[str, Any] | None:
        try:
            path = self._path(job_id)
        except InvalidArgument:
            return None
        return _read(path)

    def load_all(self) -> list[dict[str, Any]]:
        """Every readable record, oldest first (damaged files are skipped and logged)."""
        records = []
        for path in self.root.glob("job_*.json"):
            record = _read(path)
            if record is not None:
                records.append(record)
        records.sort(key=lambda r: (r.get("submitted_ms", 0), r["job_id"]))
        return records

    def prune(self) -> None:
        files = sorted(self.root.glob("job_*.json"), key=lambda p: p.stat().st_mtime)
        for path in files[:max(0, len(files) - self.max_jobs)]:
            path.unlink(missing_ok=True)


def _read(path: pathlib.Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_HISTORY_FILE_BYTES:
            raise ValueError("too large")
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if not isinstance(record, dict) or "job_id" not in record:
            raise ValueError("not a job record")
        return record
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable job history record: %s", path, e)
        return None
