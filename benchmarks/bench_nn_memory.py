"""Benchmark `nn_memory`: NameNode RSS growth per single-block file (3 replicas).

Run by the harness (`python -m benchmarks --only nn_memory`). Writing 200k real
files through the data path would take most of the time budget, and the
NameNode's memory does not depend on where the bytes are. So, honestly and
through the NameNode's own code paths:

1. The namespace is built here with the NameNode's pure `Namespace`, operation by
   operation as live RPCs do it (create, add_block, commit, close: validate, then
   `apply` each edit record): N closed files of one 1-byte block, replication 3,
   FILES_PER_DIR per directory. `checkpoint.serialize` writes it as the NameNode's
   fsimage, exactly what a NameNode that served those RPCs would have saved.
2. A real NameNode process (`python -m minidfs.namenode.server`) starts on that
   image, loading it through its start-up path (image -> namespace -> block map).
3. Three simulated DataNodes register over the DatanodeNamenode RPCs and send
   full block reports naming every block, so the block map holds 3 replica
   locations per block, as with real DataNodes (no block bytes exist on disk;
   the NameNode never reads them). The NameNode leaves safe mode.
4. RSS (psutil) of that process, minus the RSS of a second NameNode process run
   the same way on an empty image with the same three DataNodes, over N.

The dead-node interval is raised for this run so the simulated DataNodes, which
send no heartbeats, stay live while RSS is read.
"""
from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import time
from typing import Iterator

import grpc
import psutil

import minidfs
from benchmarks.harness import Result, Sizes, Target, progress
from cluster.layout import free_ports
from minidfs import config, errors
from minidfs.namenode import checkpoint
from minidfs.namenode.namespace import Namespace
from minidfs.rpc import channels, client_namenode_pb2 as nn_pb, common_pb2
from minidfs.rpc import datanode_namenode_pb2 as dn_pb, datanode_namenode_pb2_grpc

TARGET = Target("ours", "<=", 1024, "B/file")
REPLICATION = 3
DATANODES = ("dn1", "dn2", "dn3")
FILES_PER_DIR = 1000
BLOCK_BYTES = 1
CLIENT_NAME = "bench_nn_memory"
MTIME_MS = 1_700_000_000_000
DEAD_NODE_INTERVAL_S = 3600.0
START_TIMEOUT_S = 120.0
REPORT_DEADLINE_S = 120.0
SETTLE_S = 1.0
POLL_INTERVAL_S = 0.2
STOP_TIMEOUT_S = 30.0
# The daemon imports the same minidfs as this process, wherever that lives.
SOURCE_ROOT = pathlib.Path(minidfs.__file__).resolve().parents[1]


def build_image(files: int) -> tuple[bytes, int, list[tuple[int, int, int]]]:
    """A checkpoint image of `files` closed single-block files, its txid, and every
    block as (id, genstamp, length)."""
    ns = Namespace(MTIME_MS)
    txid = 0

    def log(records: list) -> None:
        nonlocal txid
        for record in records:
            txid += 1
            ns.apply(record)

    for i in range(files):
        directory = f"/mem/d{i // FILES_PER_DIR:05d}"
        if i % FILES_PER_DIR == 0:
            log(ns.mkdirs(directory, parents=True, now_ms=MTIME_MS))
        path = f"{directory}/f{i % FILES_PER_DIR:04d}"
        log(ns.create(path, REPLICATION, 64 * 1024 * 1024, CLIENT_NAME, overwrite=False,
                      create_parent=False, now_ms=MTIME_MS))
        records, _ = ns.add_block(path, CLIENT_NAME, None)
        log(records)
        block = ns.get_file(path).blocks[-1]
        log(ns.commit_last(path, CLIENT_NAME, (block.id, block.genstamp, BLOCK_BYTES)))
        log(ns.close(path, MTIME_MS))
    blocks = [(b.id, b.genstamp, b.length)
              for node in ns.walk() if not node.is_dir for b in node.blocks]
    return checkpoint.serialize(ns, txid), txid, blocks


@contextlib.contextmanager
def _namenode(workdir: pathlib.Path, image: bytes, txid: int) -> Iterator[tuple[str, subprocess.Popen]]:
    """A NameNode process on `image`, serving; yields its address and process."""
    workdir.mkdir(parents=True)
    (port,) = free_ports(1)
    address = f"127.0.0.1:{port}"
    node = config.NodeConfig("nn1", "namenode", address, workdir / "nn1")
    settings = config.Settings(replication=REPLICATION, dead_node_interval_s=DEAD_NODE_INTERVAL_S)
    conf = config.ClusterConfig(None, settings, {"nn1": node})
    config.save(conf, workdir / config.CONF_NAME)
    checkpoint.ImageStore(node.data_dir / "current").write(txid, image)
    log = open(workdir / "nn1.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "minidfs.namenode.server",
                             "--conf", str(workdir / config.CONF_NAME), "--id", "nn1"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=SOURCE_ROOT)
    try:
        _wait_for_serving(address, proc, workdir / "nn1.log")
        yield address, proc
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)
        log.close()


