"""Benchmark `read_spread`: how evenly 20 sequential `get`s of a 3-replica file spread
over the DataNodes that hold it.

Run by the harness (`python -m benchmarks --only read_spread`). A local cluster of 3
DataNodes; the file has 3 replicas of each block, so every DataNode holds all of it.
Figure: the busiest holder's bytes served / the mean over holders (1.0 = even, 3.0 =
one node served everything; target <= 2). Ours: a reader with no DataNode on its
host (`Client(client_node="")`), which gets equally near replicas in a load-weighted
random order (docs/observers.md, "Replica choice"). Baseline, same run: a reader on
dn1's host, for which the local replica rightly comes first - the same as every
reader got before replicas were shuffled (ranked by load, then name: dn1 first).
Bytes served come from each DataNode's minidfs_datanode_bytes_read_total.
"""
from __future__ import annotations

import os
import pathlib
import time
import urllib.request

from benchmarks.harness import Result, Sizes, Target, progress
from cluster import LocalCluster
from minidfs import Client
from minidfs.observe import SCRAPE_REUSE_S

GETS = 20
BLOCK_BYTES = 1024 * 1024
SPREAD_TARGET = Target("ours", "<=", 2.0)
SCRAPE_MARGIN_S = 0.05


def _bytes_read(cluster: LocalCluster) -> dict[str, float]:
    # A daemon reuses a rendered scrape for SCRAPE_REUSE_S: wait that out, or a read
    # right after the gets may be the render from before them (20 gets of the smoke
    # run's 2 MB file took less than that: every node "served" 0 bytes).
    time.sleep(SCRAPE_REUSE_S + SCRAPE_MARGIN_S)
    served = {}
    for node in cluster.conf.datanodes:
        with urllib.request.urlopen(f"http://{node.http_address}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("minidfs_datanode_bytes_read_total "):
                    served[node.name] = float(line.split()[1])
    return served


def _spread(cluster: LocalCluster, client_node: str, workdir: pathlib.Path) -> dict[str, float]:
    with Client(conf=cluster.conf_path, client_node=client_node) as fs:
        before = _bytes_read(cluster)
        for i in range(GETS):
            fs.get("/bench/read_spread/f", str(workdir / "copy"), overwrite=True)
        after = _bytes_read(cluster)
    return {name: after[name] - before[name] for name in after}


def _max_over_mean(served: dict[str, float]) -> float:
    mean = sum(served.values()) / len(served)
    return max(served.values()) / mean if mean else 0.0


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    blocks = 4 if sizes.name != "smoke" else 2
    workdir.mkdir(parents=True, exist_ok=True)
    with LocalCluster(workdir / "cluster", datanodes=3, replication=3, workers=0,
                      block_size=BLOCK_BYTES) as cluster:
        with cluster.client() as fs:
            with fs.open("/bench/read_spread/f", "wb") as f:
                f.write(os.urandom(blocks * BLOCK_BYTES))
        progress(f"read_spread: {GETS} gets by a reader off the DataNodes' host")
        ours = _spread(cluster, "", workdir)
        progress(f"read_spread: {GETS} gets by a reader on dn1's host (baseline)")
        base = _spread(cluster, "dn1", workdir)
    detail = {"gets": GETS, "file_bytes": blocks * BLOCK_BYTES, "replication": 3,
              "bytes_served_off_host_reader": ours, "bytes_served_dn1_local_reader": base,
              "figure": "busiest holder's bytes / mean over holders"}
    return [Result("read_spread", _max_over_mean(ours), _max_over_mean(base), "max/mean",
                   SPREAD_TARGET, detail)]
