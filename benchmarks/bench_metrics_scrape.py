"""Does scraping /metrics a hundred times a second slow the NameNode's RPCs?

`python -m benchmarks.bench_metrics_scrape [--calls N] [--rounds R]` starts a local
cluster (1 DataNode), then alternates rounds of N GetFileInfo calls from one client
thread without and with a scraper process (its own GIL, as a real Prometheus) fetching
the NameNode's /metrics 100 times a second over a keep-alive connection. Alternating rounds
spreads the machine's noise over both sides. Prints JSON: calls/s, p50 / p99
latency of each side, their ratio, and how many scrapes were served. Not part of
`python -m benchmarks` (it measures an overhead, not a throughput with a baseline).
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import multiprocessing
import time
import urllib.request

from cluster import LocalCluster
from minidfs.rpc import client_namenode_pb2 as pb

SCRAPES_PER_S = 100


def _scraper(address: str, stop, served) -> None:
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    interval = 1.0 / SCRAPES_PER_S
    next_at = time.perf_counter()
    while not stop.is_set():
        conn.request("GET", "/metrics")
        reply = conn.getresponse()
        reply.read()
        if reply.status == 200:
            with served.get_lock():
                served.value += 1
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    conn.close()


def _nn_cpu_s(address: str) -> float:
    """The NameNode's own CPU seconds so far (its process collector)."""
    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith("minidfs_namenode_process_cpu_seconds_total "):
            return float(line.split()[1])
    raise RuntimeError("no process CPU metric")


def _round(nn, calls: int) -> list[float]:
    latencies = []
    request = pb.PathRequest(path="/")
    for _ in range(calls):
        start = time.perf_counter()
        nn.call("GetFileInfo", request)
        latencies.append(time.perf_counter() - start)
    return latencies


def _summary(latencies: list[float], wall_s: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"calls_per_s": round(len(latencies) / wall_s, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        with LocalCluster(home, datanodes=1, replication=1) as cluster:
            nn_http = cluster.conf.node("nn1").http_address
            with cluster.client() as fs:
                nn = fs.namenode
                _round(nn, 200)   # warm up channel and caches
                sides: dict[str, list[float]] = {"idle": [], "scraped": []}
                wall = {"idle": 0.0, "scraped": 0.0}
                cpu = {"idle": 0.0, "scraped": 0.0}
                served = multiprocessing.Value("i", 0)
                for _ in range(args.rounds):
                    for side in ("idle", "scraped"):
                        stop = multiprocessing.Event()
                        scraper = None
                        if side == "scraped":
                            scraper = multiprocessing.Process(target=_scraper,
                                                              args=(nn_http, stop, served))
                            scraper.start()
                        cpu_before = _nn_cpu_s(nn_http)
                        start = time.perf_counter()
                        sides[side] += _round(nn, args.calls)
                        wall[side] += time.perf_counter() - start
                        cpu[side] += _nn_cpu_s(nn_http) - cpu_before
                        stop.set()
                        if scraper is not None:
                            scraper.join()
                scraped_s = wall["scraped"]
                result = {side: {**_summary(sides[side], wall[side]),
                                 "nn_cpu_ms_per_call": round(1000 * cpu[side] / len(sides[side]), 4),
                                 "nn_cpu_share": round(cpu[side] / wall[side], 3)}
                          for side in sides}
                result["throughput_ratio"] = round(result["scraped"]["calls_per_s"]
                                                   / result["idle"]["calls_per_s"], 3)
                result["scrapes_per_s"] = round(served.value / scraped_s, 1)
                print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
