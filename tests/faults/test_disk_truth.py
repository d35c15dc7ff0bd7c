"""Disk truth with real processes (issue 19): block files removed, truncated or
restored under a running DataNode. The directory scanner (every 1 s here) and
reads tell the NameNode, which re-replicates; fsck tells the truth throughout.

4 DataNodes, replication 3, 64 KiB blocks, heartbeats every 0.5 s; the block
scanner is off, so whatever is found without a read is the directory scanner's.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

from minidfs.client import health

BLOCK = 64 * 1024
CLUSTER_OPTIONS = {"datanodes": 4, "workers": 0, "block_size": BLOCK,
                   "heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0,
                   "directory_scan_interval_s": 1.0, "block_scanner_bytes_per_s": 0}
HEAL_TIMEOUT_S = 40.0
FSCK_POLL_S = 0.02


def payload(size: int, seed: int) -> bytes:
    return os.urandom(size) if seed < 0 else bytes((i * 13 + seed) % 251 for i in range(size))


def write(fs, path: str, data: bytes, replication: int = 3) -> list[dict]:
    with fs.open(path, "wb", replication=replication) as f:
        f.write(data)
    return fs.stat(path)["blocks"]


def fsck(fs, path: str = "/") -> dict:
    return health.fsck(fs.namenode, path, locations=True)


def settled(report: dict) -> bool:
    return report["healthy"] and report["over_replicated"] == 0 and all(
        r["state"] == "Ready" for f in report["file_details"] for b in f["blocks"]
        for r in b["replicas"])


def wait_settled(fs, wait_until, path: str) -> dict:
    return wait_until(lambda: settled(r := fsck(fs, path)) and r, HEAL_TIMEOUT_S,
                      f"fsck {path} HEALTHY and settled")


def watch_fsck(fs, path: str, statuses: list[str]) -> None:
    """Appends fsck's status every FSCK_POLL_S (from before the damage on) until it
    has been something other than HEALTHY and then settled again ("SETTLED")."""
    deadline = time.monotonic() + HEAL_TIMEOUT_S
    while time.monotonic() < deadline:
        report = fsck(fs, path)
        damaged = any(s != "HEALTHY" for s in statuses)
        if damaged and settled(report):
            statuses.append("SETTLED")
            return
        statuses.append(report["status"])
        time.sleep(FSCK_POLL_S)


def finalized(cluster, node: str):
    return cluster.home.node_dir(node) / "current" / "finalized"


def replica_files(cluster, node: str, block_id: int):
    sub = finalized(cluster, node) / f"{block_id % 256:02x}"
    [meta] = sub.glob(f"blk_{block_id}_*.meta")
    return sub / f"blk_{block_id}", meta


def locations(fs, path: str) -> list[list[str]]:
    return [sorted(b["locations"]) for b in fs.stat(path)["blocks"]]


def test_truncated_block_and_deleted_meta_are_found_without_a_read(cluster, fs, wait_until):
    data = payload(3 * BLOCK, seed=1)
    blocks = write(fs, "/scan/t", data)
    wait_settled(fs, wait_until, "/scan")
    truncated, no_meta = blocks[0], blocks[1]
    cut_on, meta_on = truncated["locations"][0], no_meta["locations"][1]
    block_file, _ = replica_files(cluster, cut_on, truncated["id"])
    os.truncate(block_file, BLOCK // 2)
    _, meta_file = replica_files(cluster, meta_on, no_meta["id"])
    meta_file.unlink()
    wait_until(lambda: f"block {truncated['id']}: replica is corrupt: block file has" in cluster.log(cut_on)
               and f"block {no_meta['id']}: replica is corrupt: meta file is missing"
               in cluster.log(meta_on), HEAL_TIMEOUT_S, "the directory scanner's findings")
    report = wait_settled(fs, wait_until, "/scan")
    assert report["corrupt"] == report["under_replicated"] == 0
    # The bad copies were replaced, then deleted on the NameNode's order.
    wait_until(lambda: not block_file.exists() and not any(
        finalized(cluster, meta_on).glob(f"*/blk_{no_meta['id']}")), HEAL_TIMEOUT_S,
        "the corrupt replicas deleted")
    assert fs.cat("/scan/t") == data


def test_replicas_restored_onto_disk_are_reported(cluster, fs, wait_until, tmp_path):
    data = payload(BLOCK // 2, seed=2)
    [block] = write(fs, "/restore/r", data, replication=1)
    [holder] = block["locations"]
    block_file, meta_file = replica_files(cluster, holder, block["id"])
    backup = [shutil.copy(p, tmp_path / p.name) for p in (block_file, meta_file)]
    block_file.unlink()
    meta_file.unlink()
    # The only replica is gone: the NameNode says so (no read needed).
    wait_until(lambda: fsck(fs, "/restore")["missing"] == 1, HEAL_TIMEOUT_S, "the block missing")
    other = next(n for n in ("dn1", "dn2", "dn3", "dn4") if n != holder)
    sub = finalized(cluster, other) / f"{block['id'] % 256:02x}"
    sub.mkdir(exist_ok=True)
    for path in backup:
        shutil.copy(path, sub)
    wait_settled(fs, wait_until, "/restore")
    assert locations(fs, "/restore/r") == [[other]]
    assert fs.cat("/restore/r") == data


def test_deleted_block_files_of_a_live_datanode(cluster, fs, wait_until):
    """The issue's experiment: every block file of a live DataNode removed. The read
    warns once and succeeds; the NameNode learns, fsck says DEGRADED, then HEALTHY
    once re-replicated; after that losing two more DataNodes loses nothing."""
    files = {f"/lose/f{i}": payload(8 * BLOCK + 100 * i, seed=10 + i) for i in range(3)}
    for path, data in files.items():
        write(fs, path, data)
    wait_settled(fs, wait_until, "/lose")
    victim = "dn1"
    assert any(victim in b for path in files for b in locations(fs, path))
    statuses: list[str] = []
    watcher = threading.Thread(target=watch_fsck, args=(fs, "/lose", statuses), daemon=True)
    watcher.start()
    for sub in finalized(cluster, victim).iterdir():
        shutil.rmtree(sub)
    read = subprocess.run([sys.executable, "-m", "minidfs.cli.main", "--conf", str(cluster.conf_path),
                           "cat", "/lose/f0"], capture_output=True, timeout=60)
    assert read.returncode == 0 and read.stdout == files["/lose/f0"]
    warnings = read.stderr.decode().splitlines()
    assert len(warnings) <= 1 and all(line.startswith("warning: /lose/f0: block ") and
                                      f"the replica on {victim} is gone; read from dn" in line
                                      for line in warnings), warnings
    watcher.join(HEAL_TIMEOUT_S + 5)
    assert "DEGRADED" in statuses and statuses[-1] == "SETTLED", statuses[-5:]
    assert "lost" in cluster.log(victim) or "replica lost" in cluster.log(victim)
    for path, data in files.items():
        assert fs.cat(path) == data
    # Three real copies of every block, so any two other DataNodes may go.
    for name in ("dn2", "dn3"):
        cluster.kill(name)
    for path, data in files.items():
        assert fs.cat(path) == data
