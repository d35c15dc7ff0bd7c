"""Benchmarks small files: a directory of `sizes.small_files` files of 10 KiB on 3
local DataNodes with replication 3 (what `cluster up --datanodes 3` gives a new
user), through the same Client calls the shell makes:

  small_files.put       put DIR /dst               files/s
  small_files.get       get /dst DIR               files/s
  small_files.ls        ls -R /dst                 files/s
  small_files.rm        rm -r /dst                 files/s
  small_files.read_ms   open + read of one file in a running Client, median ms
  small_files.write_ms  write + close of one file in a running Client, median ms

Baselines, measured in the same run (benchmarks/raw_grpc.py, local disk):
  put / get: as many raw gRPC unary round trips as there are files, each carrying
      one file's bytes (up for put, down for get), with as many threads as the
      tree copy keeps files in flight: the floor of "one round trip per file";
  ls / rm: `ls -lR` / `rm -r` of the same tree on local disk;
  read_ms / write_ms: one raw unary round trip carrying 10 KiB (down / up).
`cp -r` of the tree on local disk is in put's detail, for scale (it does not
fsync; minidfs fsyncs every replica, see docs/datanode.md).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import statistics
import subprocess
import time

from benchmarks import raw_grpc
from benchmarks.harness import Result, Sizes, Target, progress
from cluster import LocalCluster

DATANODES = 3
REPLICATION = 3
FILE_BYTES = 10 * 1024
LATENCY_SAMPLES = 50
PUT_TARGET = Target("ours", ">=", 300, "files/s")
GET_TARGET = Target("ours", ">=", 600, "files/s")
READ_TARGET = Target("ours", "<=", 5, "ms")
WRITE_TARGET = Target("ours", "<=", 15, "ms")


def _make_tree(root: pathlib.Path, count: int) -> None:
    """count files of FILE_BYTES in 10 subdirectories (a folder of photos, logs...)."""
    for i in range(count):
        sub = root / f"d{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:05d}").write_bytes(os.urandom(FILE_BYTES))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _local_files_s(count: int, *argv: str) -> float:
    seconds = _timed(lambda: subprocess.run(argv, check=True, stdout=subprocess.DEVNULL))
    return count / seconds


def _latencies_ms(fs, count: int) -> tuple[float, float]:
    data = os.urandom(FILE_BYTES)
    fs.mkdir("/latency")
    writes = []
    for i in range(count):
        start = time.perf_counter()
        with fs.open(f"/latency/f{i}", "wb") as f:
            f.write(data)
        writes.append(time.perf_counter() - start)
    reads = []
    for i in range(count):
        start = time.perf_counter()
        with fs.open(f"/latency/f{i}", "rb") as f:
            if f.read() != data:
                raise RuntimeError(f"/latency/f{i}: read back differs")
        reads.append(time.perf_counter() - start)
    return statistics.median(reads) * 1000, statistics.median(writes) * 1000


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    count = sizes.small_files
    source = workdir / "small"
    _make_tree(source, count)
    back = workdir / "back"
    back.mkdir()
    with LocalCluster(workdir / "cluster", datanodes=DATANODES, replication=REPLICATION) as cluster:
        with cluster.client() as fs:
            threads = fs.conf.settings.client_copy_threads
            progress(f"small_files: put of {count} x {FILE_BYTES // 1024} KiB, {threads} in flight")
            put_s = _timed(lambda: fs.put(str(source), "/small"))
            progress("small_files: get, ls -R")
            get_s = _timed(lambda: fs.get("/small", str(back)))
            listed: list = []
            ls_s = _timed(lambda: listed.extend(fs.ls("/small", recursive=True)))
            progress("small_files: rm -r")
            rm_s = _timed(lambda: fs.delete("/small", recursive=True))
            progress(f"small_files: {LATENCY_SAMPLES} single-file writes and reads")
            read_ms, write_ms = _latencies_ms(fs, LATENCY_SAMPLES)
            channels_open = fs.channel_pool.channel_count()
    got = sorted(p for p in (back / "small").rglob("*") if p.is_file())
    if len(got) != count or sum(1 for e in listed if e["type"] == "file") != count:
        raise RuntimeError(f"copied {len(got)} / listed {len(listed)} of {count} files")
    progress("small_files: baselines (raw gRPC unary calls, local cp -r / ls -lR / rm -r)")
    put_base = raw_grpc.unary_calls_per_s(count, FILE_BYTES, 8, threads)
    get_base = raw_grpc.unary_calls_per_s(count, 8, FILE_BYTES, threads)
    one_up_ms = 1000 / raw_grpc.unary_calls_per_s(LATENCY_SAMPLES, FILE_BYTES, 8)
    one_down_ms = 1000 / raw_grpc.unary_calls_per_s(LATENCY_SAMPLES, 8, FILE_BYTES)
    shutil.rmtree(back)
    cp_s = _local_files_s(count, "cp", "-r", str(source), str(back))
    ls_base = _local_files_s(count, "ls", "-lR", str(back))
    rm_base = _local_files_s(count, "rm", "-r", str(back))
    common = {"files": count, "file_bytes": FILE_BYTES, "replication": REPLICATION,
              "threads": threads}
    unary = f"raw gRPC unary round trips, one per file, {threads} threads"
    return [
        Result("small_files.put", count / put_s, put_base, "files/s", PUT_TARGET,
               {**common, "seconds": round(put_s, 3), "baseline": f"{unary}, 10 KiB up",
                "local_cp_r_files_s": round(cp_s, 1), "pooled_channels": channels_open}),
        Result("small_files.get", count / get_s, get_base, "files/s", GET_TARGET,
               {**common, "seconds": round(get_s, 3), "baseline": f"{unary}, 10 KiB down"}),
        Result("small_files.ls", count / ls_s, ls_base, "files/s", None,
               {**common, "seconds": round(ls_s, 3), "baseline": "local ls -lR"}),
        Result("small_files.rm", count / rm_s, rm_base, "files/s", None,
               {**common, "seconds": round(rm_s, 3), "baseline": "local rm -r"}),
        Result("small_files.read_ms", read_ms, one_down_ms, "ms", READ_TARGET,
               {"samples": LATENCY_SAMPLES, "baseline": "one raw unary call, 10 KiB down"}),
        Result("small_files.write_ms", write_ms, one_up_ms, "ms", WRITE_TARGET,
               {"samples": LATENCY_SAMPLES, "baseline": "one raw unary call, 10 KiB up"}),
    ]
