"""The map-side output buffer: partition, sort, combine, spill, merge. Pure apart from
local file I/O in the task's scratch folder.

Created by the map task (tasks.run_map_task) for every map attempt with reducers > 0,
inline or on a Worker. `collect(key, value)` encodes the pair, picks its partition and
keeps it in memory; when the estimated memory passes the spill threshold, every
partition is sorted by key, combined, and written as one spill run with a segment per
partition. `finish()` merges the spills per partition (combining again) into the one
map output file + index that reducers fetch from. Memory is bounded by the threshold,
not by the split: a 64 MiB split with a 16 MiB threshold spills about five times.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator

from mapreduce import counters as C
from mapreduce import keys, merge
from mapreduce.counters import Counters
from mapreduce.runfile import RunWriter, Segment, write_index
from mapreduce.usercode import pairs

from minidfs.errors import JobError

DEFAULT_SPILL_THRESHOLD_BYTES = 16 * 1024 * 1024
# Python's cost of one buffered record beyond its encoded bytes: the record tuple, the
# sort-key tuple and two bytes objects. An estimate; what matters is that it scales
# with the record count, so many tiny records also spill.
RECORD_OVERHEAD_BYTES = 200
MIN_SPILL_THRESHOLD_BYTES = 4 * 1024

Combiner = Callable[[Any, Iterable[Any]], Any]

_first = itemgetter(0)


@dataclass(frozen=True)
class MapOutput:
    """The final sorted map output: one file, one segment per partition."""

    path: str
    index_path: str
    segments: list[Segment]


class MapOutputBuffer:
    def __init__(self, num_partitions: int, scratch_dir: str, counters: Counters,
                 spill_threshold_bytes: int = DEFAULT_SPILL_THRESHOLD_BYTES,
                 partitioner: Callable[[Any, int], int] | None = None,
                 combiner: Combiner | None = None) -> None:
        if num_partitions < 1:
            raise ValueError("a map output buffer needs at least one partition")
        self._num_partitions = num_partitions
        self._scratch_dir = scratch_dir
        self._counters = counters
        self._threshold = max(MIN_SPILL_THRESHOLD_BYTES, int(spill_threshold_bytes))
        self._partitioner = partitioner
        self._combiner = combiner
        self._parts: list[list[tuple[tuple, bytes, bytes]]] = [[] for _ in range(num_partitions)]
        self._buffered_bytes = 0
        self._spills: list[tuple[str, list[Segment]]] = []
        self._records = 0
        self._output_bytes = 0

    def collect(self, key: Any, value: Any) -> None:
        key_bytes = keys.pack(key, "map output key")
        value_bytes = keys.pack(value, "map output value")
        if self._partitioner is None:
            part = keys.hash_partition(key_bytes, self._num_partitions)
        else:
            part = keys.checked_partition(self._partitioner, key, self._num_partitions)
        self._parts[part].append((keys.sort_key(key), key_bytes, value_bytes))
        size = len(key_bytes) + len(value_bytes)
        self._records += 1
        self._output_bytes += size
        self._buffered_bytes += size + len(key_bytes) + RECORD_OVERHEAD_BYTES
        if self._buffered_bytes >= self._threshold:
            self._spill()

    def finish(self) -> MapOutput:
        """Spills what is left and merges all spills into the final output file."""
        self._counters.increment(C.FRAMEWORK, "map_output_records", self._records)
        self._counters.increment(C.FRAMEWORK, "map_output_bytes", self._output_bytes)
        if self._buffered_bytes or not self._spills:
            self._spill()
        out_path = os.path.join(self._scratch_dir, "file.out")
        index_path = out_path + ".index"
        if len(self._spills) == 1:
            os.replace(self._spills[0][0], out_path)
            segments = self._spills[0][1]
        else:
            segments = self._merge_spills(out_path)
            for path, _ in self._spills:
                os.remove(path)
        write_index(index_path, segments)
        return MapOutput(out_path, index_path, segments)

    def _spill(self) -> None:
        path = os.path.join(self._scratch_dir, f"spill-{len(self._spills)}.run")
        with RunWriter(path) as writer:
            for records in self._parts:
                records.sort(key=_first)
                writer.begin()
                self._write_sorted(writer, records)
                segment = writer.end()
                self._counters.increment(C.FRAMEWORK, "spilled_records", segment.records)
                records.clear()
        self._spills.append((path, writer.segments))
        self._counters.increment(C.FRAMEWORK, "map_spills")
        self._buffered_bytes = 0

    def _merge_spills(self, out_path: str) -> list[Segment]:
        with RunWriter(out_path) as writer:
            for part in range(self._num_partitions):
                runs = [(path, segments[part]) for path, segments in self._spills]
                writer.begin()
                self._write_sorted(writer, merge.merge(runs, self._scratch_dir))
                writer.end()
        return writer.segments

    def _write_sorted(self, writer: RunWriter, records: Iterable[tuple[tuple, bytes, bytes]]) -> None:
        if self._combiner is None:
            for _, key_bytes, value_bytes in records:
                writer.add(key_bytes, value_bytes)
            return
        for _, group in itertools.groupby(records, key=_first):
            for key_bytes, value_bytes in combine(self._combiner, group, self._counters):
                writer.add(key_bytes, value_bytes)


def combine(combiner: Combiner, group: Iterator[tuple[tuple, bytes, bytes]],
            counters: Counters) -> Iterator[tuple[bytes, bytes]]:
    """Runs the combiner on one key's records (streamed); it may not change the key."""
    sort_key, key_bytes, first_value = next(group)
    key = keys.unpack_key(key_bytes)
    consumed = [0]

    def values() -> Iterator[Any]:
        for value_bytes in itertools.chain((first_value,), (r[2] for r in group)):
            consumed[0] += 1
            yield keys.unpack_value(value_bytes)

    produced = 0
    for out_key, out_value in pairs(combiner(key, values()), "combiner"):
        if keys.sort_key(out_key) != sort_key:
            raise JobError(f"combiner must keep the key: got {out_key!r:.80} for {key!r:.80}")
        produced += 1
        yield keys.pack(out_key, "combiner output key"), keys.pack(out_value, "combiner output value")
    counters.increment(C.FRAMEWORK, "combine_input_records", consumed[0])
    counters.increment(C.FRAMEWORK, "combine_output_records", produced)
