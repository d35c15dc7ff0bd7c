"""Benchmarks `webhdfs_put` and `webhdfs_get`: one file through fsspec's `webhdfs`
filesystem (HTTP to the NameNode, 307, HTTP to a DataNode, which streams through its
own minidfs client) beside the same file through the native gRPC client, in the same
run on the same 3-DataNode cluster (replication 3, default block size).

fsspec's webhdfs writes a file as CREATE (empty) then one APPEND per buffered chunk
(a real append, docs/append.md); the put opens the file with a chunk as big as the
file: one CREATE and one APPEND carrying every byte. The get reads
sequentially with a READ_BLOCK_BYTES read-ahead (one OPEN redirect per block read).
The ratio is webhdfs / native; the target is 0.5. The get's detail also has the
same file read with urllib in one OPEN (the redirect followed, 4 MiB reads): what the
servers deliver when the client is not fsspec's requests-based reader (requests
hands the body over 10 KiB at a time). Megabytes are 10^6 bytes.
"""
from __future__ import annotations

import getpass
import os
import pathlib
import time
import urllib.request

from benchmarks.harness import MIB, Result, Sizes, Target, progress
from cluster import LocalCluster

DATANODES = 3
REPLICATION = 3
READ_BLOCK_BYTES = 16 * MIB
WRITE_SLICE_BYTES = 8 * MIB
TARGET = Target("ratio", ">=", 0.5)


def unavailable() -> str | None:
    try:
        import fsspec.implementations.webhdfs  # noqa: F401
        import requests  # noqa: F401
    except ImportError as e:
        return f"fsspec's webhdfs needs {e.name} (pip install .[test])"
    return None


def _write(open_writer, total: int, pattern: memoryview) -> float:
    start = time.perf_counter()
    with open_writer() as f:
        written = 0
        while written < total:
            n = min(len(pattern), total - written)
            f.write(pattern[:n])
            written += n
    return time.perf_counter() - start


def _read(open_reader, total: int) -> float:
    buffer = memoryview(bytearray(READ_BLOCK_BYTES))
    start = time.perf_counter()
    done = 0
    with open_reader() as f:
        while True:
            n = f.readinto(buffer)
            if not n:
                break
            done += n
    seconds = time.perf_counter() - start
    if done != total:
        raise RuntimeError(f"read {done} bytes, wrote {total}")
    return seconds


def _read_raw_http(nn_http: str, path: str, total: int) -> float:
    start = time.perf_counter()
    done = 0
    with urllib.request.urlopen(f"http://{nn_http}/webhdfs/v1{path}?op=OPEN", timeout=600) as r:
        while True:
            data = r.read(4 * MIB)
            if not data:
                break
            done += len(data)
    seconds = time.perf_counter() - start
    if done != total:
        raise RuntimeError(f"read {done} bytes, wrote {total}")
    return seconds


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    import fsspec

    total = sizes.put_bytes
    pattern = memoryview(os.urandom(WRITE_SLICE_BYTES))
    with LocalCluster(workdir / "cluster", datanodes=DATANODES, workers=0,
                      replication=REPLICATION) as cluster:
        host, port = cluster.conf.node("nn1").http_address.rsplit(":", 1)
        # As the NameNode's superuser (the process user), like the native client here.
        web = fsspec.filesystem("webhdfs", host=host, port=int(port), user=getpass.getuser(),
                                skip_instance_cache=True)
        with cluster.client() as fs:
            progress(f"webhdfs_put: {total // MIB} MiB through fsspec webhdfs, then natively")
            web_put_s = _write(lambda: web.open("/bench/web.bin", "wb", block_size=total),
                               total, pattern)
            native_put_s = _write(lambda: fs.open("/bench/native.bin", "wb"), total, pattern)
            progress(f"webhdfs_get: {total // MIB} MiB through fsspec webhdfs, then natively")
            web_get_s = _read(lambda: web.open("/bench/web.bin", "rb",
                                               block_size=READ_BLOCK_BYTES), total)
            native_get_s = _read(lambda: fs.open("/bench/native.bin", "rb"), total)
            raw_get_s = _read_raw_http(cluster.conf.node("nn1").http_address, "/bench/web.bin", total)
    mb = total / 1e6
    detail = {"bytes": total, "replication": REPLICATION,
              "baseline": "the native minidfs client, same file size, same cluster"}
    return [
        Result("webhdfs_put", mb / web_put_s, mb / native_put_s, "MB/s", TARGET,
               {**detail, "seconds": round(web_put_s, 3), "native_seconds": round(native_put_s, 3)}),
        Result("webhdfs_get", mb / web_get_s, mb / native_get_s, "MB/s", TARGET,
               {**detail, "seconds": round(web_get_s, 3), "native_seconds": round(native_get_s, 3),
                "read_block_bytes": READ_BLOCK_BYTES,
                "raw_http_get_mb_s": round(mb / raw_get_s, 1)}),
    ]
