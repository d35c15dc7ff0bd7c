"""The WriteBlock framing rules and the block scanner's check, without processes."""
import os

import pytest

from minidfs import errors
from minidfs.checksum import checksum_chunks
from minidfs.datanode.block_scanner import check_range
from minidfs.datanode.storage import Storage
from minidfs.datanode.write_pipeline import check_request, parse_header
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb

CHUNK = 65536


def _first(**header):
    fields = {"block": common.Block(id=1, genstamp=1), "chunk_size": CHUNK, **header}
    return pb.WriteBlockRequest(header=pb.WriteHeader(**fields), seqno=0)


def test_header_rules():
    header = parse_header(_first(downstream=[common.DatanodeId(name="dn2", address="h:1")]))
    assert header.block_id == 1 and len(header.downstream) == 1
    for bad in (pb.WriteBlockRequest(seqno=1), _first(block=common.Block(id=0)),
                _first(chunk_size=0), _first(chunk_size=3),
                _first(downstream=[common.DatanodeId(name="x", address="nohost")])):
        with pytest.raises(errors.InvalidArgument):
            parse_header(bad)


def _request(offset, data, seqno=5, **kw):
    return pb.WriteBlockRequest(seqno=seqno, offset=offset, data=data,
                                checksums=checksum_chunks(data, CHUNK), **kw)


def test_request_rules():
    header = parse_header(_first())
    good = _request(CHUNK, os.urandom(CHUNK + 1))
    check_request(good, header, CHUNK, 4, len(good.data))
    cases = [
        (_request(CHUNK + 1, b"x"), CHUNK + 1, 4),        # data after a short packet
        (_request(0, b"x"), CHUNK, 4),                     # offset is not bytes received
        (_request(CHUNK, b"x", seqno=4), CHUNK, 4),        # seqno does not grow
        (pb.WriteBlockRequest(seqno=5, offset=CHUNK, data=b"x"), CHUNK, 4),   # no checksum
    ]
    for request, received, previous in cases:
        with pytest.raises(errors.InvalidArgument):
            check_request(request, header, received, previous, len(request.data))
    repeated = _request(CHUNK, b"x")
    repeated.header.CopyFrom(_first().header)
    with pytest.raises(errors.InvalidArgument, match="header"):
        check_request(repeated, header, CHUNK, 4, 1)


def test_scanner_check_range_finds_bit_rot(tmp_path):
    storage = Storage(tmp_path, block_size_bytes=1 << 20)
    storage.open()
    writer = storage.create(3, 1, 1024)
    data = os.urandom(8 * 1024)
    writer.write(0, data, checksum_chunks(data, 1024))
    replica = writer.finalize()
    reader = storage.open_reader(3, 1)
    assert check_range(reader, 0, len(data)) is None
    raw = bytearray(replica.block_path.read_bytes())
    raw[5 * 1024 + 7] ^= 0x10
    replica.block_path.write_bytes(bytes(raw))
    assert check_range(reader, 0, len(data)) == "checksum mismatch in chunk 5"
    reader.close()
    storage.close()
