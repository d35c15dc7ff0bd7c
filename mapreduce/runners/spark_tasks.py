"""What the Spark runner's tasks run on the executors: the map side and the reduce side
of one step of a Job, over Spark partitions instead of splits and shuffle files.

Called only through mapreduce/runners/spark.py, which sends these module-level
functions (by reference) with plain data: the job's package (module source, class
name, shipped files), so executors import the job exactly as a Worker's task child
does (mapreduce/worker/loader.py) and need nothing but this package installed.

  map partition     a fresh job instance per partition; mapper_init, the mapper over
                    the partition's (offset, line) records in batches, mapper_final,
                    into the engine's own MapOutputBuffer (partitioner, sum fast path,
                    combiner, spills), whose sorted segments come out as
                    ((partition, key bytes), value bytes) records;
  reduce partition  Spark's repartitionAndSortWithinPartitions put each partition's
                    records in the engine's key order (keys.sort_key); runs of equal
                    key bytes are one group, as in merge.groups; reducer_init,
                    reducer per group, reducer_final, each pair through format_output.

Counters go to a Spark accumulator once per task (Spark may re-run a task, and its
additions then count twice, as Spark's own documentation warns).
"""
from __future__ import annotations

import hashlib
import itertools
import os
import pathlib
import shutil
import tempfile
from typing import Any, Iterable, Iterator

from mapreduce import counters as C
from mapreduce import keys
from mapreduce.counters import Counters
from mapreduce.mapside import MapOutputBuffer
from mapreduce.runfile import iter_segment
from mapreduce.usercode import batch_mapper, pairs, run_hook

BATCH_RECORDS = 512

try:
    from pyspark.accumulators import AccumulatorParam
except ImportError:   # the driver checks for pyspark before anything uses this module
    AccumulatorParam = object   # type: ignore[assignment,misc]


class CountersParam(AccumulatorParam):   # type: ignore[misc,valid-type]
    """A Spark accumulator of counters: {(group, name): n}."""

    def zero(self, value: dict) -> dict:
        return {}

    def addInPlace(self, total: dict, more: Any) -> dict:
        items = more.items() if isinstance(more, dict) else (((g, n), v) for g, n, v in more)
        for name, n in items:
            total[name] = total.get(name, 0) + n
        return total


# One loaded job class per package in an executor's Python process.
_loaded: dict[str, tuple[type, dict[str, str]]] = {}


def job_instance(package: dict, step_index: int | None) -> Any:
    """A fresh instance of the package's job class, its shipped files bound."""
    digest = package["digest"]
    if digest not in _loaded:
        from mapreduce.worker.loader import load_job_class

        folder = tempfile.mkdtemp(prefix="minidfs-spark-job-")
        for name, data in [(package["module_file"], package["source"]), *package["files"].items()]:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        if package["env"]:
            os.environ.update(package["env"])
        job_class = load_job_class(pathlib.Path(folder), package["module_name"],
                                   package["module_file"], package["class_name"])
        _loaded[digest] = (job_class, {n: os.path.join(folder, n) for n in package["files"]})
    job_class, files = _loaded[digest]
    job = job_class()
    job._bind_files(files)
    if step_index is not None:
        job._step_index = step_index
    return job


def package_digest(module_name: str, class_name: str, source: bytes, files: dict) -> str:
    h = hashlib.sha256(f"{module_name}:{class_name}".encode())
    h.update(source)
    for name in sorted(files):
        h.update(name.encode())
        h.update(files[name])
    return h.hexdigest()


def map_partition(package: dict, step_index: int | None, num_reducers: int,
                  input_path: str | None, accumulator: Any,
                  records: Iterable[tuple[Any, str]]) -> Iterator[Any]:
    """The map side of one partition: ((partition, key bytes), value bytes) records,
    or with no reducers the formatted output lines."""
    job = job_instance(package, step_index)
    counters = Counters()
    job._begin_task(counters, input_path)
    counters.increment(C.JOB, "launched_maps")
    if job.input_bytes:
        records = _encoded(records)
    if num_reducers == 0:
        yield from _map_only(job, counters, records)
        accumulator.add(counters.triples())
        return
    scratch = tempfile.mkdtemp(prefix="minidfs-spark-map-")
    try:
        buffer = MapOutputBuffer(num_reducers, scratch, counters,
                                 spill_threshold_bytes=job.spill_threshold_bytes,
                                 partitioner=job.partitioner, combiner=job.combiner)
        batched = batch_mapper(job)
        buffer.collect_pairs(job.mapper_init(), "mapper_init")
        mapper = job.mapper
        records_in = 0
        iterator = iter(records)
        while batch := list(itertools.islice(iterator, BATCH_RECORDS)):
            if batched is not None:
                buffer.collect_pairs(batched(*map(list, zip(*batch))), "mapper_batch")
            else:
                buffer.collect_mapped(mapper, batch)
            records_in += len(batch)
        buffer.collect_pairs(job.mapper_final(), "mapper_final")
        counters.increment(C.FRAMEWORK, "map_input_records", records_in)
        output = buffer.finish()
        for partition, segment in enumerate(output.segments):
            for key_bytes, value_bytes in iter_segment(output.path, segment):
                yield (partition, key_bytes), value_bytes
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    accumulator.add(counters.triples())


