"""datanode/wire.py: the data field encoded / split by hand stays protobuf."""
from __future__ import annotations

import pytest

from minidfs.datanode import wire
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb

DATA = 4


@pytest.mark.parametrize("size", [0, 1, 127, 128, 65536, 3 * 65536 + 5])
def test_split_of_a_protobuf_encoded_message(size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    request = pb.WriteBlockRequest(header=pb.WriteHeader(block=common.Block(id=7, genstamp=3)),
                                   seqno=9, offset=65536, data=data, checksums=[1, 2**64 - 1], last=True)
    small, view = wire.split_data(request.SerializeToString(), DATA)
    assert bytes(view) == data
    rest = pb.WriteBlockRequest.FromString(small)
    assert rest.data == b"" and rest.seqno == 9 and rest.offset == 65536
    assert list(rest.checksums) == [1, 2**64 - 1] and rest.header.block.id == 7 and rest.last


@pytest.mark.parametrize("size", [0, 1, 300, 65536])
def test_encoded_message_parses_as_protobuf(size):
    data = b"x" * size
    small = pb.WriteBlockRequest(seqno=2, offset=0, checksums=[5], last=False).SerializeToString()
    parsed = pb.WriteBlockRequest.FromString(wire.encode_with_data(small, DATA, memoryview(data)))
    assert parsed.data == data and parsed.seqno == 2 and list(parsed.checksums) == [5]


def test_repeated_field_keeps_the_last_like_protobuf():
    raw = (pb.WriteBlockRequest(data=b"old").SerializeToString()
           + pb.WriteBlockRequest(seqno=4, data=b"new").SerializeToString())
    small, view = wire.split_data(raw, DATA)
    assert bytes(view) == pb.WriteBlockRequest.FromString(raw).data == b"new"
    assert pb.WriteBlockRequest.FromString(small).seqno == 4


@pytest.mark.parametrize("raw", [b"\x22\x05abc", b"\x80", b"\x1b", b"\x10"])
def test_malformed_input_is_refused(raw):
    with pytest.raises(wire.WireError):
        wire.split_data(raw, DATA)
