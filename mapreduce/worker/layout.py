"""Where a Worker keeps things on its local disk. Pure path arithmetic.

    <data_dir>/jobs/<job_id>/package/            the job's module, shipped files, env.json
    <data_dir>/jobs/<job_id>/attempts/<attempt>/ an attempt's scratch; a map's output
                                                 (file.out + file.out.index) stays here
                                                 until the job is cleaned up
    <data_dir>/jobs/<job_id>/logs/<attempt>.log  the task process's stderr (user prints)

Used by the Worker daemon, the task child and the shuffle server; ids are validated
before they become path components.
"""
from __future__ import annotations

import pathlib

from mapreduce import ids

MAP_OUTPUT = "file.out"
MAP_OUTPUT_INDEX = "file.out.index"
ENV_FILE = "env.json"


def jobs_dir(data_dir: pathlib.Path) -> pathlib.Path:
    return data_dir / "jobs"


def job_dir(data_dir: pathlib.Path, job_id: str) -> pathlib.Path:
    return jobs_dir(data_dir) / ids.validate_job_id(job_id)


def package_dir(data_dir: pathlib.Path, job_id: str) -> pathlib.Path:
    return job_dir(data_dir, job_id) / "package"


def attempt_dir(data_dir: pathlib.Path, attempt_id: str) -> pathlib.Path:
    attempt = ids.parse_attempt(attempt_id)
    return job_dir(data_dir, attempt.job_id) / "attempts" / attempt_id


def attempt_log(data_dir: pathlib.Path, attempt_id: str) -> pathlib.Path:
    attempt = ids.parse_attempt(attempt_id)
    return job_dir(data_dir, attempt.job_id) / "logs" / f"{attempt_id}.log"
