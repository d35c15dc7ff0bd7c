"""Observer NameNodes on real processes (docs/observers.md): roles, read-your-writes
through observers under a writer loop, msync across two clients, state ids from
another cluster or the future refused, sequential readers spread over every
replica, and writers' placement avoiding a loaded DataNode.

One HA cluster (jn1..jn3, nn1 active, nn2 standby, nn3 + nn4 observers, dn1..dn3),
started by the `cluster` fixture and always stopped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request

import grpc
import pytest

from minidfs import errors, identity, state_id
from minidfs.client.client import Client
from minidfs.rpc import channels, client_namenode_pb2 as pb, client_namenode_pb2_grpc
from minidfs.rpc import common_pb2, datatransfer_pb2, datatransfer_pb2_grpc
from minidfs.rpc.status import from_rpc_error

CLUSTER_OPTIONS = {"ha": True, "observers": 2, "workers": 0}
HELD_WRITES = 12
HELD_BLOCK_BASE = 2**62      # block ids no NameNode hands out in a test


def shell(cluster, *args):
    return subprocess.run([sys.executable, "-m", "minidfs.cli.main", *args], capture_output=True,
                          timeout=120, env={**os.environ, "MINIDFS_HOME": str(cluster.home.root)})


def observer_served(fs: Client) -> int:
    return sum(fs.namenode.observers.served.values())


def test_observers_have_their_role(cluster) -> None:
    done = shell(cluster, "admin", "ha", "status", "--json")
    assert done.returncode == 0, done.stderr.decode()
    roles = {r["name"]: r["role"] for r in json.loads(done.stdout)["namenodes"]}
    assert roles["nn3"] == roles["nn4"] == "observer"
    assert sorted(roles[n] for n in ("nn1", "nn2")) == ["active", "standby"]
    done = shell(cluster, "cluster", "status", "--json")
    rows = {r["name"]: r for r in json.loads(done.stdout)["nodes"]}
    assert rows["nn3"]["role"] == "observer" and rows["nn3"]["ha_state"] == "Observer"
    done = shell(cluster, "admin", "msync", "--json")
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout)
    assert answer["txid"] > 0 and answer["namenode"] in ("nn1", "nn2")
    assert answer["state_id"] == f"{cluster.conf.settings.cluster_id}:{answer['txid']}"


def test_read_your_writes_through_observers(cluster, fs) -> None:
    fs.mkdir("/ryw", parents=True)
    before = observer_served(fs)
    for i in range(40):
        path = f"/ryw/f{i}"
        with fs.open(path, "wb", replication=3) as f:
            f.write(b"%d" % i)
        assert fs.stat(path)["length"] == len(b"%d" % i)     # never "no such file"
        assert fs.cat(path) == b"%d" % i
        assert len(fs.ls("/ryw")) == i + 1
        if i % 10 == 9:
            fs.rename(path, path + ".moved")
            assert not fs.exists(path) and fs.exists(path + ".moved")
            fs.rename(path + ".moved", path)
    # The reads really went to observers (a read an observer could not vouch for
    # yet - a block not yet reported to it - rightly went to the active).
    assert observer_served(fs) - before >= 40


def test_observer_reads_off_per_client(cluster) -> None:
    with Client(conf=cluster.conf_path, observer_reads=False) as plain:
        assert plain.namenode.observers is None
        plain.ls("/")


def test_msync_across_two_clients(cluster, fs) -> None:
    with cluster.client() as reader:
        reader.ls("/")                     # its first read msyncs; its state is now set
        seen = reader.namenode.state_txid
        fs.mkdir("/msync", parents=True)
        with fs.open("/msync/a", "wb") as f:
            f.write(b"from the writer")
        assert fs.namenode.state_txid > seen
        reader.msync()
        assert reader.namenode.state_txid >= fs.namenode.state_txid
        before = observer_served(reader)
        assert reader.stat("/msync/a")["length"] == 15
        # GetFileInfo came from an observer; GetBlockLocations too, unless that observer
        # had not yet heard every replica's report (then the active answers it).
        assert observer_served(reader) in (before + 1, before + 2)
        # A state id handed over from the writer works the same way.
        with cluster.client() as third:
            third.advance_state(fs.state_id)
            assert third.exists("/msync/a")


def test_state_ids_from_another_cluster_or_the_future_are_refused(cluster, fs) -> None:
    cid = cluster.conf.settings.cluster_id
    with pytest.raises(errors.StateIdError, match="from cluster 'CID-other'"):
        fs.advance_state("CID-other:5")
    user = ((identity.METADATA_KEY, identity.current_user(None)),)
    for node in cluster.conf.namenodes:
        channel = channels.sync_channel(node.address)
        try:
            stub = client_namenode_pb2_grpc.ClientNamenodeStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.GetFileInfo(pb.PathRequest(path="/"), timeout=10,
                                 metadata=user + ((state_id.STATE_KEY, "CID-other:1"),))
            err = from_rpc_error(caught.value)
            # The standby refuses everything first; the others name the problem.
            assert isinstance(err, (errors.StateIdError, errors.StandbyError)), err
            if node.name in ("nn3", "nn4"):
                assert isinstance(err, errors.StateIdError)
        finally:
            channel.close()
    with cluster.client() as lost:
        lost.advance_state(f"{cid}:{10**12}")
        with pytest.raises(errors.StateIdError, match="ahead of namenode"):
            lost.stat("/")


def _bytes_read(cluster) -> dict[str, float]:
    served = {}
    for node in cluster.conf.datanodes:
        with urllib.request.urlopen(f"http://{node.http_address}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("minidfs_datanode_bytes_read_total "):
                    served[node.name] = float(line.split()[1])
    return served


def test_sequential_reads_spread_over_every_replica(cluster, tmp_path) -> None:
    data = os.urandom(64 * 1024 * 8)
    # client_node="": a reader off the DataNodes' host (here every DataNode shares
    # it, and a local replica would rightly come first every time).
    with Client(conf=cluster.conf_path, client_node="") as reader:
        reader.mkdir("/spread", parents=True)
        with reader.open("/spread/f", "wb", replication=3) as f:
            f.write(data)
        before = _bytes_read(cluster)
        for i in range(20):
            target = tmp_path / f"copy{i}"
            reader.get("/spread/f", str(target))
            assert target.read_bytes() == data
        after = _bytes_read(cluster)
    served = {name: after[name] - before[name] for name in after}
    mean = sum(served.values()) / len(served)
    assert sum(served.values()) >= 20 * len(data)
    assert all(0 < v <= 2 * mean for v in served.values()), served


def _hold_writes(node_address: str, count: int):
    """count WriteBlock pipelines into one DataNode (blocks of no file), each opened
    with an empty first packet and then left waiting: the node counts them as
    transfers in flight until they end. Returns (release, calls)."""
    channel = channels.sync_channel(node_address)
    stub = datatransfer_pb2_grpc.DataTransferStub(channel)
    done = threading.Event()
    calls = []
    for i in range(count):
        header = datatransfer_pb2.WriteHeader(
            block=common_pb2.Block(id=HELD_BLOCK_BASE + i, genstamp=1), client_name="held",
            stage=datatransfer_pb2.WriteHeader.CREATE, chunk_size=64 * 1024)

        def requests(header=header):
            yield datatransfer_pb2.WriteBlockRequest(header=header, seqno=0, offset=0)
            done.wait(120)
        acks = stub.WriteBlock(requests(), timeout=120)
        next(acks)          # the empty packet's ack: the pipeline is open
        calls.append(acks)

    def release():
        done.set()
        for call in calls:
            call.cancel()
        channel.close()
    return release


def test_placement_avoids_a_loaded_datanode(cluster, fs, wait_until) -> None:
    fs.mkdir("/load", parents=True)
    dn1 = cluster.conf.node("dn1").address
    release = _hold_writes(dn1, HELD_WRITES)
    try:
        def dn1_loaded():
            # Held pipelines reported, and the other nodes calm (earlier tests' streams
            # ended): dn1 is then far above twice the mean.
            report = fs.namenode.call("DatanodeReport", pb.DatanodeReportRequest())
            loads = {n.id.name: n.active_transfers for n in report.nodes}
            seen.append(loads)
            mean = sum(loads.values()) / len(loads)
            return loads.get("dn1", 0) >= HELD_WRITES and loads["dn1"] > 2 * mean + 2
        seen: list[dict[str, int]] = []
        try:
            wait_until(dn1_loaded, timeout_s=30, what="dn1 reporting its held pipelines")
        except AssertionError as e:
            raise AssertionError(f"{e}; DataNode loads seen: {seen[-3:]}") from None
        placed = []
        # Far above twice the mean (HELD_WRITES vs. the writes' own few): considerLoad
        # holds for every write below, also though the writer's host is dn1's.
        for i in range(12):
            path = f"/load/small{i}"
            with fs.open(path, "wb", replication=1) as f:
                f.write(b"x")
            placed += [name for b in fs.stat(path)["blocks"] for name in b["locations"]]
        report = fs.namenode.call("DatanodeReport", pb.DatanodeReportRequest())
        loads = {n.id.name: n.active_transfers for n in report.nodes}
        assert placed and "dn1" not in placed, (placed, loads)
    finally:
        release()
