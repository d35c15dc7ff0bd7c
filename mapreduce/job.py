"""The MapReduce user API: subclass `Job`, then `MyJob().run(input=..., output=...)`.

    class WordCount(Job):
        def mapper(self, offset, line):      # offset: byte offset, line: str, no newline
            for word in line.split():
                yield word, 1
        def combiner(self, word, counts):    # optional; must keep the key
            yield word, sum(counts)
        def reducer(self, word, counts):     # counts: a one-pass iterator
            yield word, sum(counts)

A combiner that sums, `combiner = Job.sum_values` or the textbook one above, is
recognised and run as a running total per key as the map emits (mapreduce/combiners.py).
Optional: `partitioner(self, key, num_reducers) -> int`; hooks `mapper_init`,
`mapper_final`, `reducer_init`, `reducer_final` (generators may yield output from them,
e.g. in-mapper combining); `mapper_batch(self, offsets, lines)` instead of `mapper`,
called once per batch of lines (examples/wordcount_inmapper.py); `input_bytes = True`
(lines as undecoded bytes); `format_output(self, key, value) -> str` (default
`key<TAB>value`, see mapreduce/textoutput.py); `self.increment_counter(group, name, n)`;
`self.input_path` (the file being mapped); `self.file_path(name)` (a file shipped with
the job, listed in the class attribute `files` or `run(files=...)`); `steps()` for a
multi-step job (a list of `Step(mapper=..., combiner=..., reducer=..., reducers=N)`,
each step's output feeding the next; see mapreduce/steps.py).

A job runs as many fresh instances, one per task attempt, made with `cls()` in the
task's process: the class must take no constructor arguments, and state set on the
instance you call run() on does not reach the tasks (use class attributes, shipped
files or the environment). On the cluster the job's module source is shipped and
imported on the Workers, so the class must be defined at the top level of its module
and the module must use absolute imports.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator, Sequence

from mapreduce import combiners
from mapreduce import steps as step_plan
from mapreduce.counters import Counters
from mapreduce.mapside import DEFAULT_SPILL_THRESHOLD_BYTES
from mapreduce.result import JobResult
from mapreduce.steps import Step
from mapreduce.textoutput import format_line
from minidfs.errors import InvalidArgument

RUNNERS = ("cluster", "inline", "spark")
MAX_REDUCERS = 1000
DEFAULT_TASK_TIMEOUT_S = 600.0


class Job:
    combiner: Callable[[Any, Iterable[Any]], Any] | None = None
    partitioner: Callable[[Any, int], int] | None = None
    # Local files shipped with every run of this job (read them with self.file_path).
    files: Sequence[str] = ()
    # Map output kept in memory before it is sorted and spilled (an estimate, bytes).
    spill_threshold_bytes: int = DEFAULT_SPILL_THRESHOLD_BYTES
    # An attempt that reports no progress for this long is failed (and retried).
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S
    # Names of environment variables of the submitting process that every task sees
    # (the cluster runner ships their values; inline tasks share the environment).
    pass_env: Sequence[str] = ()

    input_path: str | None = None
    # Which of steps() a task of a multi-step job runs (inline runner; see steps.py).
    _step_index: int | None = None
    _counters: Counters | None = None
    _files: dict[str, str] = {}

    # `combiner = Job.sum_values` (or `reducer = ...`): yields (key, sum(values)). As a
    # combiner the map side keeps a running total per key instead of calling it.
    sum_values = combiners.sum_values

    # Instead of mapper, a job may define mapper_batch(self, offsets, lines): called once
    # per batch of its split's lines (two lists of equal length, a few hundred lines
    # each, in file order), yielding pairs like mapper. For per-line work that has a
    # whole-batch form running in C (Counter.update(" ".join(lines).split()), a regex
    # over the joined text, pandas): the per-line call, not the work, was most of such
    # a map task's time. Not with steps() (each step names its own mapper).
    mapper_batch: Callable[[list[int], list[str]], Any] | None = None
    # True: the mapper (or mapper_batch) gets each line as bytes, not decoded (its
    # newline and one trailing "\r" removed), as Hadoop hands a Java mapper a Text of
    # UTF-8 bytes. For speed: no decode, and CPython splits and hashes bytes faster
    # than str (bytes.split() splits on ASCII whitespace only). On Spark, lines come
    # decoded by PySpark and are encoded again as UTF-8 (bytes that were not UTF-8
    # arrive as U+FFFD's). Not with steps().
    input_bytes: bool = False

    def mapper(self, key: Any, value: Any) -> Iterator[tuple[Any, Any]] | None:
        yield key, value

    def reducer(self, key: Any, values: Iterator[Any]) -> Iterator[tuple[Any, Any]] | None:
        for value in values:
            yield key, value

    def mapper_init(self) -> Iterator[tuple[Any, Any]] | None:
        return None

    def mapper_final(self) -> Iterator[tuple[Any, Any]] | None:
        return None

    def reducer_init(self) -> Iterator[tuple[Any, Any]] | None:
        return None

    def reducer_final(self) -> Iterator[tuple[Any, Any]] | None:
        return None

    def format_output(self, key: Any, value: Any) -> str:
        return format_line(key, value)

    def increment_counter(self, group: str, name: str, n: int = 1) -> None:
        if self._counters is None:
            raise RuntimeError("counters can only be incremented while a task runs")
        self._counters.increment(group, name, n)

    def file_path(self, name: str) -> str:
        """Where the shipped file `name` (its base name) is in this task's process."""
        try:
            return self._files[name]
        except KeyError:
            raise FileNotFoundError(f"{name}: not shipped with the job "
                                    f"(shipped: {sorted(self._files) or 'none'})") from None

    def steps(self) -> "list[Step] | None":
        """A multi-step job returns its Steps (mapreduce/steps.py), each step's output
        feeding the next; None (the default): the job is its own single step."""
        return None

    def _begin_task(self, counters: Counters, input_path: str | None) -> None:
        self._counters = counters
        self.input_path = input_path
        if type(self).steps is not Job.steps:
            step_plan.bind(self, step_plan.step_index(self))

    def _bind_files(self, files: dict[str, str]) -> None:
        self._files = dict(files)

    def run(self, input: str, output: str, reducers: int = 1, runner: str = "cluster",
            conf: str | os.PathLike[str] | None = None, files: Sequence[str] = (),
            split_size: int | str | None = None,
            progress: Callable[[dict], None] | None = None,
            user: str | None = None, spark_master: str | None = None) -> JobResult:
        """Runs the job and returns its JobResult; raises JobError (with the user's
        traceback) if it fails. runner="inline" runs in this process on local files
        (split_size: bytes per split, default 64 MiB); runner="cluster" submits to the
        cluster in conf (else $MINIDFS_HOME/cluster.toml, else ./.minidfs/cluster.toml);
        progress, if given, is called with each status update. On the cluster the job
        runs as `user` (else $MINIDFS_USER, else the OS user): its tasks read and write
        with that user's permissions. runner="spark" runs the job on Spark
        (mapreduce/runners/spark.py) at spark_master (default: the SparkContext
        running in this process, else local[*]); input and output are local paths
        or Hadoop URIs (minidfs: webhdfs://<namenode http address>/path)."""
        if runner not in RUNNERS:
            raise InvalidArgument(f"{runner!r}: runner must be one of {', '.join(RUNNERS)}")
        if type(reducers) is not int or not 0 <= reducers <= MAX_REDUCERS:
            raise InvalidArgument(f"{reducers!r}: reducers must be an int in [0, {MAX_REDUCERS}]")
        shipped = list(self.files) + list(files)
        if self.mapper_batch is not None:
            if type(self).mapper is not Job.mapper:
                raise InvalidArgument(f"{type(self).__name__} defines both mapper and "
                                      "mapper_batch: define one of them")
            if type(self).steps is not Job.steps:
                raise InvalidArgument(f"{type(self).__name__}: mapper_batch does not go with "
                                      "steps(); give each Step its mapper")
        if type(self.input_bytes) is not bool:
            raise InvalidArgument(f"{type(self).__name__}: input_bytes must be True or False, "
                                  f"got {self.input_bytes!r}")
        if self.input_bytes and type(self).steps is not Job.steps:
            raise InvalidArgument(f"{type(self).__name__}: input_bytes does not go with steps() "
                                  "(a later step reads the pairs the step before it produced)")
        if runner == "spark":
            from mapreduce.runners.spark import run_spark

            return run_spark(self, input, output, reducers, shipped, spark_master, progress)
        plan = step_plan.checked_plan(self)
        if plan is not None:
            from mapreduce.multistep import run_steps

            return run_steps(self, plan, input, output, reducers, runner, conf, shipped,
                             split_size, progress, user)
        if runner == "inline":
            from mapreduce.runners.inline import run_inline

            return run_inline(self, input, output, reducers, shipped, split_size, progress)
        from mapreduce.runners.cluster import run_cluster

        return run_cluster(self, input, output, reducers, shipped, conf, progress, user)
