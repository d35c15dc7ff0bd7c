"""Benchmark `nn_scale`: a NameNode holding N single-block files (1M in a full run)
never stalls: p99 latency of `stat` and of DataNode heartbeats while a checkpoint
and a full block report of every block run; start-up time; RSS per file.

Run by the harness (`python -m benchmarks --only nn_scale`). Honest and through the
NameNode's own code paths, like nn_memory (and with its image builder): the image
of N files is built with the NameNode's pure Namespace, a real NameNode process
starts on it (start-up = process start until it answers a stat), three simulated
DataNodes register and report every block (the NameNode leaves safe mode). Then a
caller thread sends GetFileInfo of one file in a loop and another sends dn2's
DataNode heartbeat in a loop, each one call at a time, each recording when every
call began and how long it took:

  - baseline: QUIET_S seconds of the idle NameNode;
  - rounds: a mkdir makes a checkpoint due at once (checkpoint_txns = 1 for this
    run) and dn1 sends its full block report of all N blocks again; the round
    ends when the report is answered and the checkpoint installed (GetHaStatus).
    Rounds repeat until each series has MIN_SAMPLES calls begun inside rounds (a
    NameNode that stalls answers few calls: one round of 0.5 s gave 7 samples,
    whose "p99" is just the slowest), at most MAX_ROUNDS.

The figure is the p99 latency of the stat calls begun inside a round (target <
100 ms, the issue's); the baseline is the same p99 on the idle NameNode.
Heartbeat percentiles, each round's report and checkpoint time, the fork time the
NameNode logged, RSS (minus an empty NameNode's, per file; and its peak during
the checkpoint, when copy-on-write pages add up) are in the detail. The report is
encoded before the window (encoding 20 MB of protobuf holds this process's GIL
for seconds, which the caller threads would measure as NameNode latency) and sent
as bytes; this process also freezes its own heap out of its GC for the window.
"""
from __future__ import annotations

import contextlib
import gc
import pathlib
import re
import subprocess
import sys
import threading
import time
from typing import Iterator

import grpc
import psutil

from benchmarks.bench_nn_memory import (DATANODES, REPLICATION, SOURCE_ROOT, build_image,
                                        packed_replicas)
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
SETTLE_S = 1.0
QUIET_S = 2.0
IDLE_WINDOW_S = 1.0
IDLE_CPU_FRACTION = 0.1
IDLE_TIMEOUT_S = 30.0
MIN_SAMPLES = 200     # per series, so p99 is not one slow call among a handful
MAX_ROUNDS = 8
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
            except errors.FileNotFound:   # answered: an empty namespace
                return
            except errors.MinidfsError:   # not serving yet: again
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the NameNode did not serve within {START_TIMEOUT_S:g} s") from None
                time.sleep(POLL_INTERVAL_S)
    finally:
        nn.close()


REPORT_METHOD = "/minidfs.DatanodeNamenode/BlockReport"


def _report(stub, name: str, replicas: dict[str, list]) -> None:
    stub.BlockReport(dn_pb.BlockReportRequest(name=name, **replicas),
                     timeout=CALL_DEADLINE_S)


def _encoded_report_sender(channel, name: str, replicas: dict[str, list]):
    """A call that sends `name`'s full report, encoded now, as bytes."""
    data = dn_pb.BlockReportRequest(name=name, **replicas).SerializeToString()
    call = channel.unary_unary(REPORT_METHOD, request_serializer=None,
                               response_deserializer=dn_pb.BlockReportResponse.FromString)
    return lambda: call(data, timeout=CALL_DEADLINE_S)


def _own_channel(address: str) -> grpc.Channel:
    """A channel with its own connection (not grpc's process-wide shared one)."""
    return grpc.insecure_channel(address, options=[*channels.CHANNEL_OPTIONS,
                                                   ("grpc.use_local_subchannel_pool", 1)])


def _register_and_report(stub, replicas: dict[str, list]) -> None:
    for n, name in enumerate(DATANODES):
        ident = common_pb2.DatanodeId(name=name, address=f"127.0.0.1:{n + 1}", rack="/default")
        stub.RegisterDatanode(dn_pb.RegisterRequest(id=ident, storage=STORAGE),
                              timeout=CALL_DEADLINE_S)
        _report(stub, name, replicas)


