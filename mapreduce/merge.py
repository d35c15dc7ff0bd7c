"""External k-way merge of sorted runs, and grouping of merged records by key. Pure
apart from local file I/O.

Used by the map side (merging spills into the final map output) and the reduce side
(merging the partitions fetched from every map). At most MERGE_FACTOR runs are open at
once: with more, the first runs are merged into intermediate run files in a scratch
folder (Hadoop's io.sort.factor), so memory is one read buffer per open run, never the
data. Records with equal keys keep run order (heapq.merge is stable and passes merge
contiguous runs into the front), so a map's values reach the reducer in emit order.
"""
from __future__ import annotations

import heapq
import itertools
import os
from operator import itemgetter
from typing import Iterable, Iterator

from mapreduce import keys
from mapreduce.runfile import RunWriter, Segment, iter_segment

MERGE_FACTOR = 32

Run = tuple[str, Segment]          # (run file path, segment in it)
Record = tuple[tuple, bytes, bytes]  # (sort key, key bytes, value bytes)

_first = itemgetter(0)


def sorted_records(run: Run) -> Iterator[Record]:
    path, segment = run
    sort_key, unpack_key = keys.sort_key, keys.unpack_key
    for key_bytes, value_bytes in iter_segment(path, segment):
        yield sort_key(unpack_key(key_bytes)), key_bytes, value_bytes


def merge(runs: Iterable[Run], scratch_dir: str, fan_in: int = MERGE_FACTOR) -> Iterator[Record]:
    """All records of the runs in key order, with at most fan_in runs open at a time."""
    if fan_in < 2:
        raise ValueError("merge fan-in must be at least 2")
    pending = [run for run in runs if run[1].records > 0]
    passes = 0
    while len(pending) > fan_in:
        # Merge just enough of the first runs that the last pass has fan_in runs.
        take = min(fan_in, len(pending) - fan_in + 1)
        batch, pending = pending[:take], pending[take:]
        path = os.path.join(scratch_dir, f"merge-pass-{passes}.run")
        passes += 1
        with RunWriter(path) as writer:
            writer.begin()
            for _, key_bytes, value_bytes in heapq.merge(*map(sorted_records, batch), key=_first):
                writer.add(key_bytes, value_bytes)
            pending.insert(0, (path, writer.end()))
    return heapq.merge(*map(sorted_records, pending), key=_first)


def groups(records: Iterable[Record]) -> Iterator[tuple[bytes, Iterator[bytes]]]:
    """(key bytes, iterator of value bytes) for each run of equal keys."""
    for _, group in itertools.groupby(records, key=_first):
        _, key_bytes, first_value = next(group)
        yield key_bytes, itertools.chain((first_value,), map(_value_bytes, group))


def _value_bytes(record: Record) -> bytes:
    return record[2]
