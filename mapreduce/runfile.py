"""Sorted runs on local disk: the format of spills, map output files and fetched partitions.

Written by the map-side buffer (spills, the merged map output), the merger (intermediate
passes) and the reducer (partitions fetched from Workers); read by the merger and the
Worker's shuffle server. Pure apart from local file I/O.

A run file is a sequence of segments, one per partition. A segment is a msgpack stream
of records, each a 2-array `[key_bytes, value_bytes]` (both msgpack `bin`: the key and
value stay in their own msgpack encoding, so merging without a combiner never decodes a
value and a key's bytes are what the partitioner hashed). The index says, per segment,
its offset, length, record count and xxh3-64 checksum; the reducer verifies the
checksum of every partition it fetches.

Map output is not fsynced: a Worker that crashes loses its map outputs anyway and the
JobTracker re-runs those maps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import msgpack
import xxhash

from minidfs.errors import InvalidArgument

WRITE_BUFFER_BYTES = 1024 * 1024
READ_CHUNK_BYTES = 256 * 1024
# The largest single record (key + value) a run may hold; msgpack refuses longer ones.
MAX_RECORD_BYTES = 64 * 1024 * 1024
INDEX_VERSION = 1


@dataclass(frozen=True)
class Segment:
    """One partition's sorted records inside a run file."""

    offset: int
    length: int
    records: int
    checksum: int

    def as_list(self) -> list[int]:
        return [self.offset, self.length, self.records, self.checksum]


EMPTY_CHECKSUM = xxhash.xxh3_64_intdigest(b"")


class RunWriter:
    """Writes segments one after another: begin(), add(kb, vb)..., end() -> Segment."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file: BinaryIO = open(self.path, "wb", buffering=WRITE_BUFFER_BYTES)
        self._packer = msgpack.Packer(use_bin_type=True)
        self._offset = 0
        self._start = 0
        self._records = 0
        self._hash = xxhash.xxh3_64()
        self.segments: list[Segment] = []

    def begin(self) -> None:
        self._start = self._offset
        self._records = 0
        self._hash.reset()

    def add(self, key_bytes: bytes, value_bytes: bytes) -> None:
        data = self._packer.pack((key_bytes, value_bytes))
        self._file.write(data)
        self._hash.update(data)
        self._offset += len(data)
        self._records += 1

    def end(self) -> Segment:
        segment = Segment(self._start, self._offset - self._start, self._records,
                          self._hash.intdigest())
        self.segments.append(segment)
        return segment

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_segment(path: str | os.PathLike[str], segment: Segment) -> Iterator[tuple[bytes, bytes]]:
    """The (key_bytes, value_bytes) records of one segment, streamed in bounded chunks."""
    if segment.records == 0:
        return
    unpacker = msgpack.Unpacker(use_list=False, raw=False, max_buffer_size=MAX_RECORD_BYTES)
    with open(path, "rb") as f:
        f.seek(segment.offset)
        remaining = segment.length
        while remaining > 0:
            chunk = f.read(min(READ_CHUNK_BYTES, remaining))
            if not chunk:
                raise InvalidArgument(f"{path}: run file shorter than its index")
            remaining -= len(chunk)
            unpacker.feed(chunk)
            yield from unpacker


def write_index(path: str | os.PathLike[str], segments: list[Segment]) -> None:
    data = msgpack.packb({"version": INDEX_VERSION, "segments": [s.as_list() for s in segments]})
    tmp = os.fspath(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_index(path: str | os.PathLike[str]) -> list[Segment]:
    with open(path, "rb") as f:
        data = msgpack.unpackb(f.read(), raw=False)
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        raise InvalidArgument(f"{path}: not a map output index")
    return [Segment(*entry) for entry in data["segments"]]


def whole_file_segment(path: str | os.PathLike[str], records: int, checksum: int) -> Segment:
    """The single segment of a file that holds one partition (a fetched map output)."""
    return Segment(0, os.path.getsize(path), records, checksum)


def checksum_file(path: str | os.PathLike[str], segment: Segment) -> int:
    digest = xxhash.xxh3_64()
    with open(path, "rb") as f:
        f.seek(segment.offset)
        remaining = segment.length
        while remaining > 0:
            chunk = f.read(min(READ_CHUNK_BYTES, remaining))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.intdigest()
