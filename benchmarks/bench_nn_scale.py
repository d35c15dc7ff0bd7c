"""Benchmark `nn_scale`: a NameNode holding N single-block files (1M in a full run)
never stalls: p99 latency of `stat` and of DataNode heartbeats while a checkpoint
and a full block report of every block run; start-up time; RSS per file.

Run by the harness (`python -m benchmarks --only nn_scale`). Honest and through the
NameNode's own code paths, like nn_memory (and with its image builder): the image
of N files is built with the NameNode's pure Namespace, a real NameNode process
starts on it (start-up = process start until it answers a stat), three simulated
DataNodes register and report every block (the NameNode leaves safe mode). Then,
measured together:

  - a caller thread sends GetFileInfo of one file in a loop, another sends dn2's
    DataNode heartbeat in a loop, each one call at a time, each recording latency;
  - a mkdir makes a checkpoint due at once (checkpoint_txns = 1 for this run);
  - dn1 sends its full block report of all N blocks again.

The window ends when the checkpoint of that mkdir is installed (GetHaStatus) and
the report is answered. The figure is the p99 stat latency in that window (target
< 100 ms, the issue's); heartbeat percentiles, the checkpoint's and the report's
wall time are in the detail. The report is encoded before the window (encoding 20
MB of protobuf holds this process's GIL for seconds, which the caller threads
would measure as NameNode latency) and sent as bytes.
"""
from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import threading
import time
from typing import Iterator

import psutil

from benchmarks.bench_nn_memory import DATANODES, REPLICATION, SOURCE_ROOT, build_image
from benchmarks.harness import Result, Sizes, Target, progress
from cluster.layout import free_ports
from minidfs import config, errors
from minidfs.namenode import checkpoint
from minidfs.rpc import channels, client_namenode_pb2 as nn_pb, common_pb2
from minidfs.rpc import datanode_namenode_pb2 as dn_pb, datanode_namenode_pb2_grpc

TARGET = Target("ours", "<", 100.0, "ms")
DEAD_NODE_INTERVAL_S = 3600.0
START_TIMEOUT_S = 600.0
WINDOW_TIMEOUT_S = 600.0
CALL_DEADLINE_S = 120.0
POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 60.0
STAT_PATH = "/mem/d00000/f0000"
STORAGE = dn_pb.StorageReport(capacity=1 << 40, used=0, remaining=1 << 40)


@contextlib.contextmanager
def _namenode(workdir: pathlib.Path, image: bytes, txid: int) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """A NameNode on `image` that checkpoints after every edit; yields its address,
    process and start-up seconds (until it answered a stat)."""
    workdir.mkdir(parents=True)
    (port,) = free_ports(1)
    address = f"127.0.0.1:{port}"
    node = config.NodeConfig("nn1", "namenode", address, workdir / "nn1")
    settings = config.Settings(replication=REPLICATION, dead_node_interval_s=DEAD_NODE_INTERVAL_S,
                               checkpoint_txns=1)
    config.save(config.ClusterConfig(None, settings, {"nn1": node}), workdir / config.CONF_NAME)
    checkpoint.ImageStore(node.data_dir / "current").write(txid, image)
    log = open(workdir / "nn1.log", "wb")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "minidfs.namenode.server",
                             "--conf", str(workdir / config.CONF_NAME), "--id", "nn1"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=SOURCE_ROOT)
    try:
        _wait_for_stat(address, proc)
        yield address, proc, time.monotonic() - started
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)
        log.close()


def _wait_for_stat(address: str, proc: subprocess.Popen) -> None:
    from minidfs.client.namenode_client import NamenodeClient

    nn = NamenodeClient([address])
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the NameNode exited at start-up (see its log)")
            try:
                nn.call("GetFileInfo", nn_pb.PathRequest(path=STAT_PATH))
                return
            except errors.MinidfsError:   # not serving yet (or in safe mode): again
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the NameNode did not serve within {START_TIMEOUT_S:g} s") from None
                time.sleep(POLL_INTERVAL_S)
    finally:
        nn.close()


REPORT_METHOD = "/minidfs.DatanodeNamenode/BlockReport"


def _report(stub, name: str, replicas: list) -> None:
    stub.BlockReport(dn_pb.BlockReportRequest(name=name, replicas=replicas),
                     timeout=CALL_DEADLINE_S)


def _encoded_report_sender(channel, name: str, replicas: list):
    """A call that sends `name`'s full report, encoded now, as bytes."""
    data = dn_pb.BlockReportRequest(name=name, replicas=replicas).SerializeToString()
    call = channel.unary_unary(REPORT_METHOD, request_serializer=None,
                               response_deserializer=dn_pb.BlockReportResponse.FromString)
    return lambda: call(data, timeout=CALL_DEADLINE_S)


