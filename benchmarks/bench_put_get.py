"""Benchmarks `put` and `get`: write one big file with replication 3 on 3 local
DataNodes (default block size), then read it back with checksums verified.

Run by the harness (`python -m benchmarks --only put,get`); both figures come
from one cluster, since `get` reads the file `put` wrote. Baselines, measured
in the same run right after each figure (benchmarks/raw_grpc.py):
  put: a client streaming the same bytes as 64 KiB messages through a 3-server
       forwarding chain, one ack per message, no disk, no checksums (the issue's
       definition); the same chain with messages of the size a WriteBlock
       request carries (output_stream.REQUEST_PACKETS packets) is in "detail";
  get: one server streaming the same bytes to a client as 64 KiB messages (one
       packet per message, as the put baseline); the same stream with messages of
       the size a DataNode's read replies carry is reported too, in "detail".
Megabytes are 10^6 bytes, as in raw_grpc.
"""
from __future__ import annotations

import os
import pathlib
import time

import xxhash

from benchmarks import raw_grpc
from benchmarks.harness import MIB, Result, Sizes, Target, progress
from cluster import LocalCluster
from minidfs.checksum import CHUNK_SIZE_BYTES
from minidfs.client.output_stream import REQUEST_PACKETS
from minidfs.config import Settings
from minidfs.datanode.service import READ_RESPONSE_BYTES

DATANODES = 3
REPLICATION = 3
BASELINE_MESSAGE_BYTES = 64 * 1024
REQUEST_BYTES = REQUEST_PACKETS * CHUNK_SIZE_BYTES    # what one WriteBlock request carries
# The writer hands the stream slices this big; the data is a random pattern of
# this size repeated, made before the clock starts.
WRITE_SLICE_BYTES = 8 * MIB
READ_BUFFER_BYTES = 4 * MIB
PUT_TARGET = Target("ratio", ">=", 2.0)
GET_TARGET = Target("ratio", ">=", 0.8)
FILE_PATH = "/bench/put_get.bin"


def _write(fs, total_bytes: int, pattern: memoryview) -> float:
    start = time.perf_counter()
    with fs.open(FILE_PATH, "wb", replication=REPLICATION) as f:
        written = 0
        while written < total_bytes:
            n = min(len(pattern), total_bytes - written)
            f.write(pattern[:n])
            written += n
    return time.perf_counter() - start


def _expected_digest(total_bytes: int, pattern: memoryview) -> int:
    h = xxhash.xxh3_64()
    done = 0
    while done < total_bytes:
        n = min(len(pattern), total_bytes - done)
        h.update(pattern[:n])
        done += n
    return h.intdigest()


def _read(fs, total_bytes: int, expected_digest: int) -> float:
    """Reads the file back (verify=True: every chunk's checksum is checked) and
    compares its xxh3 with that of what was written; returns the read's seconds.
    (Hashing costs ~1% of the read; comparing memoryviews slice by slice cost
    three quarters of it, see benchmarks/README.md.)"""
    buffer = bytearray(READ_BUFFER_BYTES)
    view = memoryview(buffer)
    digest = xxhash.xxh3_64()
    start = time.perf_counter()
    offset = 0
    with fs.open(FILE_PATH, "rb", verify=True) as f:
        while True:
            n = f.readinto(view)
            if not n:
                break
            digest.update(view[:n])
            offset += n
    seconds = time.perf_counter() - start
    if offset != total_bytes:
        raise RuntimeError(f"{FILE_PATH}: read {offset} bytes, wrote {total_bytes}")
    if digest.intdigest() != expected_digest:
        raise RuntimeError(f"{FILE_PATH}: the bytes read back differ from those written")
    return seconds


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    total = sizes.put_bytes
    pattern = memoryview(os.urandom(WRITE_SLICE_BYTES))
    with LocalCluster(workdir / "cluster", datanodes=DATANODES, replication=REPLICATION) as cluster:
        with cluster.client() as fs:
            progress(f"put: writing {total // MIB} MiB, replication {REPLICATION}")
            put_s = _write(fs, total, pattern)
            progress("put: baseline (raw gRPC 3-server chain, 64 KiB messages)")
            put_base = raw_grpc.chain_put_mb_s(total, BASELINE_MESSAGE_BYTES)
            progress(f"put: detail (raw chain, {REQUEST_BYTES // 1024} KiB messages)")
            put_base_batch = raw_grpc.chain_put_mb_s(total, REQUEST_BYTES)
            blocks = len(fs.stat(FILE_PATH)["blocks"])
            progress(f"get: reading {total // MIB} MiB back, checksums verified")
            get_s = _read(fs, total, _expected_digest(total, pattern))
    progress("get: baseline (raw gRPC download, 64 KiB and read-reply-sized messages)")
    get_base = raw_grpc.download_mb_s(total, BASELINE_MESSAGE_BYTES)
    get_base_large = raw_grpc.download_mb_s(total, READ_RESPONSE_BYTES)
    mb = total / 1e6
    return [
        Result("put", mb / put_s, put_base, "MB/s", PUT_TARGET,
               {"bytes": total, "seconds": round(put_s, 3), "blocks": blocks,
                "replication": REPLICATION,
                "baseline": f"raw gRPC 3-server chain, {BASELINE_MESSAGE_BYTES} B messages",
                f"baseline_{REQUEST_BYTES}_byte_messages_mb_s": round(put_base_batch, 1),
                "datanode_direct_io": Settings().datanode_direct_io}),
        Result("get", mb / get_s, get_base, "MB/s", GET_TARGET,
               {"bytes": total, "seconds": round(get_s, 3), "verify": True,
                "baseline": f"raw gRPC single-stream download, {BASELINE_MESSAGE_BYTES} B messages",
                f"baseline_{READ_RESPONSE_BYTES}_byte_messages_mb_s": round(get_base_large, 1)}),
    ]
