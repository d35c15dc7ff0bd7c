"""The DataNode write pipeline and reads, with real DataNode processes and no
NameNode (cluster.toml names one where nothing listens: the DataNodes must keep
serving while they retry it)."""
from __future__ import annotations

import os
import pathlib
import queue

import grpc
import pytest

from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb

from test_datanode_support import (CHUNK, address_of, block_requests, datanodes, node_id,
                                   read_block, stub, write_block)

OK = pb.WriteBlockAck.SUCCESS
ERR = pb.WriteBlockAck.ERROR


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    with datanodes(tmp_path_factory.mktemp("dns")) as procs:
        yield procs


def _addresses(procs):
    return [address_of(procs.conf, f"dn{i}") for i in (1, 2, 3)]


def _chain(procs):
    return [node_id(procs.conf, "dn2"), node_id(procs.conf, "dn3")]


def _info(address: str, block_id: int) -> pb.ReplicaInfo:
    return stub(address).GetReplicaInfo(pb.ReplicaInfoRequest(block_id=block_id), timeout=10)


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 1024 * 1024 + 123])
def test_pipeline_round_trip(dns, size):
    block_id = 1000 + size
    data = os.urandom(size)
    acks = write_block(_addresses(dns)[0], block_requests(block_id, 5, data, _chain(dns)))
    assert [list(a.statuses) for a in acks] == [[OK, OK, OK]] * len(acks)
    assert acks[-1].seqno == max(1, -(-size // CHUNK))
    for address in _addresses(dns):
        info = _info(address, block_id)
        assert info.exists and info.finalized and info.block.length == size and info.block.genstamp == 5
        assert read_block(address, block_id, 5) == data


def test_read_ranges_and_genstamp(dns):
    data = os.urandom(5 * CHUNK + 77)
    write_block(_addresses(dns)[0], block_requests(2001, 3, data, _chain(dns)))
    address = _addresses(dns)[2]
    assert read_block(address, 2001, 3, offset=CHUNK + 5, length=100) == data[CHUNK + 5:CHUNK + 105]
    assert read_block(address, 2001, 3, offset=4 * CHUNK - 1) == data[4 * CHUNK - 1:]
    assert read_block(address, 2001, 2) == data   # a newer replica serves an older request
    with pytest.raises(grpc.RpcError) as e:
        read_block(address, 2001, 4)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        read_block(address, 2002, 1)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_bad_checksum_finalizes_nothing(dns):
    data = os.urandom(40 * CHUNK)
    acks = write_block(_addresses(dns)[0], block_requests(3001, 1, data, _chain(dns), corrupt_request=1))
    assert pb.WriteBlockAck.ERROR_CHECKSUM in acks[-1].statuses
    assert acks[-1].statuses[0] == pb.WriteBlockAck.ERROR_CHECKSUM
    assert "checksum mismatch" in acks[-1].message
    for i, address in enumerate(_addresses(dns), 1):
        assert not _info(address, 3001).exists
        data_dir = dns.conf.parent / "nodes" / f"dn{i}" / "current"
        assert not [p for p in data_dir.rglob("blk_3001*")]


@pytest.mark.parametrize("block_id", [0, 2**63, 2**64 - 1])
def test_bad_block_id_is_invalid_argument(dns, block_id):
    address = _addresses(dns)[0]
    with pytest.raises(grpc.RpcError) as e:
        write_block(address, block_requests(block_id, 1, b"x", []))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for call in (lambda: read_block(address, block_id, 1),
                 lambda: _info(address, block_id)):
        with pytest.raises(grpc.RpcError) as e:
            call()
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    good_id = 4010 + block_id % 89
    assert write_block(address, block_requests(good_id, 1, b"still serving", []))[-1].statuses == [OK]
    assert read_block(address, good_id, 1) == b"still serving"


def test_bad_offset_is_invalid_argument(dns):
    address = _addresses(dns)[0]
    requests = list(block_requests(4101, 1, os.urandom(3 * CHUNK * 16), []))
    requests[2].offset += 1
    with pytest.raises(grpc.RpcError) as e:
        write_block(address, iter(requests))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "offset" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:  # no header on the first request
        write_block(address, iter([pb.WriteBlockRequest(seqno=1)]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:  # read past the end
        list(stub(address).ReadBlock(pb.ReadBlockRequest(
            block=common.Block(id=4010, genstamp=1), offset=10**6), timeout=10))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert read_block(address, 4010, 1) == b"still serving"


def test_stream_without_last_stays_in_rbw_and_survives_restart(dns):
    address = _addresses(dns)[0]
    requests = list(block_requests(5001, 2, os.urandom(40 * CHUNK), []))[:-1]
    acks = write_block(address, iter(requests))
    assert all(list(a.statuses) == [OK] for a in acks)
    info = _info(address, 5001)
    assert info.exists and not info.finalized and info.block.length == 32 * CHUNK
    data = os.urandom(1000)
    write_block(address, block_requests(5002, 1, data, []))
    dns.kill("dn1", 15)
    dns.start("datanode", "dn1")
    info = _info(address, 5001)
    assert info.exists and not info.finalized and info.block.length == 32 * CHUNK
    assert read_block(address, 5002, 1) == data
    assert "unreachable" in dns.log("dn1")   # the NameNode is down and retried


def test_killed_third_node_is_named_in_acks(tmp_path):
    with datanodes(tmp_path) as procs:
        procs.kill("dn3")
        data = os.urandom(3 * CHUNK * 16 + 5)
        first = address_of(procs.conf, "dn1")
        acks = write_block(first, block_requests(6001, 1, data, _chain(procs)))
        assert [list(a.statuses) for a in acks] == [[OK, OK, ERR]] * len(acks)
        assert "dn3" in acks[0].message
        for name in ("dn1", "dn2"):
            assert read_block(address_of(procs.conf, name), 6001, 1) == data


def test_killed_second_node_mid_stream(tmp_path):
    with datanodes(tmp_path) as procs:
        first = address_of(procs.conf, "dn1")
        data = os.urandom(8 * CHUNK * 16)
        pending = list(block_requests(6101, 1, data, _chain(procs)))
        feed: queue.Queue = queue.Queue()
        for request in pending[:2]:
            feed.put(request)
        acks = []
        for ack in stub(first).WriteBlock(iter(feed.get, None), timeout=30):
            acks.append(ack)
            if len(acks) == 2:   # two requests through the whole pipeline, then dn2 dies
                procs.kill("dn2")
                for request in pending[2:]:
                    feed.put(request)
                feed.put(None)
        assert [list(a.statuses) for a in acks[:2]] == [[OK, OK, OK]] * 2
        assert [list(a.statuses) for a in acks[2:]] == [[OK, ERR, ERR]] * (len(pending) - 2)
        assert "dn2" in acks[-1].message
        assert read_block(first, 6101, 1) == data


def test_small_capacity_refuses_blocks(tmp_path):
    tiny = {"dn1": 1000}
    with datanodes(tmp_path, count=1, capacity=tiny) as procs:
        address = address_of(procs.conf, "dn1")
        acks = write_block(address, block_requests(7001, 1, b"abc", []))
        assert list(acks[0].statuses) == [pb.WriteBlockAck.ERROR_DISK_FULL]
        assert "disk full" in acks[0].message
        assert not _info(address, 7001).exists


def test_disk_filling_up_mid_block_is_a_clean_failure(tmp_path: pathlib.Path):
    with datanodes(tmp_path, count=1, settings={"block_size_bytes": CHUNK},
                   capacity={"dn1": 4 * CHUNK}) as procs:
        address = address_of(procs.conf, "dn1")
        acks = write_block(address, block_requests(7101, 1, os.urandom(40 * CHUNK), []))
        assert list(acks[-1].statuses) == [pb.WriteBlockAck.ERROR_DISK_FULL]
        assert not _info(address, 7101).exists
        assert not list((tmp_path / "nodes" / "dn1" / "current").rglob("blk_7101*"))
        data = os.urandom(CHUNK)
        assert list(write_block(address, block_requests(7102, 1, data, []))[-1].statuses) == [OK]
        assert read_block(address, 7102, 1) == data