def _register_and_report(stub, replicas: list) -> None:
    for n, name in enumerate(DATANODES):
        ident = common_pb2.DatanodeId(name=name, address=f"127.0.0.1:{n + 1}", rack="/default")
        stub.RegisterDatanode(dn_pb.RegisterRequest(id=ident, storage=STORAGE),
                              timeout=CALL_DEADLINE_S)
        _report(stub, name, replicas)


class _Caller(threading.Thread):
    """Calls `call` one at a time until stopped; keeps every latency in ms."""

    def __init__(self, call) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            start = time.perf_counter()
            try:
                self.call()
            except errors.MinidfsError:
                self.errors += 1
            except Exception:  # noqa: BLE001 - a gRPC error is a failed call, counted
                self.errors += 1
            self.latencies_ms.append((time.perf_counter() - start) * 1000)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    from minidfs.client.namenode_client import NamenodeClient

    files = sizes.nn_scale_files
    progress(f"nn_scale: building an image of {files} single-block files")
    image, txid, blocks = build_image(files)
    replicas = [dn_pb.ReplicaReport(block=common_pb2.Block(id=i, genstamp=g, length=n),
                                    finalized=True) for i, g, n in blocks]
    del blocks
    progress(f"nn_scale: NameNode loading {len(image) / 1e6:.0f} MB of image, 3 DataNodes reporting")
    with _namenode(workdir / "nn", image, txid) as (address, proc, start_s):
        del image
        channel = channels.sync_channel(address)
        nn = NamenodeClient([address])
        try:
            stub = datanode_namenode_pb2_grpc.DatanodeNamenodeStub(channel)
            _register_and_report(stub, replicas)
            rss = psutil.Process(proc.pid).memory_info().rss
            send_report = _encoded_report_sender(channel, "dn1", replicas)
            stat = _Caller(lambda: nn.call("GetFileInfo", nn_pb.PathRequest(path=STAT_PATH)))
            beat = _Caller(lambda: stub.Heartbeat(dn_pb.HeartbeatRequest(name="dn2", storage=STORAGE),
                                                  timeout=CALL_DEADLINE_S))
            progress("nn_scale: stat and heartbeat latency during a checkpoint and a full report")
            stat.start()
            beat.start()
            window_start = time.monotonic()
            nn.call("Mkdirs", nn_pb.MkdirsRequest(path="/nn_scale_checkpoint", parents=True))
            want_txid = nn.call("GetHaStatus", nn_pb.GetHaStatusRequest()).last_txid
            report_start = time.monotonic()
            send_report()
            report_s = time.monotonic() - report_start
            while nn.call("GetHaStatus", nn_pb.GetHaStatusRequest()).checkpoint_txid < want_txid:
                if time.monotonic() - window_start > WINDOW_TIMEOUT_S:
                    raise RuntimeError("the checkpoint did not finish in time")
                time.sleep(POLL_INTERVAL_S)
            window_s = time.monotonic() - window_start
            stat.stop.set()
            beat.stop.set()
            stat.join()
            beat.join()
        finally:
            nn.close()
            channel.close()
    p99 = _percentile(stat.latencies_ms, 99)
    return [Result("nn_scale", p99, None, "ms", TARGET, {
        "files": files, "blocks": files, "replicas_per_block": REPLICATION,
        "startup_seconds": round(start_s, 2),
        "rss_bytes": rss, "rss_bytes_per_file": round(rss / max(1, files)),
        "window_seconds": round(window_s, 2), "full_report_seconds": round(report_s, 2),
        "stat_calls": len(stat.latencies_ms), "stat_errors": stat.errors,
        "stat_p50_ms": round(_percentile(stat.latencies_ms, 50), 2),
        "stat_p99_ms": round(p99, 2), "stat_max_ms": round(max(stat.latencies_ms, default=0), 2),
        "heartbeat_calls": len(beat.latencies_ms), "heartbeat_errors": beat.errors,
        "heartbeat_p50_ms": round(_percentile(beat.latencies_ms, 50), 2),
        "heartbeat_p99_ms": round(_percentile(beat.latencies_ms, 99), 2),
        "heartbeat_max_ms": round(max(beat.latencies_ms, default=0), 2),
        "method": "fsimage built with the NameNode's Namespace, loaded by a real NameNode; "
                  "3 simulated DataNodes; during the window a checkpoint (forced by one mkdir "
                  "with checkpoint_txns=1) and a full report of every block by dn1 run while "
                  "one thread stats a file and one sends dn2's heartbeats"})]
