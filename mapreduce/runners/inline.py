"""The inline runner: a whole job in this process, over local files, no cluster.

Called by `Job.run(runner="inline")`. It is a test double of the cluster, not a toy:
it plans splits, runs map tasks with the same map-side buffer (partition, sort,
combine, spill, merge), merges each partition's runs with the same external merge,
reduces with the same task code and commits output through the same committer. What
it leaves out is only distribution: one attempt per task, run one after another, and
no retries (the first failure fails the job with the user's traceback).
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Callable

from mapreduce import counters as C
from mapreduce import ids
from mapreduce.committer import OutputCommitter
from mapreduce.counters import Counters
from mapreduce.fs import LocalFileSystem, plan_splits
from mapreduce.mapside import MapOutput
from mapreduce.result import JobResult
from mapreduce.shipping import local_file_map
from mapreduce.tasks import run_map_task, run_reduce_task
from mapreduce.usercode import user_traceback
from minidfs.errors import JobError
from minidfs.sizes import parse_size

if TYPE_CHECKING:
    from mapreduce.job import Job

_job_sequence = itertools.count(1)


class _InlineJob:
    def __init__(self, job: "Job", input_path: str, output: str, reducers: int,
                 files: list[str], split_size: int | str | None,
                 progress: Callable[[dict], None] | None) -> None:
        self.job_class = type(job)
        self.reducers = reducers
        self.fs = LocalFileSystem()
        self.file_map = local_file_map(files)
        split_size_bytes = parse_size(split_size) if split_size is not None else None
        self.splits = plan_splits(self.fs, input_path, split_size_bytes)
        self.committer = OutputCommitter(self.fs, output)
        self.committer.check_output()
        self.job_id = ids.job_id(f"local{os.getpid()}", next(_job_sequence))
        self.counters = Counters()
        self.progress = progress
        self.maps_done = 0
        self.reduces_done = 0

    def run(self) -> JobResult:
        started = time.monotonic()
        self.committer.setup_job()
        scratch = tempfile.mkdtemp(prefix=f"{self.job_id}-")
        try:
            map_outputs = [self._map(i, split, scratch) for i, split in enumerate(self.splits)]
            maps_done_at = time.monotonic()
            outputs = [self._reduce(r, map_outputs, scratch) for r in range(self.reducers)]
            if self.reducers == 0:
                outputs = [self._map_only_output(i) for i in range(len(self.splits))]
            self.committer.commit_job()
        except BaseException:
            self.committer.abort_job()
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        finished = time.monotonic()
        self._report("succeeded")
        return JobResult(
            job_id=self.job_id, status="succeeded", output=self.committer.output,
            output_paths=outputs, counters=self.counters.as_dict(), runner="inline",
            timings={"total_s": finished - started, "map_s": maps_done_at - started,
                     "reduce_s": finished - maps_done_at})

    def _task_job(self) -> "Job":
        job = self.job_class()
        job._bind_files(self.file_map)
        return job

    def _map(self, index: int, split, scratch: str) -> MapOutput | None:
        attempt = ids.attempt_id(self.job_id, ids.MAP, index, 0)
        task_dir = os.path.join(scratch, attempt)
        os.makedirs(task_dir)
        counters = Counters()
        self.counters.increment(C.JOB, "launched_maps")
        try:
            with self.fs.open_read(split.path) as stream:
                if self.reducers:
                    result = run_map_task(self._task_job(), split, stream, self.reducers,
                                          task_dir, counters)
                else:
                    part = ids.part_name(ids.MAP, index)
                    self.committer.setup_attempt(attempt)
                    with self.fs.open_write(self.committer.attempt_file(attempt, part)) as out:
                        result = run_map_task(self._task_job(), split, stream, 0, task_dir,
                                              counters, text_out=out)
                    self.committer.commit_attempt(attempt, part)
        except Exception as e:
            raise _task_failed(attempt, e) from e
        self.counters.update(counters)
        self.maps_done += 1
        self._report("running")
        return result

    def _map_only_output(self, index: int) -> str:
        return self.fs.join(self.committer.output, ids.part_name(ids.MAP, index))

    def _reduce(self, partition: int, map_outputs: list, scratch: str) -> str:
        attempt = ids.attempt_id(self.job_id, ids.REDUCE, partition, 0)
        task_dir = os.path.join(scratch, attempt)
        os.makedirs(task_dir)
        runs = [(out.path, out.segments[partition]) for out in map_outputs]
        counters = Counters()
        counters.increment(C.FRAMEWORK, "reduce_shuffle_bytes",
                           sum(segment.length for _, segment in runs))
        self.counters.increment(C.JOB, "launched_reduces")
        part = ids.part_name(ids.REDUCE, partition)
        try:
            self.committer.setup_attempt(attempt)
            with self.fs.open_write(self.committer.attempt_file(attempt, part)) as out:
                run_reduce_task(self._task_job(), runs, task_dir, out, counters)
            final = self.committer.commit_attempt(attempt, part)
        except Exception as e:
            raise _task_failed(attempt, e) from e
        self.counters.update(counters)
        self.reduces_done += 1
        self._report("running")
        return final

    def _report(self, state: str) -> None:
        if self.progress is None:
            return
        maps, reduces = len(self.splits), self.reducers
        self.progress({
            "job_id": self.job_id, "state": state,
            "maps_total": maps, "maps_completed": self.maps_done,
            "reduces_total": reduces, "reduces_completed": self.reduces_done,
            "map_progress": self.maps_done / maps if maps else 1.0,
            "reduce_progress": self.reduces_done / reduces if reduces else 1.0,
            "counters": self.counters.as_dict(),
        })


def _task_failed(attempt: str, exc: BaseException) -> JobError:
    return JobError(f"task attempt {attempt} failed:\n{user_traceback(exc)}")


def run_inline(job: "Job", input: str, output: str, reducers: int, files: list[str],
               split_size: int | str | None,
               progress: Callable[[dict], None] | None) -> JobResult:
    return _InlineJob(job, os.fspath(input), os.fspath(output), reducers, files,
                      split_size, progress).run()
