"""The body of a map task and of a reduce task: read, call user code, write.

Called by the inline runner (in-process) and by the Worker's task child (one process
per attempt); neither knows where the bytes come from: the caller opens the input
stream and the output stream (local file or DFS file) and hands in the sorted runs a
reducer merges. User exceptions propagate to the caller, which reports them with
usercode.user_traceback.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator, Sequence

from mapreduce import counters as C
from mapreduce import keys, merge
from mapreduce.counters import Counters
from mapreduce.linereader import LineRecordReader
from mapreduce.mapside import MapOutput, MapOutputBuffer
from mapreduce.splits import Split
from mapreduce.textoutput import TextWriter
from mapreduce.usercode import batch_mapper, pairs, run_hook

if TYPE_CHECKING:
    from mapreduce.job import Job

# How often (in input lines) a map task reports progress; the reporter throttles further.
PROGRESS_EVERY_RECORDS = 512

Progress = Callable[[float], None]


def run_map_task(job: "Job", split: Split, stream: BinaryIO, num_reducers: int,
                 scratch_dir: str, counters: Counters, text_out: BinaryIO | None = None,
                 progress: Progress | None = None) -> MapOutput | None:
    """Maps one split. With reducers, returns the sorted, partitioned map output in
    scratch_dir; map-only (num_reducers == 0), writes text lines to text_out."""
    job._begin_task(counters, input_path=split.path)
    reader = LineRecordReader(stream, split.start, split.length, as_bytes=job.input_bytes)
    writer: TextWriter | None = None
    buffer: MapOutputBuffer | None = None
    if num_reducers == 0:
        if text_out is None:
            raise ValueError("a map-only task needs an output stream")
        writer = TextWriter(text_out, job.format_output)
        emit = writer.write

        def collect_mapped(mapper: Callable[[Any, Any], Any], batch: Any,
                           who: str = "mapper") -> None:
            for offset, line in batch:
                for key, value in pairs(mapper(offset, line), who):
                    writer.write(key, value)
    else:
        buffer = MapOutputBuffer(num_reducers, scratch_dir, counters,
                                 spill_threshold_bytes=job.spill_threshold_bytes,
                                 partitioner=job.partitioner, combiner=job.combiner)
        emit = buffer.collect
        collect_mapped = buffer.collect_mapped
    hook = run_hook if buffer is None else _collect_hook(buffer)
    batched = batch_mapper(job)
    hook(job.mapper_init, emit, "mapper_init")
    if batched is not None:
        # One call per batch: its pairs take the same path as a mapper's.
        for batch in reader.line_batches(PROGRESS_EVERY_RECORDS):
            collect_mapped(_calls_batch, ((batched, batch),), "mapper_batch")
            if progress is not None:
                progress(reader.progress())
    else:
        mapper = job.mapper
        for batch in reader.batches(PROGRESS_EVERY_RECORDS):
            collect_mapped(mapper, batch)
            if progress is not None:
                progress(reader.progress())
    hook(job.mapper_final, emit, "mapper_final")
    counters.increment(C.FRAMEWORK, "map_input_records", reader.records)
    counters.increment(C.FRAMEWORK, "map_input_bytes", reader.bytes_read)
    if writer is not None:
        writer.flush()
        counters.increment(C.FRAMEWORK, "map_output_records", writer.records)
        counters.increment(C.FRAMEWORK, "output_bytes", writer.bytes_written)
        return None
    assert buffer is not None
    return buffer.finish()


def _calls_batch(batched: Callable[[list, list], Any], batch: tuple[list, list]) -> Any:
    """collect_mapped's mapper(key, value) for a mapper_batch: the key is the method."""
    return batched(*batch)


def _collect_hook(buffer: MapOutputBuffer) -> Callable[..., None]:
    """run_hook for a buffered map: what the hook yields takes the buffer's batch
    path (collect_mapped's loop), not one collect() call per pair, which matters
    when a mapper_final emits everything (in-mapper combining, streaming)."""
    def hook(method: Callable[[], Any], _emit: Callable[[Any, Any], None], who: str) -> None:
        buffer.collect_pairs(method(), who)
    return hook


def run_reduce_task(job: "Job", runs: Sequence[merge.Run], scratch_dir: str,
                    text_out: BinaryIO, counters: Counters,
                    progress: Progress | None = None) -> None:
    """Merges the sorted runs of one partition, groups by key, reduces, writes lines."""
    job._begin_task(counters, input_path=None)
    total = sum(segment.records for _, segment in runs)
    writer = TextWriter(text_out, job.format_output)
    run_hook(job.reducer_init, writer.write, "reducer_init")
    reducer = job.reducer
    consumed = [0]
    groups = 0

    def values(first_and_rest: Iterator[bytes]) -> Iterator[Any]:
        for value_bytes in first_and_rest:
            consumed[0] += 1
            yield keys.unpack_value(value_bytes)

    for key_bytes, value_bytes in merge.groups(merge.merge(runs, scratch_dir)):
        key = keys.unpack_key(key_bytes)
        for out_key, out_value in pairs(reducer(key, values(value_bytes)), "reducer"):
            writer.write(out_key, out_value)
        groups += 1
        if progress is not None and groups % PROGRESS_EVERY_RECORDS == 0:
            progress(min(1.0, consumed[0] / max(1, total)))
    run_hook(job.reducer_final, writer.write, "reducer_final")
    writer.flush()
    counters.increment(C.FRAMEWORK, "reduce_input_groups", groups)
    counters.increment(C.FRAMEWORK, "reduce_input_records", total)
    counters.increment(C.FRAMEWORK, "reduce_output_records", writer.records)
    counters.increment(C.FRAMEWORK, "output_bytes", writer.bytes_written)
