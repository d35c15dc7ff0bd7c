"""A real NameNode process: acknowledged edits survive SIGKILL, a torn tail is cut,
corruption refuses start-up with one clear line, bad requests get INVALID_ARGUMENT."""
from __future__ import annotations

import pathlib
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest

from minidfs import errors
from minidfs.client.namenode_client import NamenodeClient
from minidfs.namenode.file_journal import FileJournal
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc import client_namenode_pb2_grpc, common_pb2

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
REPO = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NamenodeProcess:
    def __init__(self, home: pathlib.Path) -> None:
        self.home = home
        self.address = f"127.0.0.1:{free_port()}"
        self.conf = home / "cluster.toml"
        self.conf.write_text(
            "[cluster]\nreplication = 1\n\n"
            f'[nodes.nn1]\nkind = "namenode"\naddress = "{self.address}"\ndata_dir = "nn1"\n')
        self.current = home / "nn1" / "current"
        self.proc: subprocess.Popen | None = None
        self.stderr_path = home / "nn1.log"

    def spawn(self) -> subprocess.Popen:
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "minidfs.namenode.server", "--conf", str(self.conf), "--id", "nn1"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=self.stderr)
        return self.proc

    def start(self) -> None:
        self.spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        with grpc.insecure_channel(self.address) as channel:
            stub = client_namenode_pb2_grpc.ClientNamenodeStub(channel)
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"namenode exited: {self.stderr_path.read_text()}")
                try:
                    # Every ClientNamenode call names its user (minidfs/identity.py).
                    if not stub.SafeMode(pb.SafeModeRequest(), timeout=1.0,
                                         metadata=(("minidfs-user", "tester"),)).on:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("namenode did not start in time")
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGKILL) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(STOP_TIMEOUT_S)
        self.proc = None
        self.stderr.close()
        return code


@pytest.fixture
def namenode(tmp_path):
    nn = NamenodeProcess(tmp_path)
    try:
        yield nn
    finally:
        if nn.proc is not None and nn.proc.poll() is None:
            nn.proc.kill()
            nn.proc.wait(STOP_TIMEOUT_S)


@pytest.fixture
def client(namenode):
    c = NamenodeClient([namenode.address], deadline_s=10.0)
    try:
        yield c
    finally:
        c.close()


def listing(client: NamenodeClient, path: str) -> list[str]:
    return [e.path for e in client.call("ListStatus", pb.ListStatusRequest(path=path)).entries]


def create_empty(client: NamenodeClient, path: str) -> None:
    client.call("Create", pb.CreateRequest(path=path, client_name="it", create_parent=True))
    assert client.call("Complete", pb.CompleteRequest(path=path, client_name="it")).done


def test_acknowledged_edits_survive_sigkill(namenode, client) -> None:
    namenode.start()
    client.call("Mkdirs", pb.MkdirsRequest(path="/a/b/c", parents=True))
    for i in range(20):
        create_empty(client, f"/a/f{i}")
    client.call("Rename", pb.RenameRequest(src="/a/f0", dst="/a/b"))
    client.call("Rename", pb.RenameRequest(src="/a/f1", dst="/a/renamed"))
    assert client.call("Delete", pb.DeleteRequest(path="/a/f2")).deleted
    client.call("SetReplication", pb.SetReplicationRequest(path="/a/f3", replication=2))
    expected = listing(client, "/a")
    assert namenode.stop(signal.SIGKILL) == -signal.SIGKILL

    namenode.start()
    assert listing(client, "/a") == expected
    assert listing(client, "/a/b") == ["/a/b/c", "/a/b/f0"]
    assert client.call("GetFileInfo", pb.PathRequest(path="/a/f3")).replication == 2
    stats = client.call("GetStats", pb.GetStatsRequest())
    assert stats.files == 19 and stats.last_txid > 40
    # Another round, then a graceful stop (checkpoint) and a restart from the image.
    client.call("Delete", pb.DeleteRequest(path="/a/b", recursive=True))
    assert namenode.stop(signal.SIGTERM) == 0
    namenode.start()
    assert "/a/b" not in listing(client, "/a")
    assert namenode.stop(signal.SIGKILL) == -signal.SIGKILL


