"""Benchmark `nn_reads`: metadata reads (stat + ls) per second from 8 client
processes against the active NameNode alone and against active + 2 observers.

Run by the harness (`python -m benchmarks --only nn_reads`). One HA cluster
(jn1..jn3, nn1, nn2, observers nn3 and nn4, one DataNode) serves both runs, in the
same session: the baseline is 8 processes with `Client(observer_reads=False)`
(every read on the active), ours the same 8 processes reading through observers
(docs/observers.md). One op = GetFileInfo of a file + ListStatus of its folder.

On a 2-core machine shared by everything the figure cannot show two observers'
worth of extra capacity (the 8 callers and 5 NameNode processes share the same 2
cores), so the result also reports each NameNode's CPU seconds during each run
and the active's CPU per read: the design's test is that this drops to near zero
once observers take the reads.

Every caller connects and makes one warm-up op (its first observer read msyncs)
before a barrier; ops/s = all ops / (last end - first start).
"""
from __future__ import annotations

import multiprocessing
import os
import pathlib
import queue
import time

from benchmarks.harness import Result, Sizes, progress
from cluster import LocalCluster
from minidfs.client.ha_admin import ha_statuses

CLIENTS = 8
ROOT = "/bench/nn_reads"
FILES_PER_CLIENT = 20
START_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 900.0
STOP_TIMEOUT_S = 10.0


def _caller(conf: str, observer_reads: bool, index: int, ops: int, barrier, results) -> None:
    from minidfs import Client

    folder = f"{ROOT}/c{index}"
    with Client(conf=conf, observer_reads=observer_reads) as fs:
        fs.info(f"{folder}/f0")
        fs.ls(folder)
        barrier.wait()
        start = time.monotonic()
        for i in range(ops):
            fs.info(f"{folder}/f{i % FILES_PER_CLIENT}")
            fs.ls(folder)
        results.put((index, start, time.monotonic()))


def _run_callers(conf: str, observer_reads: bool, ops: int) -> float:
    ctx = multiprocessing.get_context("spawn")   # no fork: the parent holds gRPC state
    barrier = ctx.Barrier(CLIENTS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_caller, args=(conf, observer_reads, i, ops, barrier, results),
                         daemon=True) for i in range(CLIENTS)]
    try:
        for p in procs:
            p.start()
        spans = []
        deadline = time.monotonic() + START_TIMEOUT_S + RUN_TIMEOUT_S
        while len(spans) < CLIENTS:
            try:
                spans.append(results.get(timeout=1.0))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs) or time.monotonic() > deadline:
                    raise RuntimeError(f"a benchmark client failed (exit codes "
                                       f"{[p.exitcode for p in procs]})") from None
        for p in procs:
            p.join(STOP_TIMEOUT_S)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(STOP_TIMEOUT_S)
        barrier.abort()
    first = min(s for _, s, _ in spans)
    last = max(e for _, _, e in spans)
    return CLIENTS * ops / (last - first)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat, Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _namenode_cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def _measure(conf: str, observer_reads: bool, ops: int,
             pids: dict[str, int]) -> tuple[float, dict[str, float]]:
    before = _namenode_cpu(pids)
    ops_s = _run_callers(conf, observer_reads, ops)
    after = _namenode_cpu(pids)
    return ops_s, {name: round(after[name] - before[name], 3) for name in pids}


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    ops = max(10, sizes.nn_ops_per_client // 2)
    with LocalCluster(workdir / "cluster", datanodes=1, replication=1, workers=0, ha=True,
                      observers=2) as cluster:
        conf = str(cluster.conf_path)
        with cluster.client() as fs:
            for index in range(CLIENTS):
                for i in range(FILES_PER_CLIENT):
                    fs.open(f"{ROOT}/c{index}/f{i}", "wb").close()
        active = next(s["name"] for s in ha_statuses(cluster.conf) if s["role"] == "active")
        pids = {row["name"]: row["pid"] for row in cluster.status()
                if row["kind"] == "namenode" and row["pid"]}
        progress(f"nn_reads: baseline, active only ({CLIENTS} processes x {ops} stat+ls)")
        base_ops_s, base_cpu = _measure(conf, False, ops, pids)
        progress(f"nn_reads: active + 2 observers ({CLIENTS} processes x {ops} stat+ls)")
        ours_ops_s, ours_cpu = _measure(conf, True, ops, pids)
    reads = CLIENTS * ops * 2

    def per_read_us(cpu: dict[str, float]) -> float:
        return round(cpu[active] / reads * 1e6, 1)

    detail = {"clients": CLIENTS, "client_kind": "processes", "ops_per_client": ops,
              "op": "GetFileInfo + ListStatus", "active": active,
              "namenode_cpu_s_active_only": base_cpu,
              "namenode_cpu_s_with_observers": ours_cpu,
              "active_cpu_us_per_read_active_only": per_read_us(base_cpu),
              "active_cpu_us_per_read_with_observers": per_read_us(ours_cpu),
              "baseline": "the same 8 processes with Client(observer_reads=False)"}
    return [
        Result("nn_reads", ours_ops_s, base_ops_s, "ops/s", None, detail),
        Result("nn_reads.active_cpu", per_read_us(ours_cpu), per_read_us(base_cpu),
               "us/read", None, {"what": "the active NameNode's CPU per read, with "
                                 "observers (ours) vs without (baseline)", "active": active}),
    ]