class _Caller(threading.Thread):
    """Calls `call` one at a time until stopped; keeps every call's start (monotonic
    seconds) and latency (ms), so a window can count the calls that began in it."""

    def __init__(self, call) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.samples: list[tuple[float, float]] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            start = time.perf_counter()
            try:
                self.call()
            except errors.MinidfsError:
                self.errors += 1
            except Exception:  # noqa: BLE001 - a gRPC error is a failed call, counted
                self.errors += 1
            self.samples.append((began, (time.perf_counter() - start) * 1000))

    def latencies(self, windows: list[tuple[float, float]]) -> list[float]:
        """Latencies of the calls that began inside one of `windows`."""
        return [ms for began, ms in self.samples
                if any(start <= began <= end for start, end in windows)]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def _series(name: str, latencies: list[float]) -> dict:
    return {f"{name}_calls": len(latencies),
            f"{name}_p50_ms": round(_percentile(latencies, 50), 2),
            f"{name}_p99_ms": round(_percentile(latencies, 99), 2),
            f"{name}_max_ms": round(max(latencies, default=0), 2)}


def _fork_ms(log_path: pathlib.Path) -> list[float]:
    """The fork times the NameNode logged for its checkpoints (namesystem.py)."""
    text = log_path.read_text(errors="replace")
    return [float(m) for m in re.findall(r"checkpoint at txid \d+ .*; fork ([0-9.]+) ms", text)]


def _wait_idle(proc: psutil.Process) -> None:
    """Until the process used under IDLE_CPU_FRACTION of a core for IDLE_WINDOW_S
    (at most IDLE_TIMEOUT_S)."""
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while time.monotonic() < deadline:
        before = sum(proc.cpu_times()[:2])
        time.sleep(IDLE_WINDOW_S)
        if sum(proc.cpu_times()[:2]) - before < IDLE_CPU_FRACTION * IDLE_WINDOW_S:
            return


def _empty_namenode_rss(workdir: pathlib.Path) -> int:
    """RSS of a NameNode with no files and the same three DataNodes (the interpreter,
    gRPC, the daemon's code): subtracted, so per-file RSS is the namespace's."""
    image, txid, _ = build_image(0)
    with _namenode(workdir, image, txid) as (address, proc, _start_s):
        channel = channels.sync_channel(address)
        try:
            _register_and_report(datanode_namenode_pb2_grpc.DatanodeNamenodeStub(channel),
                                 packed_replicas([]))
            time.sleep(SETTLE_S)
            _wait_idle(psutil.Process(proc.pid))
            return psutil.Process(proc.pid).memory_info().rss
        finally:
            channel.close()


