"""Edit-log framing: round trip, torn tails at every byte, corruption in the middle."""
from __future__ import annotations

import pytest

from minidfs.errors import EditLogCorrupt
from minidfs.namenode import edits
from minidfs.namenode.editlog_format import HEADER, SegmentReader, encode


def frames(count: int) -> tuple[bytes, list[dict]]:
    records = []
    for txid in range(1, count + 1):
        record = edits.mkdirs(f"/dir{txid}", 1000 + txid)
        record["txid"] = txid
        records.append(record)
    return b"".join(encode(r) for r in records), records


def read(data: bytes, allow_torn: bool) -> tuple[SegmentReader, list[dict]]:
    reader = SegmentReader(data, "seg", allow_torn)
    return reader, [record for _, record in reader]


def test_round_trip() -> None:
    data, records = frames(20)
    reader, got = read(data, allow_torn=False)
    assert got == records and reader.valid_end == len(data) and not reader.torn


def test_torn_tail_at_every_offset_is_cut() -> None:
    data, records = frames(4)
    last_start = len(data) - len(encode(records[-1]))
    for cut in range(last_start, len(data)):
        reader, got = read(data[:cut], allow_torn=True)
        assert got == records[:3], cut
        assert reader.valid_end == last_start
        assert reader.torn == (cut > last_start)


def test_torn_tail_in_a_finalized_segment_is_corruption() -> None:
    data, _ = frames(3)
    with pytest.raises(EditLogCorrupt, match="seg: corrupt edit record at offset"):
        read(data[:-1], allow_torn=False)


def test_checksum_failure_at_the_very_end_is_torn() -> None:
    data, records = frames(3)
    damaged = data[:-1] + bytes([data[-1] ^ 0xFF])
    reader, got = read(damaged, allow_torn=True)
    assert got == records[:2] and reader.torn


def test_zero_filled_tail_is_torn() -> None:
    data, records = frames(3)
    reader, got = read(data + bytes(100), allow_torn=True)
    assert got == records and reader.torn and reader.valid_end == len(data)


@pytest.mark.parametrize("where", ["payload", "checksum", "length_low", "length_high"])
def test_flipped_byte_in_the_middle_is_corruption(where: str) -> None:
    data, records = frames(10)
    start = len(b"".join(encode(r) for r in records[:4]))
    offset = {"payload": start + HEADER.size + 3, "checksum": start + 6,
              "length_low": start, "length_high": start + 3}[where]
    damaged = bytearray(data)
    damaged[offset] ^= 0x40
    with pytest.raises(EditLogCorrupt, match=f"offset {start}"):
        read(bytes(damaged), allow_torn=True)


def test_valid_frame_that_is_not_a_record_is_corruption() -> None:
    import msgpack
    import xxhash
    payload = msgpack.packb([1, 2, 3])
    frame = HEADER.pack(len(payload), xxhash.xxh3_64_intdigest(payload)) + payload
    with pytest.raises(EditLogCorrupt, match="no txid"):
        read(frame, allow_torn=True)
