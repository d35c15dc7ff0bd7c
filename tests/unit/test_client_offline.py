"""minidfs.Client pieces that need no cluster: finding the cluster and the local
DataNode, entry dicts, the lease renewer, the copy loop, argument checks."""
from __future__ import annotations

import io
import threading
import time

import pytest

from minidfs import config, errors
from minidfs.client import client as client_mod
from minidfs.client.client import Client, _copy, _LeaseRenewer, entry_dict, find_client_node
from minidfs.rpc import common_pb2


def make_conf(tmp_path, dn_hosts=("127.0.0.1", "127.0.0.1")):
    nodes = {"nn1": config.NodeConfig("nn1", "namenode", "127.0.0.1:1", tmp_path / "nn1")}
    for i, host in enumerate(dn_hosts, 1):
        nodes[f"dn{i}"] = config.NodeConfig(f"dn{i}", "datanode", f"{host}:{100 + i}",
                                            tmp_path / f"dn{i}")
    conf = config.ClusterConfig(path=None, settings=config.Settings(), nodes=nodes)
    config.save(conf, tmp_path / "cluster.toml")
    return conf


def test_missing_cluster_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDFS_HOME", str(tmp_path))
    with pytest.raises(errors.ConfigError, match="no cluster file"):
        Client()
    with pytest.raises(errors.ConfigError, match="no cluster file"):
        Client(home=tmp_path / "other")


def test_client_from_conf_home_and_env(tmp_path, monkeypatch):
    make_conf(tmp_path)
    monkeypatch.setenv("MINIDFS_HOME", str(tmp_path))
    for fs in (Client(), Client(conf=tmp_path / "cluster.toml"), Client(home=tmp_path)):
        with fs:
            assert fs.conf_path == (tmp_path / "cluster.toml").resolve()
            assert fs.namenode.addresses == ["127.0.0.1:1"]
            assert fs.client_node == "dn1"
    a, b = Client(home=tmp_path), Client(home=tmp_path)
    assert a.client_name != b.client_name
    a.close(), b.close()


def test_client_node(tmp_path):
    assert find_client_node(make_conf(tmp_path, ("10.9.9.9", "127.0.0.1"))) == "dn2"
    assert find_client_node(make_conf(tmp_path, ("10.9.9.9", "10.9.9.8"))) == ""
    with Client(conf=tmp_path / "cluster.toml", client_node="dn1") as fs:
        assert fs.client_node == "dn1"


def test_bad_arguments_fail_before_any_rpc(tmp_path):
    make_conf(tmp_path)
    with Client(home=tmp_path) as fs:
        with pytest.raises(errors.InvalidArgument, match="unsupported mode"):
            fs.open("/a", "r+")          # ("a" appends since docs/append.md)
        with pytest.raises(errors.InvalidPath):
            fs.mkdir("/a/../b")
        with pytest.raises(errors.InvalidPath):
            fs.exists("")
        with pytest.raises(errors.InvalidArgument, match="positive"):
            fs.setrep("/a", 0)
        with pytest.raises(FileNotFoundError):
            fs.put(tmp_path / "missing", "/a")


def test_entry_dict():
    status = common_pb2.FileStatus(path="/a/b", length=5, replication=3, block_size=65536,
                                   modified_ms=1234, owner="alice", group="staff",
                                   permission=0o640)
    assert entry_dict(status) == {
        "path": "/a/b", "type": "file", "length": 5, "replication": 3, "block_size": 65536,
        "modified": 1234, "under_construction": False, "owner": "alice", "group": "staff",
        "permission": "640", "sticky": False}
    tmp = entry_dict(common_pb2.FileStatus(path="/tmp", is_dir=True, permission=0o1777))
    assert (tmp["permission"], tmp["sticky"]) == ("1777", True)
    assert entry_dict(common_pb2.FileStatus(path="/a", is_dir=True))["type"] == "directory"


class FakeNamenode:
    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def call(self, method, request, deadline_s=None):
        with self.lock:
            self.calls.append((method, request.client_name))


def test_lease_renewer_runs_only_while_writing():
    nn = FakeNamenode()
    renewer = _LeaseRenewer(nn, "c1", interval_s=0.05)
    renewer.acquire()
    renewer.acquire()
    time.sleep(0.3)
    renewer.release()
    time.sleep(0.1)
    assert len(nn.calls) >= 3 and set(nn.calls) == {("RenewLease", "c1")}
    renewer.release()
    time.sleep(0.15)
    count = len(nn.calls)
    time.sleep(0.2)
    assert len(nn.calls) == count  # nothing open for writing: no renewals
    assert renewer._thread is None
    renewer.acquire()
    time.sleep(0.15)
    assert len(nn.calls) > count
    renewer.close()
    assert renewer._thread is None


@pytest.mark.parametrize("size", [0, 1, client_mod.COPY_CHUNK_BYTES + 7])
def test_copy(size):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    seen = []
    sink = io.BytesIO()
    _copy(io.BytesIO(data), sink, seen.append)
    assert sink.getvalue() == data and sum(seen) == size

    class ReadOnly:
        def __init__(self, b):
            self.f = io.BytesIO(b)

        def read(self, n):
            return self.f.read(n)
    sink = io.BytesIO()
    _copy(ReadOnly(data), sink, None)
    assert sink.getvalue() == data


def test_write_options_are_checked_before_any_call(tmp_path):
    # The NameNode at 127.0.0.1:1 does not exist: any call would fail as unreachable.
    with Client(conf=make_conf(tmp_path)) as fs:
        with pytest.raises(errors.InvalidArgument, match="min_block_size_bytes"):
            fs.put(io.BytesIO(b"x"), "/a", block_size=64)
        with pytest.raises(errors.InvalidArgument, match="chunk_size_bytes"):
            fs.open("/a", "wb", block_size=100_000)
        with pytest.raises(errors.InvalidArgument, match="max_replication"):
            fs.put(io.BytesIO(b"x"), "/a", replication=513)
        with pytest.raises(errors.InvalidArgument, match="max_replication"):
            fs.setrep("/a", 1000)
        with pytest.raises(errors.InvalidPath, match="reserved"):
            fs.mkdir("/.reserved/x")
        with pytest.raises(errors.InvalidPath, match="max_path_depth"):
            fs.put(io.BytesIO(b"x"), "/d" * 1001)
