"""Observers under faults (docs/observers.md): an observer SIGSTOPped or SIGKILLed while
a client reads (the client moves on, no error), an observer whose journal tailing
is cut off (never serves a read older than the client's state), and a failover of
the active while observers serve (reads go on; observers follow the new epoch).

One HA cluster with two observers (nn3, nn4), always stopped; every fault is undone
in a finally so later tests start from a whole cluster.
"""
from __future__ import annotations

import threading
import time

import grpc
import pytest

from cluster.layout import free_ports
from minidfs import config, errors, identity, state_id
from minidfs.client.ha_admin import ha_statuses
from minidfs.rpc import channels, client_namenode_pb2 as pb, client_namenode_pb2_grpc
from minidfs.rpc.status import from_rpc_error

CLUSTER_OPTIONS = {"ha": True, "observers": 2, "workers": 0}


class ReaderLoop:
    """Reads existing files in a thread until stopped; keeps every error."""

    def __init__(self, fs, paths: list[str]) -> None:
        self.fs, self.paths = fs, paths
        self.errors: list[BaseException] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in self.paths:
                try:
                    assert self.fs.stat(path)["length"] > 0
                    self.fs.ls(path.rsplit("/", 1)[0])
                    self.reads += 2
                except Exception as e:  # noqa: BLE001 - the test reports them all
                    self.errors.append(e)

    def __enter__(self) -> "ReaderLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def wait_reads(self, more: int, timeout_s: float = 60.0) -> None:
        target = self.reads + more
        deadline = time.monotonic() + timeout_s
        while self.reads < target:
            assert time.monotonic() < deadline, f"reads stalled at {self.reads}"
            time.sleep(0.05)


def _files(fs, folder: str, count: int = 3) -> list[str]:
    fs.mkdir(folder, parents=True)
    paths = []
    for i in range(count):
        path = f"{folder}/f{i}"
        with fs.open(path, "wb") as f:
            f.write(b"payload %d" % i)
        paths.append(path)
    return paths


@pytest.mark.parametrize("signal", ["STOP", "KILL"])
def test_observer_paused_or_killed_mid_reads(cluster, fs, signal) -> None:
    paths = _files(fs, f"/faults-{signal.lower()}")
    with ReaderLoop(fs, paths) as loop:
        loop.wait_reads(20)
        cluster.kill("nn3", signal)
        try:
            loop.wait_reads(40)
            # Still reading from observers: nn4 answers (nn3's circuit is open).
            served = dict(fs.namenode.observers.served)
            loop.wait_reads(20)
            assert sum(fs.namenode.observers.served.values()) > sum(served.values())
        finally:
            if signal == "STOP":
                cluster.kill("nn3", "CONT")
            else:
                cluster.start("nn3")
    assert not loop.errors, loop.errors[:3]


def _observer_call(address: str, txid: int, cluster_id: str):
    channel = channels.sync_channel(address)
    try:
        stub = client_namenode_pb2_grpc.ClientNamenodeStub(channel)
        metadata = ((identity.METADATA_KEY, identity.current_user(None)),
                    (state_id.STATE_KEY, state_id.StateId(cluster_id, txid).encode()))
        return stub.GetFileInfo(pb.PathRequest(path="/"), timeout=30, metadata=metadata)
    finally:
        channel.close()


def test_lagging_observer_never_serves_stale_reads(cluster, fs) -> None:
    """nn4 restarted with its JournalNode addresses pointing nowhere: it keeps serving
    what it had, and must not answer a client that has seen newer edits."""
    original = cluster.conf_path.read_text()
    lagging = config.load(cluster.conf_path)
    lagging.nodes["nn4"].extra["journal_addresses"] = [f"127.0.0.1:{p}" for p in free_ports(3)]
    config.save(lagging, cluster.conf_path)
    try:
        cluster.restart("nn4")
        nn4 = cluster.conf.node("nn4").address
        behind = {s["name"]: s for s in ha_statuses(cluster.conf)}["nn4"]["last_txid"]
        fs.mkdir("/lag", parents=True)
        for i in range(15):
            path = f"/lag/f{i}"
            with fs.open(path, "wb") as f:
                f.write(b"new")
            assert fs.stat(path)["length"] == 3
            assert len(fs.ls("/lag")) == i + 1
        assert fs.namenode.state_txid > behind
        with pytest.raises(grpc.RpcError) as caught:
            _observer_call(nn4, fs.namenode.state_txid, cluster.conf.settings.cluster_id)
        err = from_rpc_error(caught.value)
        assert isinstance(err, errors.ObserverRetryOnActive) and "has applied txid" in str(err)
        _observer_call(nn4, behind, cluster.conf.settings.cluster_id)   # old enough: served
    finally:
        cluster.conf_path.write_text(original)
        cluster.restart("nn4")


def test_failover_while_observers_serve(cluster, fs, wait_until) -> None:
    paths = _files(fs, "/failover")
    statuses = {s["name"]: s for s in ha_statuses(cluster.conf)}
    old = next(n for n in ("nn1", "nn2") if statuses[n]["role"] == "active")
    new = "nn2" if old == "nn1" else "nn1"
    with ReaderLoop(fs, paths) as loop:
        loop.wait_reads(20)
        cluster.kill(old, "KILL")
        try:
            wait_until(lambda: {s["name"]: s for s in ha_statuses(cluster.conf)}[new]["role"]
                       == "active", timeout_s=60, what=f"{new} taking over")
            loop.wait_reads(20)
            with fs.open("/failover/after", "wb") as f:
                f.write(b"written to the new active")
            assert fs.cat("/failover/after") == b"written to the new active"
            loop.wait_reads(20)

            def observers_follow():
                s = {r["name"]: r for r in ha_statuses(cluster.conf)}
                return all(s[o]["epoch"] == s[new]["epoch"] and
                           s[o]["last_txid"] >= fs.namenode.state_txid for o in ("nn3", "nn4"))
            wait_until(observers_follow, timeout_s=30, what="observers in the new epoch")
        finally:
            cluster.start(old)
    assert not loop.errors, loop.errors[:3]


def test_reader_stops_calling_a_failed_datanode(cluster, start_datanode, tmp_path) -> None:
    """dn2 killed: once two reads failed on it, this client's reads try it last for
    the cool-down (the circuit breaker) and every read still returns the file."""
    from minidfs.client.client import Client

    data = bytes(range(256)) * 1024 * 2   # 8 blocks of 64 KiB
    with Client(conf=cluster.conf_path, client_node="") as reader:
        reader.mkdir("/breaker", parents=True)
        with reader.open("/breaker/f", "wb", replication=3) as f:
            f.write(data)
        cluster.kill("dn2", "KILL")
        try:
            breaker = reader.datanode_breaker
            for _ in range(40):
                assert reader.cat("/breaker/f") == data
                if breaker.is_open("dn2", time.monotonic()):
                    break
            assert breaker.is_open("dn2", time.monotonic()), "two reads never failed on dn2"
            failed = breaker.failures("dn2")
            for _ in range(5):
                assert reader.cat("/breaker/f") == data
            assert breaker.failures("dn2") == failed     # not called again meanwhile
        finally:
            start_datanode("dn2")
