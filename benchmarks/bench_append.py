"""Benchmarks `append`, `append.small` and `hflush.ms` (docs/append.md), each beside a
baseline from the same run on the same 3-DataNode cluster (replication 3, 1 MiB
blocks so the big append crosses many blocks).

- `append`: MB/s of one append of `put_bytes / 4` bytes onto a file whose last
  block is short (so the pipeline is reopened and the short chunk resent first),
  timed up to close(); baseline: the same bytes written as a new file.
- `append.small`: appends/s of 4 KiB appends to one file (open "ab", write, close:
  Append, a reopened pipeline with a new genstamp, Complete); baseline: creates/s of
  4 KiB files (Create, a pipeline, Complete).
- `hflush.ms`: median ms of `write(1 KiB)` + `flush()` (acks from the 3 DataNodes,
  then the length logged at the NameNode); baseline: median ms of one GetFileInfo
  (a NameNode round trip without an edit), so the ratio is what the pipeline's acks
  and the edit's fsync add.
"""
from __future__ import annotations

import os
import pathlib
import statistics
import time

from benchmarks.harness import MIB, Result, Sizes, progress
from cluster import LocalCluster

DATANODES = 3
REPLICATION = 3
BLOCK_BYTES = MIB
SMALL_BYTES = 4096
FLUSH_BYTES = 1024
WRITE_SLICE_BYTES = 4 * MIB


def _write(fs, path: str, mode: str, data: memoryview) -> float:
    start = time.perf_counter()
    with fs.open(path, mode) as f:
        for offset in range(0, len(data), WRITE_SLICE_BYTES):
            f.write(data[offset:offset + WRITE_SLICE_BYTES])
    return time.perf_counter() - start


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    total = max(MIB, sizes.put_bytes // 4)
    count = sizes.small_files
    data = memoryview(os.urandom(total))
    small = os.urandom(SMALL_BYTES)
    with LocalCluster(workdir / "cluster", datanodes=DATANODES, workers=0,
                      replication=REPLICATION, block_size=BLOCK_BYTES) as cluster:
        with cluster.client() as fs:
            progress(f"append: {total // MIB} MiB appended, then written as a new file")
            with fs.open("/bench/append.bin", "wb") as f:
                f.write(small[:1000])                 # a short last block, mid-chunk
            append_s = _write(fs, "/bench/append.bin", "ab", data)
            put_s = _write(fs, "/bench/put.bin", "wb", data)
            if fs.stat("/bench/append.bin")["length"] != total + 1000:
                raise RuntimeError("the appended file has the wrong length")

            progress(f"append.small: {count} appends of 4 KiB, then {count} files of 4 KiB")
            start = time.perf_counter()
            for _ in range(count):
                with fs.open("/bench/small.log", "ab") as f:
                    f.write(small)
            appends_s = time.perf_counter() - start
            start = time.perf_counter()
            for i in range(count):
                with fs.open(f"/bench/small/f{i}", "wb") as f:
                    f.write(small)
            creates_s = time.perf_counter() - start

            progress(f"hflush.ms: {count} hflushes of 1 KiB, then {count} GetFileInfo")
            flush_ms = []
            with fs.open("/bench/flushed.log", "wb") as f:
                for _ in range(count):
                    start = time.perf_counter()
                    f.write(small[:FLUSH_BYTES])
                    f.flush()
                    flush_ms.append((time.perf_counter() - start) * 1000)
            info_ms = []
            for _ in range(count):
                start = time.perf_counter()
                fs.info("/bench/flushed.log")
                info_ms.append((time.perf_counter() - start) * 1000)
    mb = total / 1e6
    detail = {"replication": REPLICATION, "block_bytes": BLOCK_BYTES}
    return [
        Result("append", mb / append_s, mb / put_s, "MB/s", None,
               {**detail, "bytes": total, "seconds": round(append_s, 3),
                "baseline": "the same bytes written as a new file (open wb)"}),
        Result("append.small", count / appends_s, count / creates_s, "ops/s", None,
               {**detail, "ops": count, "bytes_each": SMALL_BYTES,
                "baseline": "creates/s of 4 KiB files (open wb, write, close)"}),
        Result("hflush.ms", statistics.median(flush_ms), statistics.median(info_ms), "ms", None,
               {**detail, "flushes": count, "bytes_each": FLUSH_BYTES,
                "p90_ms": round(sorted(flush_ms)[int(0.9 * (len(flush_ms) - 1))], 2),
                "baseline": "median ms of one GetFileInfo (no edit)"}),
    ]
