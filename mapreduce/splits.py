"""Input splits: one map task per block of each input file. Pure.

The JobTracker makes them from the NameNode's block list (`block_splits`), the inline
runner from local file sizes and a split size (`fixed_splits`); both then hand them to
the same map task code. Zero-length files make no split (they have no lines).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


@dataclass(frozen=True)
class Split:
    path: str
    start: int
    length: int
    # Names of the DataNodes holding this block's replicas (empty for local files).
    locations: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"path": self.path, "start": self.start, "length": self.length,
                "locations": list(self.locations)}


@dataclass(frozen=True)
class BlockInfo:
    length: int
    locations: tuple[str, ...] = ()


def block_splits(path: str, blocks: Sequence[BlockInfo]) -> list[Split]:
    """One split per non-empty block, at the block's offset in the file."""
    splits = []
    offset = 0
    for block in blocks:
        if block.length > 0:
            splits.append(Split(path, offset, block.length, tuple(block.locations)))
        offset += block.length
    return splits


def fixed_splits(path: str, file_length: int, split_size_bytes: int) -> list[Split]:
    """Splits of split_size_bytes (the last one shorter) covering [0, file_length)."""
    if split_size_bytes <= 0:
        raise ValueError(f"split size must be positive, got {split_size_bytes}")
    return [Split(path, start, min(split_size_bytes, file_length - start))
            for start in range(0, file_length, split_size_bytes)]