def packed_replicas(blocks: list[tuple[int, int, int]]) -> dict[str, list]:
    """A full report's replica fields in the packed form a DataNode sends
    (datanode_namenode.proto, BlockReportRequest), every replica finalized."""
    return {"ids": [b[0] for b in blocks], "genstamps": [b[1] for b in blocks],
            "lengths": [b[2] for b in blocks], "finalized": [True] * len(blocks)}


def _report_blocks(address: str, blocks: list[tuple[int, int, int]]) -> None:
    """Registers DATANODES and sends each a full report of every block."""
    channel = channels.sync_channel(address)
    try:
        stub = datanode_namenode_pb2_grpc.DatanodeNamenodeStub(channel)
        replicas = packed_replicas(blocks)
        storage = dn_pb.StorageReport(capacity=1 << 40, used=0, remaining=1 << 40)
        for n, name in enumerate(DATANODES):
            ident = common_pb2.DatanodeId(name=name, address=f"127.0.0.1:{n + 1}", rack="/default")
            stub.RegisterDatanode(dn_pb.RegisterRequest(id=ident, storage=storage),
                                  timeout=REPORT_DEADLINE_S)
            stub.BlockReport(dn_pb.BlockReportRequest(name=name, **replicas),
                             timeout=REPORT_DEADLINE_S)
    finally:
        channel.close()


def _wait_loaded(address: str, pid: int, files: int) -> None:
    from minidfs.client.namenode_client import NamenodeClient

    nn = NamenodeClient([address])
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if not psutil.pid_exists(pid):
                raise RuntimeError("the NameNode exited during the benchmark (see its log)")
            try:
                stats = nn.call("GetStats", nn_pb.GetStatsRequest())
                if (stats.files == files and stats.live_datanodes == len(DATANODES)
                        and not stats.safe_mode and stats.under_replicated == 0):
                    return
            except errors.Unavailable:   # not serving yet: poll again
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the NameNode did not load {files} files within "
                                   f"{START_TIMEOUT_S:g} s")
            time.sleep(POLL_INTERVAL_S)
    finally:
        nn.close()


def _namenode_rss(workdir: pathlib.Path, files: int) -> tuple[int, int]:
    """RSS of a NameNode holding `files` files: after loading the image, and after
    the DataNodes' reports filled in the replica locations."""
    progress(f"nn_memory: building an image of {files} single-block files")
    image, txid, blocks = build_image(files)
    progress(f"nn_memory: NameNode loading {files} files, 3 DataNodes reporting")
    with _namenode(workdir, image, txid) as (address, proc):
        time.sleep(SETTLE_S)
        loaded = psutil.Process(proc.pid).memory_info().rss
        _report_blocks(address, blocks)
        _wait_loaded(address, proc.pid, files)
        time.sleep(SETTLE_S)
        return loaded, psutil.Process(proc.pid).memory_info().rss


def _wait_for_serving(address: str, proc: subprocess.Popen, log_path: pathlib.Path) -> None:
    channel = channels.sync_channel(address)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"the NameNode exited at start-up: {' '.join(tail)}")
            try:
                grpc.channel_ready_future(channel).result(timeout=POLL_INTERVAL_S)
                return
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the NameNode did not serve within {START_TIMEOUT_S:g} s") from None
    finally:
        channel.close()


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    files = sizes.nn_memory_files
    _, empty_rss = _namenode_rss(workdir / "empty", 0)
    loaded_rss, full_rss = _namenode_rss(workdir / "full", files)
    per_file = (full_rss - empty_rss) / files
    return [Result("nn_memory", per_file, None, "B/file", TARGET, {
        "files": files, "replicas_per_block": REPLICATION,
        "rss_empty_bytes": empty_rss, "rss_loaded_bytes": full_rss,
        "namespace_and_block_map_bytes_per_file": round((loaded_rss - empty_rss) / files),
        "replica_locations_bytes_per_file": round((full_rss - loaded_rss) / files),
        "method": "fsimage built with the NameNode's Namespace, loaded by a real NameNode "
                  "process; 3 simulated DataNodes report every block; RSS via psutil"})]
