"""Helpers shared by the test_datanode_* integration tests (this module has no
tests): free ports, a cluster.toml in tmp_path, DataNode / NameNode processes
that are always stopped, and a tiny WriteBlock / ReadBlock client."""
from __future__ import annotations

import contextlib
import pathlib
import signal
import socket
import subprocess
import sys
import time
from typing import Iterator

import grpc

from minidfs.checksum import checksum_chunks, first_bad_chunk
from minidfs.rpc import channels
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb
from minidfs.rpc import datatransfer_pb2_grpc

REPO = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
CHUNK = 65536
REQUEST_PACKETS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_conf(root: pathlib.Path, datanodes: int, *, settings: dict | None = None,
               capacity: dict[str, int] | None = None) -> pathlib.Path:
    """cluster.toml with nn1 (nothing need listen there) and dn1..dnN on free ports."""
    lines = ["[cluster]"]
    for key, value in (settings or {}).items():
        lines.append(f"{key} = {value!r}")
    lines += ["[nodes.nn1]", 'kind = "namenode"', f'address = "127.0.0.1:{free_port()}"']
    for i in range(1, datanodes + 1):
        name = f"dn{i}"
        lines += [f"[nodes.{name}]", 'kind = "datanode"', f'address = "127.0.0.1:{free_port()}"']
        if capacity and name in capacity:
            lines.append(f"capacity_bytes = {capacity[name]}")
    path = root / "cluster.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def address_of(conf: pathlib.Path, name: str) -> str:
    from minidfs.config import load

    return load(conf).node(name).address


def wait_serving(address: str, timeout_s: float = START_TIMEOUT_S) -> None:
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    finally:
        channel.close()


class Processes:
    """Daemons started by a test; stop_all() ends each by its pid."""

    def __init__(self, conf: pathlib.Path, log_dir: pathlib.Path) -> None:
        self.conf = conf
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, kind: str, name: str, wait: bool = True) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", f"minidfs.{kind}.server", "--conf", str(self.conf), "--id", name],
            cwd=REPO, stdout=log, stderr=log)
        log.close()
        self.procs[name] = proc
        if wait:
            wait_serving(address_of(self.conf, name))
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(STOP_TIMEOUT_S)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait(STOP_TIMEOUT_S)
        return codes


@contextlib.contextmanager
def datanodes(root: pathlib.Path, count: int = 3, **conf_options) -> Iterator[Processes]:
    conf = write_conf(root, count, **conf_options)
    procs = Processes(conf, root)
    try:
        for i in range(1, count + 1):
            procs.start("datanode", f"dn{i}", wait=False)
        for i in range(1, count + 1):
            wait_serving(address_of(conf, f"dn{i}"))
        yield procs
    finally:
        procs.stop_all()


def node_id(conf: pathlib.Path, name: str) -> common.DatanodeId:
    return common.DatanodeId(name=name, address=address_of(conf, name))


def stub(address: str) -> datatransfer_pb2_grpc.DataTransferStub:
    return datatransfer_pb2_grpc.DataTransferStub(channels.sync_channel(address))


def block_requests(block_id: int, genstamp: int, data: bytes, downstream: list[common.DatanodeId],
                   *, corrupt_request: int | None = None, header_only_first: bool = True):
    """The requests of one block: a header, then REQUEST_PACKETS packets per request,
    the last one with last=true. corrupt_request flips a byte after checksumming."""
    header = pb.WriteHeader(block=common.Block(id=block_id, genstamp=genstamp), downstream=downstream,
                            stage=pb.WriteHeader.CREATE, chunk_size=CHUNK)
    if header_only_first:
        yield pb.WriteBlockRequest(header=header, seqno=0)
    step = CHUNK * REQUEST_PACKETS
    seqno, offset, index = 0, 0, 0
    while True:
        piece = data[offset:offset + step]
        checksums = checksum_chunks(piece, CHUNK)
        if index == corrupt_request and piece:
            piece = bytes([piece[0] ^ 0xFF]) + piece[1:]
        seqno += max(1, len(checksums))
        last = offset + len(piece) >= len(data)
        request = pb.WriteBlockRequest(seqno=seqno, offset=offset, data=piece, checksums=checksums, last=last)
        if not header_only_first and index == 0:
            request.header.CopyFrom(header)
        yield request
        offset += len(piece)
        index += 1
        if last:
            return


def write_block(address: str, requests) -> list[pb.WriteBlockAck]:
    return list(stub(address).WriteBlock(requests, timeout=30))


def read_block(address: str, block_id: int, genstamp: int, offset: int = 0, length: int = 0) -> bytes:
    """The bytes of [offset, offset+length), checksums verified."""
    out = bytearray()
    start = None
    for response in stub(address).ReadBlock(
            pb.ReadBlockRequest(block=common.Block(id=block_id, genstamp=genstamp), offset=offset,
                                length=length), timeout=30):
        assert first_bad_chunk(response.data, response.checksums, response.chunk_size) is None
        if start is None:
            start = response.offset
        out += response.data
    skip = offset - (start or 0)
    end = len(out) if length == 0 else skip + length
    return bytes(out[skip:end])


def wait_for(condition, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
