"""DFSOutputStream / DFSInputStream against real processes: one NameNode and
four DataNodes (replication 3, 1 MiB blocks so files span several blocks)."""
from __future__ import annotations

import io
import os
import time
import uuid

import pytest

from minidfs import errors
from minidfs.client.input_stream import DFSInputStream
from minidfs.client.namenode_client import NamenodeClient
from minidfs.client.output_stream import DFSOutputStream
from minidfs.rpc import client_namenode_pb2 as nn_pb

from test_datanode_support import Processes, address_of, wait_for, write_conf

BLOCK = 1024 * 1024
DATANODES = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("streams")
    conf = write_conf(root, DATANODES, settings={
        "block_size_bytes": BLOCK, "heartbeat_interval_s": 0.2, "dead_node_interval_s": 3.0,
        "safemode_extension_s": 0.0})
    procs = Processes(conf, root)
    try:
        procs.start("namenode", "nn1")
        for i in range(1, DATANODES + 1):
            procs.start("datanode", f"dn{i}")
        nn = NamenodeClient([address_of(conf, "nn1")])
        wait_for(lambda: len([n for n in nn.call("DatanodeReport", nn_pb.DatanodeReportRequest()).nodes
                              if n.state == "live"]) == DATANODES, 20)
        procs.nn = nn
        yield procs
        nn.close()
    finally:
        procs.stop_all()


def _put(nn, path: str, data: bytes, pieces: int = 7777, replication: int = 3) -> None:
    client = f"test-{uuid.uuid4().hex[:8]}"
    nn.call("Create", nn_pb.CreateRequest(path=path, replication=replication, block_size=BLOCK,
                                          client_name=client, create_parent=True))
    out = DFSOutputStream(nn, path, client, block_size=BLOCK, replication=replication)
    with out:
        view = memoryview(data)
        for start in range(0, len(data), pieces):
            assert out.write(view[start:start + pieces]) == len(view[start:start + pieces])


def _get(nn, path: str) -> bytes:
    with DFSInputStream(nn, path) as f:
        return f.readall()


@pytest.mark.parametrize("size", [0, 1, 65537, BLOCK, 3 * BLOCK + 12345])
def test_round_trip(cluster, size):
    data = os.urandom(size)
    path = f"/rt/{size}"
    _put(cluster.nn, path, data)
    status = cluster.nn.call("GetFileInfo", nn_pb.PathRequest(path=path))
    assert status.length == size and not status.under_construction
    assert _get(cluster.nn, path) == data


def test_large_writes_and_reads_seek(cluster):
    data = os.urandom(2 * BLOCK + 99)
    _put(cluster.nn, "/seek", data, pieces=5 * BLOCK)
    with DFSInputStream(cluster.nn, "/seek") as f:
        assert f.read(10) == data[:10]
        f.seek(BLOCK - 3)
        assert f.read(6) == data[BLOCK - 3:BLOCK + 3]
        f.seek(5)
        assert f.read(5) == data[5:10]
        f.seek(-4, io.SEEK_END)
        assert f.read() == data[-4:]
        assert f.read(1) == b""
        f.seek(0)
        buffered = io.BufferedReader(f, 100_000)
        assert buffered.read() == data


def _located(nn, path):
    return nn.call("GetBlockLocations", nn_pb.GetBlockLocationsRequest(path=path)).blocks


def test_corrupt_replica_is_skipped_and_reported(cluster):
    data = os.urandom(BLOCK + 500)
    _put(cluster.nn, "/corrupt", data)
    block = _located(cluster.nn, "/corrupt")[0]
    victim = block.locations[0].name
    files = list((cluster.conf.parent / "nodes" / victim / "current" / "finalized").rglob(f"blk_{block.block.id}"))
    assert len(files) == 1
    raw = bytearray(files[0].read_bytes())
    raw[100] ^= 0xFF
    files[0].write_bytes(bytes(raw))
    assert _get(cluster.nn, "/corrupt") == data
    # The NameNode heard about it: the corrupt replica stops being offered first.
    wait_for(lambda: victim not in [n.name for n in _located(cluster.nn, "/corrupt")[0].locations][:1], 10)


def test_dead_nodes_fail_over_then_block_missing(cluster):
    data = os.urandom(BLOCK // 2)
    _put(cluster.nn, "/dead", data, replication=2)
    holders = [n.name for n in _located(cluster.nn, "/dead")[0].locations]
    assert len(holders) == 2
    cluster.kill(holders[0])
    try:
        assert _get(cluster.nn, "/dead") == data
        cluster.kill(holders[1])
        started = time.monotonic()
        with pytest.raises(errors.BlockMissingError, match="no live replica could be read"):
            _get(cluster.nn, "/dead")
        assert time.monotonic() - started < 10
    finally:
        for name in holders:
            cluster.start("datanode", name)


def test_write_speed(cluster, capsys):
    size = 32 * BLOCK
    data = os.urandom(size)
    started = time.monotonic()
    _put(cluster.nn, "/speed", data, pieces=BLOCK)
    write_s = time.monotonic() - started
    started = time.monotonic()
    assert _get(cluster.nn, "/speed") == data
    read_s = time.monotonic() - started
    with capsys.disabled():
        print(f"\n32 MiB, 1 MiB blocks, replication 3: write {size / write_s / 1e6:.0f} MB/s, "
              f"read {size / read_s / 1e6:.0f} MB/s")
