"""The Spark runner: `Job.run(runner="spark", spark_master="local[2]" | "spark://...")`
runs the same Job class on Spark, for users who outgrow the cluster.

Called by `Job.run` (and `mapreduce run --runner spark`). The driver here plans; the
executors run mapreduce/runners/spark_tasks.py, which is the engine's own map side
and reducer loop, so a job's output is the cluster runner's byte for byte:

  input      every input file (Hadoop's listing: a directory means the files below
             it, skipping names starting with "_" or ".") read with
             `newAPIHadoopFile(TextInputFormat)`: (byte offset, line) records, one
             RDD per file so the mapper sees `self.input_path`;
  map        `mapPartitions`: mapper + combiner per partition in MapOutputBuffer (the
             same key -> values dict, sum fast path and partitioner);
  shuffle    `repartitionAndSortWithinPartitions` into `reducers` partitions by the
             partition the job's partitioner chose, sorted by the engine's key order;
  reduce     `mapPartitions`: reducer per key group, format_output per pair;
  output     `saveAsTextFile`: `part-00000`... and `_SUCCESS` (Hadoop's committer).

Paths are local paths or any Hadoop file system URI; minidfs through `webhdfs://` its
NameNode's HTTP address. A multi-step job's steps are chained in one Spark job (each
step's lines feed the next step's map partitions, no intermediate files). Counters
come back through an accumulator per step; Spark may run a task twice (a retry or a
speculative copy), and then its counters count twice, as Spark's docs warn.
Needs the `spark` extra (pyspark) and a Java 17+ runtime; without them the runner
says which is missing before anything runs.
"""
from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import shutil
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

from mapreduce import shipping
from mapreduce import steps as step_plan
from mapreduce.counters import Counters
from mapreduce.fs import is_hidden
from mapreduce.result import JobResult
from minidfs.errors import FileExists, FileNotFound, JobError, PreconditionFailed

if TYPE_CHECKING:
    from mapreduce.job import Job

DEFAULT_MASTER = "local[*]"
TEXT_INPUT_FORMAT = "org.apache.hadoop.mapreduce.lib.input.TextInputFormat"
LONG_WRITABLE = "org.apache.hadoop.io.LongWritable"
TEXT = "org.apache.hadoop.io.Text"
MAX_INPUT_FILES = 10_000
# How much of a failed Spark job's message reaches the user (the Python traceback).
MAX_ERROR_CHARS = 8000

_job_sequence = itertools.count(1)


def check_spark_available() -> None:
    """Raises PreconditionFailed naming what the runner needs and cannot find."""
    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("pyspark (pip install 'minidfs[spark]')")
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.access(os.path.join(java_home, "bin", "java"), os.X_OK)) \
            and shutil.which("java") is None:
        missing.append("a Java 17+ runtime (java on PATH or $JAVA_HOME)")
    if missing:
        raise PreconditionFailed(f"the spark runner needs {' and '.join(missing)}")


def run_spark(job: "Job", input: str, output: str, reducers: int, files: list[str],
              spark_master: str | None,
              progress: Callable[[dict], None] | None = None) -> JobResult:
    check_spark_available()
    plan = step_plan.checked_plan(job)
    package = _package(job, files)
    context, owned = _context(spark_master)
    try:
        return _SparkJob(context, package, plan, reducers, progress).run(
            os.fspath(input), os.fspath(output))
    finally:
        if owned:
            context.stop()


def _package(job: "Job", files: list[str]) -> dict:
    from mapreduce.runners.spark_tasks import package_digest

    packed = shipping.package(type(job), files)
    env = {name: os.environ[name] for name in job.pass_env if name in os.environ}
    return {"module_name": packed.module_name, "module_file": packed.module_file,
            "source": packed.source, "class_name": packed.class_name,
            "files": dict(packed.files), "env": env,
            "digest": package_digest(packed.module_name, packed.class_name, packed.source,
                                     packed.files)}


def _context(master: str | None) -> tuple[Any, bool]:
    """The SparkContext to use and whether this run owns it (and stops it). A context
    already running in this process (a notebook's, a test's) is used as it is."""
    from pyspark import SparkContext

    active = SparkContext._active_spark_context
    if active is not None:
        if master is not None and master != active.master:
            raise PreconditionFailed(f"a SparkContext for {active.master} already runs in "
                                     f"this process; cannot use {master}")
        return active, False
    return spark_context(master or DEFAULT_MASTER), True


def spark_context(master: str) -> Any:
    """A new SparkContext set up as this runner sets one up (tests and notebooks that
    run several jobs make it once; the runner then uses it and leaves it running)."""
    from pyspark import SparkConf, SparkContext

    check_spark_available()
    conf = SparkConf().setMaster(master).setAppName("minidfs-mapreduce") \
        .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
    if master.startswith("local"):
        # Executors are in-machine: keep the driver on loopback, and run their Python
        # workers with this interpreter, which has this package (PATH's python3 may not).
        conf = conf.set("spark.driver.host", "127.0.0.1") \
            .set("spark.driver.bindAddress", "127.0.0.1")
        # (pyspark reads the workers' interpreter from $PYSPARK_PYTHON, else python3.)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    context = SparkContext(conf=conf)
    context.setLogLevel("ERROR")
    return context


