"""Edit-log record framing: bytes in, bytes out. Pure (no files, no clock).

A record on disk is

    [u32 payload length][u64 xxh3_64 of payload][payload = msgpack {txid, op, ...}]

little-endian, back to back. file_journal.py writes frames with `encode` and reads
segments with `SegmentReader`, which tells a torn tail from corruption:

- torn tail: the frame at some offset is bad (header cut short, payload cut short,
  checksum mismatch, zero length) and no valid frame starts anywhere after it. A
  crash in the middle of an append leaves exactly that. Only allowed in the
  newest, in-progress segment; the caller cuts the file at `valid_end`.
- corruption: anything else (a bad frame followed by a good one, a frame whose
  checksum is right but whose payload is not a record, a torn tail in a finalized
  segment) raises EditLogCorrupt naming the file and offset.

Scanning for a later valid frame matters when a flipped bit hits a length field:
the frame then seems to run past the end of the file, which alone would look torn.
"""
from __future__ import annotations

import struct
from typing import Any, Iterator

import msgpack
import xxhash

from minidfs.errors import EditLogCorrupt

HEADER = struct.Struct("<IQ")
MAX_RECORD_BYTES = 1 << 20


def encode(record: dict[str, Any]) -> bytes:
    payload = msgpack.packb(record, use_bin_type=True)
    if len(payload) > MAX_RECORD_BYTES:
        raise ValueError(f"edit record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}")
    return HEADER.pack(len(payload), xxhash.xxh3_64_intdigest(payload)) + payload


def _frame_ok(data: memoryview, pos: int) -> int:
    """End offset of a frame with a matching checksum starting at pos, else -1."""
    if len(data) - pos < HEADER.size:
        return -1
    length, checksum = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if length == 0 or length > MAX_RECORD_BYTES or end > len(data):
        return -1
    if xxhash.xxh3_64_intdigest(data[pos + HEADER.size:end]) != checksum:
        return -1
    return end


class SegmentReader:
    """Iterates (offset, record) over one segment's bytes. After the iteration,
    `valid_end` is where the last good frame ends and `torn` says whether bytes
    after it were a torn tail (only possible with allow_torn_tail)."""

    def __init__(self, data: bytes, name: str, allow_torn_tail: bool) -> None:
        self.data = memoryview(data)
        self.name = name
        self.allow_torn_tail = allow_torn_tail
        self.valid_end = 0
        self.torn = False

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        data, pos = self.data, 0
        while pos < len(data):
            end = _frame_ok(data, pos)
            if end < 0:
                self._bad_frame(pos)
                return
            try:
                record = msgpack.unpackb(data[pos + HEADER.size:end], raw=False)
            except (ValueError, msgpack.UnpackException) as e:
                raise EditLogCorrupt(f"{self.name}: undecodable edit record at offset {pos}: {e}") from None
            if not isinstance(record, dict) or not isinstance(record.get("txid"), int):
                raise EditLogCorrupt(f"{self.name}: edit record at offset {pos} has no txid")
            yield pos, record
            pos = self.valid_end = end

    def _bad_frame(self, pos: int) -> None:
        later = next((p for p in range(pos + 1, len(self.data)) if _frame_ok(self.data, p) >= 0), None)
        if self.allow_torn_tail and later is None:
            self.torn = True
            return
        where = f"a valid record follows at offset {later}" if later is not None else "finalized segment"
        raise EditLogCorrupt(f"{self.name}: corrupt edit record at offset {pos} ({where})")
