"""The NameNode's edit-record framing, as JournalNodes and the quorum journal need it.

A thin layer over minidfs/namenode/editlog_format.py (the one definition of the
framing): check that a batch from the wire is whole, checksummed and carries the
txids it claims; scan a segment file at start-up; walk frames in a file to serve
ranges of txids without decoding them. Used by journal_storage.py and by
minidfs/qjournal/ (decoding what a tailer fetched).
"""
from __future__ import annotations

import pathlib
from typing import Any, BinaryIO, Iterator

from minidfs.errors import ChecksumError, EditLogCorrupt, InvalidArgument
from minidfs.namenode.editlog_format import HEADER, SegmentReader


def decode_batch(records: bytes, first_txid: int, num_txns: int,
                 source: str = "batch") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yields (txid, record) of a batch of frames; every frame must be whole and
    checksummed, and the txids must be first_txid, first_txid + 1, ... num_txns of them."""
    expected = first_txid
    try:
        for offset, record in SegmentReader(records, source, allow_torn_tail=False):
            if record["txid"] != expected:
                raise InvalidArgument(
                    f"{source}: txid {record['txid']} at offset {offset}, expected {expected}")
            if expected - first_txid >= num_txns:
                raise InvalidArgument(f"{source}: more than the {num_txns} records announced")
            yield expected, record
            expected += 1
    except EditLogCorrupt as e:
        raise ChecksumError(str(e)) from None
    if expected - first_txid != num_txns:
        raise InvalidArgument(
            f"{source}: {expected - first_txid} records, {num_txns} announced")


def check_batch(records: bytes, first_txid: int, num_txns: int) -> None:
    for _ in decode_batch(records, first_txid, num_txns):
        pass


def scan_segment(path: pathlib.Path, first_txid: int) -> tuple[int, int]:
    """(last txid, end of the last good frame) of an in-progress segment file. A torn
    tail is allowed (the caller cuts it); anything else bad raises EditLogCorrupt."""
    reader = SegmentReader(path.read_bytes(), str(path), allow_torn_tail=True)
    expected = first_txid
    for offset, record in reader:
        if record["txid"] != expected:
            raise EditLogCorrupt(
                f"{path}: txid {record['txid']} at offset {offset}, expected {expected}")
        expected += 1
    return expected - 1, reader.valid_end


def _frame_length(f: BinaryIO, where: str) -> int:
    header = f.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EditLogCorrupt(f"{where}: segment ends inside a record header")
    length, _ = HEADER.unpack(header)
    return HEADER.size + length


def offset_of(f: BinaryIO, segment_first: int, txid: int) -> int:
    """Byte offset of txid's frame in a segment file (frames were verified when written)."""
    offset = 0
    for _ in range(txid - segment_first):
        f.seek(offset)
        offset += _frame_length(f, f"{getattr(f, 'name', 'segment')} txid {txid}")
    return offset


def read_frames(f: BinaryIO, first_txid: int, upto_txid: int,
                max_bytes: int) -> tuple[bytes, int]:
    """Reads whole frames from the current position: txids first_txid..upto_txid, at
    least one, then more while the total stays within max_bytes. (data, count)."""
    chunks: list[bytes] = []
    total = 0
    txid = first_txid
    while txid <= upto_txid:
        start = f.tell()
        size = _frame_length(f, f"{getattr(f, 'name', 'segment')} txid {txid}")
        if chunks and total + size > max_bytes:
            break
        f.seek(start)
        frame = f.read(size)
        if len(frame) < size:
            raise EditLogCorrupt(f"{getattr(f, 'name', 'segment')}: txid {txid} is cut short")
        chunks.append(frame)
        total += size
        txid += 1
    return b"".join(chunks), txid - first_txid
