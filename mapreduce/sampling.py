"""Input sampling and range partitioning for total-order jobs (Hadoop's InputSampler
and TotalOrderPartitioner).

Called on the client before submission (e.g. examples/sort.py): `sample_lines` reads a
few lines from evenly spaced splits of the input through the same splits and record
reader the map tasks use; `range_boundaries` picks R-1 cut points from the sample; a
job's partitioner then calls `range_partition(key, boundaries)`, so partition i holds
keys below partition i+1's and the concatenated part files are globally sorted.
"""
from __future__ import annotations

import bisect
import os
from typing import Any, Sequence

from mapreduce import keys
from mapreduce.fs import FileSystem, LocalFileSystem, plan_splits
from mapreduce.linereader import LineRecordReader

MAX_SAMPLES = 100_000


def filesystem(runner: str, conf: str | os.PathLike[str] | None = None) -> FileSystem:
    """The file system a runner reads input from: local files inline, else the DFS."""
    if runner == "inline":
        return LocalFileSystem()
    from mapreduce.dfs import DfsFileSystem

    return DfsFileSystem.from_conf(conf)


def sample_lines(fs: FileSystem, input_path: str, samples: int = 1000, max_splits: int = 10,
                 split_size_bytes: int | None = None) -> list[str]:
    """Up to `samples` lines, taken from the start of up to max_splits evenly spaced splits."""
    samples = min(samples, MAX_SAMPLES)
    splits = plan_splits(fs, input_path, split_size_bytes)
    if not splits or samples <= 0:
        return []
    step = max(1, len(splits) // max_splits)
    chosen = splits[::step][:max_splits]
    per_split = -(-samples // len(chosen))
    found: list[str] = []
    for split in chosen:
        with fs.open_read(split.path) as stream:
            for i, (_, line) in enumerate(LineRecordReader(stream, split.start, split.length)):
                if i >= per_split:
                    break
                found.append(line)
    return found[:samples]


def range_boundaries(sample_keys: Sequence[Any], num_partitions: int) -> list[Any]:
    """num_partitions - 1 cut points splitting the sorted sample into equal parts."""
    if num_partitions <= 1 or not sample_keys:
        return []
    ordered = sorted(sample_keys, key=keys.sort_key)
    cuts = []
    for i in range(1, num_partitions):
        cut = ordered[min(len(ordered) - 1, i * len(ordered) // num_partitions)]
        if not cuts or keys.sort_key(cut) != keys.sort_key(cuts[-1]):
            cuts.append(cut)
    return cuts


def range_partition(key: Any, boundaries: Sequence[Any], num_partitions: int,
                    boundary_sort_keys: Sequence[tuple] | None = None) -> int:
    """The partition of key: the number of cut points at or below it (capped at R-1)."""
    sort_keys = boundary_sort_keys if boundary_sort_keys is not None else [
        keys.sort_key(b) for b in boundaries]
    return min(num_partitions - 1, bisect.bisect_right(sort_keys, keys.sort_key(key)))
