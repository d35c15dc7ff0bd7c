"""Benchmark `rereplication`: how fast the cluster restores full replication after a
DataNode holding the whole file is SIGKILLed, and how long it takes to notice.

Run by the harness (`python -m benchmarks --only rereplication`). A 4-DataNode
local cluster (the local default dead-node interval, cluster/layout.py) gets one
file with replication 3, written from this host, so writer-local placement puts
a replica of every block on one DataNode; that node is SIGKILLed once every
block has its 3 replicas reported. Two figures:
  rereplication         MB/s = bytes the dead node held / (all blocks back at 3
                        live replicas - death detected); baseline: raw gRPC
                        single-hop stream of the same bytes (raw_grpc.download_mb_s,
                        64 KiB messages; with messages of the DataNode transfer
                        size in "detail"), measured next;
  rereplication.detect  seconds from SIGKILL to the NameNode counting the node
                        dead, beside the configured dead-node interval.
Megabytes are 10^6 bytes.
"""
from __future__ import annotations

import os
import pathlib
import time

from benchmarks import raw_grpc
from benchmarks.harness import MIB, Result, Sizes, progress
from cluster import LocalCluster
from cluster.layout import LOCAL_DEAD_NODE_INTERVAL_S
from minidfs.datanode.transfer import TRANSFER_REQUEST_BYTES

DATANODES = 4
REPLICATION = 3
FILE_PATH = "/bench/rereplication.bin"
WRITE_SLICE_BYTES = 8 * MIB
BASELINE_MESSAGE_BYTES = 64 * 1024
POLL_INTERVAL_S = 0.05
REPORTED_TIMEOUT_S = 60.0
# Detection takes the dead interval plus a tick; restoring 256 MiB on a loaded
# 2-core machine takes well under this.
DETECT_MARGIN_S = 30.0
RESTORE_TIMEOUT_S = 300.0


def _write(fs, total_bytes: int) -> None:
    pattern = memoryview(os.urandom(WRITE_SLICE_BYTES))
    with fs.open(FILE_PATH, "wb", replication=REPLICATION) as f:
        written = 0
        while written < total_bytes:
            n = min(len(pattern), total_bytes - written)
            f.write(pattern[:n])
            written += n


def _wait(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"rereplication: timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


def _fully_replicated(fs, dead: str | None) -> bool:
    blocks = fs.stat(FILE_PATH)["blocks"]
    return all(len([n for n in b["locations"] if n != dead]) >= REPLICATION for b in blocks)


def _victim(fs) -> tuple[str, int]:
    """The DataNode holding the most bytes of the file, and how many it holds."""
    held: dict[str, int] = {}
    for block in fs.stat(FILE_PATH)["blocks"]:
        for node in block["locations"]:
            held[node] = held.get(node, 0) + block["length"]
    name = max(held, key=lambda n: (held[n], n))
    return name, held[name]


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    total = sizes.rereplication_bytes
    dead_interval_s = sizes.dead_node_interval_s or LOCAL_DEAD_NODE_INTERVAL_S
    with LocalCluster(workdir / "cluster", datanodes=DATANODES, replication=REPLICATION,
                      dead_node_interval_s=dead_interval_s) as cluster:
        with cluster.client() as fs:
            progress(f"rereplication: writing {total // MIB} MiB to {DATANODES} DataNodes")
            _write(fs, total)
            _wait(lambda: _fully_replicated(fs, None), REPORTED_TIMEOUT_S, "3 replicas reported")
            victim, held = _victim(fs)
            progress(f"rereplication: SIGKILL {victim} (holds {held // MIB} MiB), "
                     f"dead interval {dead_interval_s:g} s")
            killed = time.monotonic()
            cluster.kill(victim, "KILL")
            _wait(lambda: fs.df()["dead_datanodes"] >= 1, dead_interval_s + DETECT_MARGIN_S,
                  f"{victim} to be declared dead")
            detected = time.monotonic()
            progress("rereplication: dead; waiting for every block to have 3 live replicas")
            _wait(lambda: _fully_replicated(fs, victim), RESTORE_TIMEOUT_S, "re-replication")
            restored = time.monotonic()
            blocks = len(fs.stat(FILE_PATH)["blocks"])
    progress("rereplication: baseline (raw gRPC single-hop stream, 64 KiB and "
             "transfer-sized messages)")
    baseline = raw_grpc.download_mb_s(held, BASELINE_MESSAGE_BYTES)
    baseline_large = raw_grpc.download_mb_s(held, TRANSFER_REQUEST_BYTES)
    restore_s = restored - detected
    detect_s = detected - killed
    return [
        Result("rereplication", held / 1e6 / restore_s, baseline, "MB/s", None, {
            "bytes_lost": held, "blocks": blocks, "datanodes": DATANODES,
            "restore_seconds": round(restore_s, 3),
            "baseline": f"raw gRPC single-hop stream, {BASELINE_MESSAGE_BYTES} B messages",
            f"baseline_{TRANSFER_REQUEST_BYTES}_byte_messages_mb_s": round(baseline_large, 1)}),
        Result("rereplication.detect", detect_s, dead_interval_s, "s", None, {
            "baseline": "the configured dead-node interval (dead_node_interval_s)",
            "poll_interval_s": POLL_INTERVAL_S}),
    ]