def _encoded(records: Iterable[tuple[Any, str]]) -> Iterator[tuple[Any, bytes]]:
    """A Job's input_bytes on Spark: PySpark hands Hadoop's Text over decoded (bytes
    that were not UTF-8 replaced), so the lines are encoded back."""
    for offset, line in records:
        yield offset, line.encode("utf-8")


def _map_only(job: Any, counters: Counters, records: Iterable[tuple[Any, str]]) -> Iterator[str]:
    lines = _Lines(job.format_output)
    batched = batch_mapper(job)
    run_hook(job.mapper_init, lines.add, "mapper_init")
    yield from lines.take()
    mapper = job.mapper
    records_in = 0
    if batched is not None:
        iterator = iter(records)
        while batch := list(itertools.islice(iterator, BATCH_RECORDS)):
            records_in += len(batch)
            for key, value in pairs(batched(*map(list, zip(*batch))), "mapper_batch"):
                lines.add(key, value)
            yield from lines.take()
    else:
        for offset, line in records:
            records_in += 1
            for key, value in pairs(mapper(offset, line), "mapper"):
                lines.add(key, value)
            yield from lines.take()
    run_hook(job.mapper_final, lines.add, "mapper_final")
    yield from lines.take()
    counters.increment(C.FRAMEWORK, "map_input_records", records_in)
    counters.increment(C.FRAMEWORK, "map_output_records", lines.records)
    counters.increment(C.FRAMEWORK, "output_bytes", lines.bytes)


class _Lines:
    """Formatted output lines as they are made, counted like TextWriter counts them."""

    def __init__(self, formatter: Any) -> None:
        self._formatter = formatter
        self._pending: list[str] = []
        self.records = 0
        self.bytes = 0

    def add(self, key: Any, value: Any) -> None:
        line = self._formatter(key, value)
        if not isinstance(line, str):
            raise TypeError(f"format_output must return str, got {type(line).__name__}")
        self._pending.append(line)
        self.records += 1
        self.bytes += len(line.encode("utf-8", "surrogateescape")) + 1

    def take(self) -> list[str]:
        out, self._pending = self._pending, []
        return out


def partition_of(record_key: tuple[int, bytes]) -> int:
    """Spark's partitionFunc: the partition the job's partitioner chose on the map side."""
    return record_key[0]


def sort_key_of(record_key: tuple[int, bytes]) -> tuple:
    """Spark's keyfunc: the engine's order of keys within a partition."""
    return keys.sort_key(keys.unpack_key(record_key[1]))


def reduce_partition(package: dict, step_index: int | None, accumulator: Any,
                     records: Iterable[tuple[tuple[int, bytes], bytes]]) -> Iterator[str]:
    """The reduce side of one partition, sorted by key: the formatted output lines."""
    job = job_instance(package, step_index)
    counters = Counters()
    job._begin_task(counters, None)
    counters.increment(C.JOB, "launched_reduces")
    lines = _Lines(job.format_output)
    run_hook(job.reducer_init, lines.add, "reducer_init")
    yield from lines.take()
    reducer = job.reducer
    consumed = [0]
    groups = 0

    def values(group: Iterator[tuple[tuple[int, bytes], bytes]]) -> Iterator[Any]:
        for _, value_bytes in group:
            consumed[0] += 1
            yield keys.unpack_value(value_bytes)

    for key_bytes, group in itertools.groupby(records, key=_key_bytes):
        key = keys.unpack_key(key_bytes)
        for out_key, out_value in pairs(reducer(key, values(group)), "reducer"):
            lines.add(out_key, out_value)
        groups += 1
        yield from lines.take()
    run_hook(job.reducer_final, lines.add, "reducer_final")
    yield from lines.take()
    counters.increment(C.FRAMEWORK, "reduce_input_groups", groups)
    counters.increment(C.FRAMEWORK, "reduce_input_records", consumed[0])
    counters.increment(C.FRAMEWORK, "reduce_output_records", lines.records)
    counters.increment(C.FRAMEWORK, "output_bytes", lines.bytes)
    accumulator.add(counters.triples())


def _key_bytes(record: tuple[tuple[int, bytes], bytes]) -> bytes:
    return record[0][1]


def line_record(line: str) -> tuple[int, str]:
    """A previous step's output line as a map input record (steps ignore the offset)."""
    return 0, line