def inprogress_segment(namenode: NamenodeProcess) -> pathlib.Path:
    segments = FileJournal(namenode.current).segments()
    assert segments[-1].last is None
    return segments[-1].path


def test_torn_tail_is_cut_at_start(namenode, client) -> None:
    namenode.start()
    for i in range(5):
        create_empty(client, f"/t{i}")
    namenode.stop(signal.SIGKILL)
    segment = inprogress_segment(namenode)
    whole = segment.stat().st_size
    with open(segment, "ab") as f:
        f.write(b"\x40\x00\x00\x00\x01\x02\x03")  # a record header cut short
    namenode.start()
    assert listing(client, "/") == [f"/t{i}" for i in range(5)]
    cut = FileJournal(namenode.current).segments()[0]   # finalized at start-up
    assert cut.first == 1 and cut.last == 10 and cut.path.stat().st_size == whole
    create_empty(client, "/after")
    namenode.stop(signal.SIGKILL)
    namenode.start()
    assert "/after" in listing(client, "/")


def test_corruption_in_the_middle_refuses_to_start(namenode, client) -> None:
    namenode.start()
    for i in range(10):
        create_empty(client, f"/c{i}")
    namenode.stop(signal.SIGKILL)
    segment = inprogress_segment(namenode)
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x20
    segment.write_bytes(bytes(data))
    proc = namenode.spawn()
    assert proc.wait(START_TIMEOUT_S) == 1
    namenode.proc = None
    namenode.stderr.close()
    lines = [l for l in namenode.stderr_path.read_text().splitlines() if l.strip()]
    assert lines[-1].startswith("minidfs namenode nn1: ")
    assert "corrupt edit record at offset" in lines[-1] and str(segment) in lines[-1]
    assert "Traceback" not in namenode.stderr_path.read_text()


def test_malformed_requests_get_invalid_argument(namenode, client) -> None:
    namenode.start()
    bad = [
        ("Mkdirs", pb.MkdirsRequest(path="relative", parents=True)),
        ("Mkdirs", pb.MkdirsRequest(path="/a//b", parents=True)),
        ("Mkdirs", pb.MkdirsRequest(path="/a/../b", parents=True)),
        ("Create", pb.CreateRequest(path="/f", client_name="c", replication=10_000)),
        ("Create", pb.CreateRequest(path="/f", client_name="c", block_size=1 << 41)),
        ("Create", pb.CreateRequest(path="/f", client_name="")),
        ("GetFileInfo", pb.PathRequest(path="")),
        ("Rename", pb.RenameRequest(src="/", dst="/x")),
        ("Delete", pb.DeleteRequest(path="/", recursive=True)),
        ("SetReplication", pb.SetReplicationRequest(path="/f", replication=0)),
        ("AbandonBlock", pb.AbandonBlockRequest(path="/f", client_name="c",
                                                block=common_pb2.Block(id=0))),
        ("SafeMode", pb.SafeModeRequest(action=7)),
    ]
    for method, request in bad:
        with pytest.raises(errors.InvalidArgument):
            client.call(method, request)
    # "0 = cluster default" for replication and block size (the proto's contract).
    status = client.call("Create", pb.CreateRequest(path="/ok", client_name="c")).status
    assert status.replication == 1 and status.block_size == 64 * 1024 * 1024
    assert client.call("GetStats", pb.GetStatsRequest()).files == 1   # still serving
    with pytest.raises(errors.FileNotFound):
        client.call("GetFileInfo", pb.PathRequest(path="/nope"))
    with pytest.raises(errors.FileExists):
        client.call("Create", pb.CreateRequest(path="/ok", client_name="c"))
