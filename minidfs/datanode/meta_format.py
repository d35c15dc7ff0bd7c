"""The replica meta file format (`blk_<id>_<genstamp>.meta`). Pure: bytes in, values out.

Layout, all little-endian:

    offset 0   8 bytes  magic b"MDFSMETA"
    offset 8   u16      format version (1)
    offset 10  u16      reserved, 0
    offset 12  u32      chunk size in bytes
    offset 16  u64 * n  xxh3_64 of each chunk of the block file, in order

A finalized replica of L bytes has exactly ceil(L / chunk size) checksums. Anything
else (missing file, short header, wrong magic or version, a torn checksum, a count
that does not match the block) makes the replica CORRUPT: there is no "replica
without checksums". Used by datanode/storage.py and the block scanner.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from minidfs.checksum import chunk_count
from minidfs.errors import ChecksumError

MAGIC = b"MDFSMETA"
VERSION = 1
HEADER = struct.Struct("<8sHHI")
HEADER_BYTES = HEADER.size
CHECKSUM_BYTES = 8
# Chunk sizes a meta file may declare: anything else is garbage, not a format.
MIN_CHUNK_SIZE_BYTES = 512
MAX_CHUNK_SIZE_BYTES = 4 * 1024 * 1024


class MetaCorrupt(ChecksumError):
    """A meta file that cannot vouch for its block."""


@dataclass(frozen=True)
class Meta:
    chunk_size: int
    checksums: list[int]


def valid_chunk_size(chunk_size: int) -> bool:
    return MIN_CHUNK_SIZE_BYTES <= chunk_size <= MAX_CHUNK_SIZE_BYTES


def encode_header(chunk_size: int) -> bytes:
    if not valid_chunk_size(chunk_size):
        raise ValueError(f"chunk size {chunk_size} out of range")
    return HEADER.pack(MAGIC, VERSION, 0, chunk_size)


def encode_checksums(checksums: list[int]) -> bytes:
    return struct.pack(f"<{len(checksums)}Q", *checksums)


def checksum_offset(chunk_index: int) -> int:
    """Byte offset in the meta file of the checksum of chunk `chunk_index`."""
    return HEADER_BYTES + chunk_index * CHECKSUM_BYTES


def decode_header(data: bytes) -> int:
    """The chunk size a meta header declares; MetaCorrupt if it is not a valid header."""
    if len(data) < HEADER_BYTES:
        raise MetaCorrupt(f"meta header truncated ({len(data)} bytes)")
    magic, version, reserved, chunk_size = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise MetaCorrupt("meta header has a wrong magic")
    if version != VERSION or reserved != 0:
        raise MetaCorrupt(f"meta format version {version} not supported")
    if not valid_chunk_size(chunk_size):
        raise MetaCorrupt(f"meta declares an invalid chunk size {chunk_size}")
    return chunk_size


def decode_checksums(data: bytes | memoryview) -> list[int]:
    if len(data) % CHECKSUM_BYTES:
        raise MetaCorrupt("meta ends in a torn checksum")
    return list(struct.unpack(f"<{len(data) // CHECKSUM_BYTES}Q", data))


def decode(data: bytes) -> Meta:
    """Header and every checksum of a meta file's contents."""
    chunk_size = decode_header(data)
    return Meta(chunk_size, decode_checksums(memoryview(data)[HEADER_BYTES:]))


def decode_finalized(data: bytes, block_length: int) -> Meta:
    """Like decode, and the checksums must cover a block of block_length exactly."""
    meta = decode(data)
    expected = chunk_count(block_length, meta.chunk_size)
    if len(meta.checksums) != expected:
        raise MetaCorrupt(
            f"meta has {len(meta.checksums)} checksums for {block_length} bytes "
            f"(expected {expected})")
    return meta


def rbw_length(data: bytes, block_file_length: int) -> tuple[Meta, int]:
    """A replica being written: its meta and the length its checksums vouch for.

    The block file may run ahead of the meta (a crash between the two writes), so
    the replica is only as long as the chunks that have a checksum."""
    meta = decode(data)
    return meta, min(block_file_length, len(meta.checksums) * meta.chunk_size)
