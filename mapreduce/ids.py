"""Job, task and attempt ids (Hadoop's shapes), and their validation. Pure.

    job_20240101120000_0001                  a job (JobTracker start stamp, sequence)
    job_local4242_0001                       a job run by the inline runner
    attempt_20240101120000_0001_m_000003_0   attempt 0 of map task 3 of that job

Servers validate every id they receive with these functions: an id also names local
folders (per-job and per-attempt scratch), so nothing but this shape may pass.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from minidfs.errors import InvalidArgument

MAP = "m"
REDUCE = "r"
MAX_TASK_INDEX = 999_999
MAX_ATTEMPT_NUMBER = 999

_STAMP = r"(?:\d{1,20}|local\d{1,10})"
_JOB_RE = re.compile(rf"^job_({_STAMP})_(\d{{4,9}})$")
_ATTEMPT_RE = re.compile(rf"^attempt_({_STAMP})_(\d{{4,9}})_([mr])_(\d{{6}})_(\d{{1,3}})$")


class AttemptId(NamedTuple):
    job_id: str
    kind: str
    index: int
    number: int

    def __str__(self) -> str:
        return attempt_id(self.job_id, self.kind, self.index, self.number)


def job_id(stamp: str, sequence: int) -> str:
    return validate_job_id(f"job_{stamp}_{sequence:04d}")


def attempt_id(job: str, kind: str, index: int, number: int) -> str:
    if kind not in (MAP, REDUCE) or not 0 <= index <= MAX_TASK_INDEX \
            or not 0 <= number <= MAX_ATTEMPT_NUMBER:
        raise InvalidArgument(f"bad attempt ({job}, {kind}, {index}, {number})")
    return "attempt_" + job[len("job_"):] + f"_{kind}_{index:06d}_{number}"


def task_name(job: str, kind: str, index: int) -> str:
    return "task_" + job[len("job_"):] + f"_{kind}_{index:06d}"


def validate_job_id(value: object) -> str:
    if not isinstance(value, str) or not _JOB_RE.match(value):
        raise InvalidArgument(f"{value!r:.80}: not a job id (job_<stamp>_<nnnn>)")
    return value


def parse_attempt(value: object) -> AttemptId:
    match = _ATTEMPT_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidArgument(f"{value!r:.80}: not a task attempt id")
    stamp, seq, kind, index, number = match.groups()
    return AttemptId(f"job_{stamp}_{seq}", kind, int(index), int(number))


def part_name(kind: str, index: int) -> str:
    """Output file of a task: part-00003 for reducers, part-m-00003 for map-only jobs."""
    return f"part-{index:05d}" if kind == REDUCE else f"part-m-{index:05d}"
