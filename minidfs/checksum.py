"""Chunk checksums: xxh3_64 of every chunk_size slice of a buffer. Pure.

Used by the DataNode (verify what it receives, store it in the meta file, the
block scanner) and by the client streams (checksum what they send, verify what
they read). A chunk is the unit of checksums; it equals the pipeline's packet.
"""
from __future__ import annotations

from typing import Sequence

import xxhash

CHUNK_SIZE_BYTES = 64 * 1024

_digest = xxhash.xxh3_64_intdigest


def chunk_count(length: int, chunk_size: int = CHUNK_SIZE_BYTES) -> int:
    """How many chunks cover `length` bytes (the last one may be short)."""
    return -(-length // chunk_size)


def checksum_chunks(data: bytes | bytearray | memoryview,
                    chunk_size: int = CHUNK_SIZE_BYTES) -> list[int]:
    """One xxh3_64 per chunk_size slice of data; [] for empty data."""
    view = memoryview(data)
    return [_digest(view[i:i + chunk_size]) for i in range(0, len(view), chunk_size)]


def first_bad_chunk(data: bytes | bytearray | memoryview, checksums: Sequence[int],
                    chunk_size: int = CHUNK_SIZE_BYTES) -> int | None:
    """Index of the first chunk of data that does not match checksums, or None if all do.

    A missing checksum counts as a mismatch of that chunk, and a checksum with no
    data behind it as a mismatch at the end, so a short meta never passes."""
    view = memoryview(data)
    expected = chunk_count(len(view), chunk_size)
    for index in range(min(expected, len(checksums))):
        start = index * chunk_size
        if _digest(view[start:start + chunk_size]) != checksums[index]:
            return index
    if len(checksums) != expected:
        return min(expected, len(checksums))
    return None