def _uri(path: str) -> str:
    return path if "://" in path else "file://" + os.path.abspath(path)


class _SparkJob:
    def __init__(self, context: Any, package: dict, plan: list | None, reducers: int,
                 progress: Callable[[dict], None] | None) -> None:
        self.sc = context
        self.package = package
        self.plan = plan
        self.reducers = reducers
        self.progress = progress
        self.job_id = f"spark-{context.applicationId}-{next(_job_sequence):04d}"
        jvm = context._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self._hadoop_conf = context._jsc.hadoopConfiguration()

    def run(self, input: str, output: str) -> JobResult:
        from mapreduce.runners import spark_tasks as tasks

        started = time.monotonic()
        inputs = self._input_files(input)
        out_uri = _uri(output)
        out_path = self._Path(out_uri)
        if out_path.getFileSystem(self._hadoop_conf).exists(out_path):
            raise FileExists(f"{output}: output directory already exists")
        steps = self.plan or [None]
        accumulators = [self.sc.accumulator({}, tasks.CountersParam()) for _ in steps]
        lines = None
        for index, step in enumerate(steps):
            step_index = index if self.plan is not None else None
            reducers = self.reducers if step is None or step.reducers is None else step.reducers
            acc = accumulators[index]
            if lines is None:
                mapped = self._map_files(inputs, step_index, reducers, acc)
            else:
                mapped = lines.map(tasks.line_record).mapPartitions(
                    functools.partial(tasks.map_partition, self.package, step_index,
                                      reducers, None, acc))
            if reducers == 0:
                lines = mapped
            else:
                lines = mapped.repartitionAndSortWithinPartitions(
                    reducers, tasks.partition_of, True, tasks.sort_key_of).mapPartitions(
                    functools.partial(tasks.reduce_partition, self.package, step_index, acc))
        assert lines is not None
        try:
            lines.saveAsTextFile(out_uri)
        except Exception as e:  # noqa: BLE001 - py4j / Spark errors carry the task's traceback
            raise JobError(f"job {self.job_id} failed: {_spark_error(e)}") from None
        step_counters = [_counters(acc.value) for acc in accumulators]
        total = Counters()
        for counters in step_counters:
            total.update(counters)
        parts = [f"{output.rstrip('/')}/part-{i:05d}" for i in range(lines.getNumPartitions())]
        finished = time.monotonic()
        result = JobResult(
            job_id=self.job_id, status="succeeded", output=output, output_paths=parts,
            counters=total.as_dict(), runner="spark",
            timings={"total_s": finished - started},
            steps=[{"job_id": f"{self.job_id}-step-{i + 1}", "counters": c, "timings": {}}
                   for i, c in enumerate(step_counters)] if self.plan is not None else [])
        return result

    def _map_files(self, inputs: list[str], step_index: int | None, reducers: int,
                   acc: Any) -> Any:
        from mapreduce.runners import spark_tasks as tasks

        rdds = [self.sc.newAPIHadoopFile(path, TEXT_INPUT_FORMAT, LONG_WRITABLE, TEXT)
                .mapPartitions(functools.partial(tasks.map_partition, self.package,
                                                 step_index, reducers, path, acc))
                for path in inputs]
        if not rdds:
            return self.sc.emptyRDD()
        return rdds[0] if len(rdds) == 1 else self.sc.union(rdds)

    def _input_files(self, input: str) -> list[str]:
        """Hadoop's input listing, through whichever Hadoop file system the URI names."""
        root = self._Path(_uri(input))
        fs = root.getFileSystem(self._hadoop_conf)
        if not fs.exists(root):
            raise FileNotFound(f"{input}: input does not exist")
        if fs.getFileStatus(root).isFile():
            return [fs.makeQualified(root).toString()]
        top = fs.makeQualified(root).toString().rstrip("/")
        found = []
        entries = fs.listFiles(root, True)
        while entries.hasNext():
            path = entries.next().getPath().toString()
            relative = path[len(top):].lstrip("/")
            if any(is_hidden(part) for part in relative.split("/")):
                continue
            found.append(path)
            if len(found) > MAX_INPUT_FILES:
                raise JobError(f"{input}: more than {MAX_INPUT_FILES} input files")
        return sorted(found)


def _counters(value: dict) -> dict[str, dict[str, int]]:
    counters = Counters()
    for (group, name), n in sorted(value.items()):
        counters.increment(group, name, n)
    return counters.as_dict()


def _spark_error(error: BaseException) -> str:
    """The Python traceback of the failed task out of Spark's Java stack trace."""
    text = str(error)   # py4j's message has the whole Java trace, causes included
    start = text.find("Traceback (most recent call last)")
    if start < 0:
        return text[:MAX_ERROR_CHARS]
    end = text.find("\n\tat ", start)
    return text[start:end if end > 0 else None].strip()[:MAX_ERROR_CHARS]
