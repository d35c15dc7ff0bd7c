"""Pipeline recovery with real processes: a DataNode SIGKILLed at position 1, 2 or 3
of an active write pipeline, at an offset that is not a multiple of 64 KiB. The
write succeeds, the block gets a new genstamp, every replica checksums and holds
the right bytes, the killed node's stale copy is deleted when it returns, and
fsck is HEALTHY again by itself. Two nodes lost at once bring in a replacement;
no node left fails the write with a clear error.

4 DataNodes, 4 MiB blocks for these files (a block spans several 1 MiB requests).
"""
from __future__ import annotations

import io
import logging

import pytest

from minidfs import errors
from minidfs.checksum import first_bad_chunk
from minidfs.client import health
from minidfs.rpc import channels
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb
from minidfs.rpc import datatransfer_pb2_grpc

MiB = 1024 * 1024
BLOCK = 4 * MiB
DATANODES = ("dn1", "dn2", "dn3", "dn4")
CLUSTER_OPTIONS = {"datanodes": 4, "workers": 0, "block_size": 64 * 1024,
                   "heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0}
HEAL_TIMEOUT_S = 30.0


def payload(size: int, seed: int) -> bytes:
    pattern = bytes((i * 13 + seed) % 251 for i in range(251 * 64))
    return (pattern * (size // len(pattern) + 1))[:size]


@pytest.fixture
def nodes_back(cluster, fs, wait_until, start_datanode):
    try:
        yield
    finally:
        for node in cluster.status():
            if node["name"] in DATANODES and node["state"] == "stopped":
                start_datanode(node["name"])
        wait_until(lambda: all(n["state"] == "live" for n in health.datanode_report(fs.namenode)),
                   HEAL_TIMEOUT_S, "every DataNode live")


LAST_FSCK: dict = {}


def settled(fs, path: str) -> dict | None:
    report = health.fsck(fs.namenode, path, locations=True)
    LAST_FSCK[path] = report     # shown when a wait times out
    ok = report["healthy"] and report["over_replicated"] == 0 and all(
        r["state"] in ("Ready", "Down") for f in report["file_details"] for b in f["blocks"]
        for r in b["replicas"])
    return report if ok else None


def wait_settled(fs, wait_until, path: str) -> dict:
    try:
        return wait_until(lambda: settled(fs, path), HEAL_TIMEOUT_S, f"fsck {path} healthy")
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; last fsck: {LAST_FSCK.get(path)}") from None


def read_replica(cluster, node: str, block: dict) -> bytes:
    """One replica's bytes straight from its DataNode, every chunk verified."""
    address = cluster.conf.node(node).address
    with channels.sync_channel(address) as channel:
        stub = datatransfer_pb2_grpc.DataTransferStub(channel)
        out = bytearray()
        request = pb.ReadBlockRequest(block=common.Block(id=block["id"], genstamp=block["genstamp"]))
        for response in stub.ReadBlock(request, timeout=30):
            assert first_bad_chunk(response.data, list(response.checksums), response.chunk_size) is None
            out += response.data
    return bytes(out)


def write_with_kill(cluster, fs, wait_until, path: str, data: bytes, kill_positions: list[int],
                    replication: int = 3):
    """Writes 1 MiB + 12345 bytes and waits for their acks, sends 1 MiB more, kills the
    pipeline nodes at kill_positions (1-based) at once — the client stands at an
    offset that is not a multiple of 64 KiB, with acked and un-acked data in the
    block — then writes the rest. Returns (killed names, genstamp before, the
    pipeline that broke)."""
    first = MiB + 12345
    with fs.open(path, "wb", replication=replication, block_size=BLOCK) as f:
        f.write(data[:first])
        io.BufferedWriter.flush(f)   # into the stream, not an hflush (which waits for acks)
        stream = f.raw
        broken = stream._pipeline
        wait_until(lambda: broken.acked_length == MiB, 10, "the first MiB acked")
        killed = [broken.targets[p - 1].name for p in kill_positions]
        # Paused first, so no ack of the next MiB can come back however slow the
        # machine is: it is in flight, un-acked, when the nodes die.
        for name in killed:
            cluster.kill(name, "STOP")
        f.write(data[first:first + MiB])
        io.BufferedWriter.flush(f)
        for name in killed:
            cluster.kill(name, "KILL")
        f.write(data[first + MiB:])
    return killed, broken.block.genstamp, broken


@pytest.mark.parametrize("position", [1, 2, 3])
def test_kill_one_node_of_an_active_pipeline(cluster, fs, wait_until, start_datanode,
                                             nodes_back, caplog, position):
    caplog.set_level(logging.INFO, logger="minidfs.client.recovery")
    data = payload(6 * MiB + 4321, seed=position)
    path = f"/pipe/kill{position}"
    [victim], genstamp, broken = write_with_kill(cluster, fs, wait_until, path, data, [position])
    # The survivors resumed at the acked length; what was un-acked was resent.
    survivors = ",".join(t.name for t in broken.targets if t.name != victim)
    assert any(f"recovered on {survivors} with genstamp" in r.getMessage()
               and r.getMessage().endswith(f"at {MiB} bytes") for r in caplog.records)
    assert fs.cat(path) == data
    first = fs.stat(path)["blocks"][0]
    assert first["genstamp"] > genstamp            # recovered under a new genstamp
    assert victim not in first["locations"]
    report = wait_settled(fs, wait_until, path)
    start = 0
    for block in report["file_details"][0]["blocks"]:
        ready = [r["datanode"] for r in block["replicas"] if r["state"] == "Ready"]
        assert len(ready) == 3
        for node in ready:
            assert read_replica(cluster, node, block) == data[start:start + block["length"]]
        start += block["length"]
    # The killed node returns with its stale copy (old genstamp): it is deleted.
    start_datanode(victim)
    rbw = cluster.home.node_dir(victim) / "current" / "rbw"
    wait_until(lambda: not any(p.name.startswith(f"blk_{first['id']}") for p in rbw.iterdir()),
               HEAL_TIMEOUT_S, "the stale replica to be deleted")
    wait_settled(fs, wait_until, path)


def test_two_nodes_lost_brings_in_a_replacement(cluster, fs, wait_until, start_datanode,
                                                nodes_back, caplog):
    caplog.set_level(logging.INFO, logger="minidfs.client.recovery")
    data = payload(3 * MiB + 777, seed=9)
    killed, genstamp, first = write_with_kill(cluster, fs, wait_until, "/pipe/two", data, [2, 3])
    # One survivor <= 3 // 2: HDFS's default policy adds a node, which got the
    # acknowledged bytes from the survivor before the write went on.
    [survivor] = [t.name for t in first.targets if t.name not in killed]
    [spare] = set(DATANODES) - {t.name for t in first.targets}
    recovered = [r.getMessage() for r in caplog.records if "pipeline recovered on" in r.getMessage()]
    assert recovered and f"recovered on {survivor},{spare} " in recovered[-1]
    assert fs.cat("/pipe/two") == data
    [block] = fs.stat("/pipe/two")["blocks"]
    assert block["genstamp"] > genstamp
    assert {survivor, spare} <= set(block["locations"])
    for node in block["locations"]:
        assert read_replica(cluster, node, block) == data
    # Two live nodes cannot hold three replicas: healthy once the others are back.
    for name in killed:
        start_datanode(name)
    wait_settled(fs, wait_until, "/pipe/two")


def test_no_node_left_fails_clearly(cluster, fs, wait_until, nodes_back):
    data = payload(3 * MiB, seed=11)
    with pytest.raises(errors.PipelineError, match="no DataNode left"):
        write_with_kill(cluster, fs, wait_until, "/pipe/none", data, [1], replication=1)