def _round(nn, send_report, proc: psutil.Process, n: int) -> dict:
    """One checkpoint (forced by a mkdir) and one full report of dn1, together; the
    round ends when the report is answered and the checkpoint installed."""
    started = time.monotonic()
    nn.call("Mkdirs", nn_pb.MkdirsRequest(path=f"/nn_scale_checkpoint/{n}", parents=True))
    want_txid = nn.call("GetHaStatus", nn_pb.GetHaStatusRequest()).last_txid
    answered = threading.Event()
    report_s = [0.0]

    def report() -> None:
        send_report()
        report_s[0] = time.monotonic() - started
        answered.set()

    sender = threading.Thread(target=report, daemon=True)
    sender.start()
    rss_peak = 0
    checkpoint_s = None
    while checkpoint_s is None or not answered.is_set():
        rss_peak = max(rss_peak, proc.memory_info().rss)
        if checkpoint_s is None and nn.call("GetHaStatus", nn_pb.GetHaStatusRequest()).checkpoint_txid >= want_txid:
            checkpoint_s = time.monotonic() - started
        if time.monotonic() - started > WINDOW_TIMEOUT_S:
            raise RuntimeError("the checkpoint or the full report did not finish in time")
        time.sleep(POLL_INTERVAL_S)
    sender.join()
    return {"start": started, "end": time.monotonic(), "report_s": report_s[0],
            "checkpoint_s": checkpoint_s, "rss_peak": rss_peak}


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    from minidfs.client.namenode_client import NamenodeClient

    files = sizes.nn_scale_files
    progress("nn_scale: RSS of an empty NameNode (subtracted from the per-file figure)")
    empty_rss = _empty_namenode_rss(workdir / "empty")
    progress(f"nn_scale: building an image of {files} single-block files")
    image, txid, blocks = build_image(files)
    replicas = packed_replicas(blocks)
    del blocks
    image_mb = len(image) / 1e6
    progress(f"nn_scale: NameNode loading {image_mb:.0f} MB of image, 3 DataNodes reporting")
    with _namenode(workdir / "nn", image, txid) as (address, popen, start_s):
        del image
        proc = psutil.Process(popen.pid)
        channel = channels.sync_channel(address)
        report_channel = beat_channel = None
        nn = NamenodeClient([address])
        try:
            stub = datanode_namenode_pb2_grpc.DatanodeNamenodeStub(channel)
            _register_and_report(stub, replicas)
            time.sleep(SETTLE_S)
            # The tick re-evaluates the reported blocks (seconds at 1M, in slices) and
            # then hands the reports' freed memory back: RSS is what is live once the
            # NameNode is idle (1 s after the reports, RSS/file varied 920-1,070 B
            # with when the re-evaluation happened to end).
            _wait_idle(proc)
            rss = proc.memory_info().rss
            # Like real DataNodes and clients, dn1's report, dn2's heartbeats and the
            # stat caller each come on a connection of their own (grpc would otherwise
            # share one, and dn2's heartbeats would queue behind dn1's 25 MB report).
            report_channel, beat_channel = _own_channel(address), _own_channel(address)
            send_report = _encoded_report_sender(report_channel, "dn1", replicas)
            beat_stub = datanode_namenode_pb2_grpc.DatanodeNamenodeStub(beat_channel)
            # This process holds a million protobuf messages: a full collection here
            # would pause the caller threads and be counted as NameNode latency.
            gc.collect()
            gc.freeze()
            stat = _Caller(lambda: nn.call("GetFileInfo", nn_pb.PathRequest(path=STAT_PATH)))
            beat = _Caller(lambda: beat_stub.Heartbeat(dn_pb.HeartbeatRequest(name="dn2", storage=STORAGE),
                                                  timeout=CALL_DEADLINE_S))
            stat.start()
            beat.start()
            quiet = (time.monotonic(), time.monotonic() + QUIET_S)
            progress(f"nn_scale: baseline: stat and heartbeat latency of the idle NameNode ({QUIET_S:g} s)")
            time.sleep(QUIET_S)
            progress("nn_scale: stat and heartbeat latency during a checkpoint and a full report")
            rounds = []
            while True:
                rounds.append(_round(nn, send_report, proc, len(rounds)))
                windows = [(r["start"], r["end"]) for r in rounds]
                counts = (len(stat.latencies(windows)), len(beat.latencies(windows)))
                progress(f"nn_scale: round {len(rounds)}: report {rounds[-1]['report_s']:.1f} s, "
                         f"checkpoint {rounds[-1]['checkpoint_s']:.1f} s, "
                         f"{counts[0]} stat / {counts[1]} heartbeat calls so far")
                if min(counts) >= MIN_SAMPLES or len(rounds) >= MAX_ROUNDS:
                    break
            stat.stop.set()
            beat.stop.set()
            stat.join()
            beat.join()
        finally:
            gc.unfreeze()
            nn.close()
            for open_channel in (channel, report_channel, beat_channel):
                if open_channel is not None:
                    open_channel.close()
        fork_ms = _fork_ms(workdir / "nn" / "nn1.log")
    windows = [(r["start"], r["end"]) for r in rounds]
    stat_ms, beat_ms = stat.latencies(windows), beat.latencies(windows)
    quiet_stat = stat.latencies([quiet])
    p99 = _percentile(stat_ms, 99)
    return [Result("nn_scale", p99, _percentile(quiet_stat, 99), "ms", TARGET, {
        "files": files, "blocks": files, "replicas_per_block": REPLICATION,
        "image_mb": round(image_mb, 1),
        "startup_seconds": round(start_s, 2),
        "rss_bytes": rss, "empty_namenode_rss_bytes": empty_rss,
        "rss_bytes_per_file": round((rss - empty_rss) / max(1, files)),
        "rss_peak_during_checkpoint_bytes": max(r["rss_peak"] for r in rounds),
        "rounds": len(rounds),
        "window_seconds": round(sum(end - start for start, end in windows), 2),
        "full_report_seconds": [round(r["report_s"], 2) for r in rounds],
        "checkpoint_seconds": [round(r["checkpoint_s"], 2) for r in rounds],
        "checkpoint_fork_ms": fork_ms[-len(rounds):],
        "stat_errors": stat.errors, "heartbeat_errors": beat.errors,
        **_series("stat", stat_ms), **_series("heartbeat", beat_ms),
        **_series("idle_stat", quiet_stat), **_series("idle_heartbeat", beat.latencies([quiet])),
        "method": "fsimage built with the NameNode's Namespace, loaded by a real NameNode; "
                  "3 simulated DataNodes; in each round a checkpoint (forced by one mkdir "
                  "with checkpoint_txns=1) and a full report of every block by dn1 run "
                  "together while one thread stats a file and one sends dn2's heartbeats, "
                  "each one call at a time; rounds repeat until each series has "
                  f"{MIN_SAMPLES} calls (at most {MAX_ROUNDS}); figure = p99 stat latency of "
                  "the calls begun inside a round; baseline = the same p99 on the idle "
                  f"NameNode ({QUIET_S:g} s before); RSS per file = (RSS - an empty "
                  "NameNode's RSS) / files"})]
