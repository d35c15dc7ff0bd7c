"""DataNode loss heals by itself: SIGKILL and SIGSTOP past the dead interval,
every replica of a block down, a flipped byte, a truncated .meta. After each case
the file reads byte-exact and fsck is HEALTHY again without anyone helping.

4 DataNodes, replication 3, 64 KiB blocks, heartbeats every 0.5 s, dead after 3 s.
"""
from __future__ import annotations

import pathlib
import time

import pytest

from minidfs import errors
from minidfs.client import health

BLOCK = 64 * 1024
DATANODES = ("dn1", "dn2", "dn3", "dn4")
CLUSTER_OPTIONS = {"datanodes": 4, "workers": 0, "block_size": BLOCK,
                   "heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0}
HEAL_TIMEOUT_S = 30.0


def payload(size: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


@pytest.fixture
def all_nodes_back(cluster, fs, wait_until, start_datanode):
    """Whatever a test did to the DataNodes, they run and are live afterwards."""
    try:
        yield
    finally:
        for node in cluster.status():
            if node["name"] in DATANODES:
                if node["state"] == "paused":
                    cluster.kill(node["name"], "CONT")
                elif node["state"] == "stopped":
                    start_datanode(node["name"])
        wait_until(lambda: all(s == "live" for s in states(fs).values()), HEAL_TIMEOUT_S,
                   "every DataNode live")


def states(fs) -> dict[str, str]:
    return {n["name"]: n["state"] for n in health.datanode_report(fs.namenode)}


def fsck(fs, path: str) -> dict:
    return health.fsck(fs.namenode, path, locations=True)


def write(fs, path: str, data: bytes, replication: int = 3) -> None:
    with fs.open(path, "wb", replication=replication) as f:
        f.write(data)


def holders(fs, path: str) -> list[list[str]]:
    return [b["locations"] for b in fs.stat(path)["blocks"]]


def settled(report: dict) -> bool:
    """HEALTHY, nothing surplus, every replica Ready (deletes confirmed) or Down (on a
    dead node, kept in case it returns)."""
    return report["healthy"] and report["over_replicated"] == 0 and all(
        r["state"] in ("Ready", "Down") for f in report["file_details"] for b in f["blocks"]
        for r in b["replicas"])


def wait_healthy(fs, wait_until, path: str) -> dict:
    return wait_until(lambda: settled(r := fsck(fs, path)) and r, HEAL_TIMEOUT_S,
                      f"fsck {path} HEALTHY and settled")


def replica_files(cluster, node: str, block_id: int) -> tuple[pathlib.Path, pathlib.Path]:
    """(block file, meta file) of a finalized replica on node."""
    sub = cluster.home.node_dir(node) / "current" / "finalized" / f"{block_id % 256:02x}"
    [meta] = sub.glob(f"blk_{block_id}_*.meta")
    return sub / f"blk_{block_id}", meta


def test_sigkill_re_replicates_then_the_return_is_trimmed(cluster, fs, wait_until, start_datanode,
                                                          all_nodes_back):
    data = payload(5 * BLOCK + 777, seed=1)
    write(fs, "/kill/a", data)
    wait_healthy(fs, wait_until, "/kill/a")
    victim = "dn2" if all("dn2" in h for h in holders(fs, "/kill/a")) else holders(fs, "/kill/a")[0][0]
    cluster.kill(victim, "KILL")
    killed = time.monotonic()
    wait_until(lambda: states(fs)[victim] == "dead", HEAL_TIMEOUT_S, f"{victim} dead")
    assert time.monotonic() - killed < 3.0 + 2.0      # dead interval + heartbeat + tick slack
    healed = wait_healthy(fs, wait_until, "/kill/a")
    for block in healed["file_details"][0]["blocks"]:
        live = {r["datanode"] for r in block["replicas"] if r["state"] == "Ready"}
        assert len(live) == 3 and victim not in live
    assert fs.cat("/kill/a") == data
    # The node returns with its old replicas: each block is one too many, then trimmed.
    start_datanode(victim)
    wait_until(lambda: states(fs)[victim] == "live", HEAL_TIMEOUT_S, f"{victim} live")
    wait_healthy(fs, wait_until, "/kill/a")
    assert all(len(h) == 3 for h in holders(fs, "/kill/a"))
    assert fs.cat("/kill/a") == data


def test_sigstop_past_the_dead_interval_then_sigcont(cluster, fs, wait_until, all_nodes_back):
    data = payload(3 * BLOCK + 5, seed=2)
    write(fs, "/stop/a", data)
    wait_healthy(fs, wait_until, "/stop/a")
    victim = holders(fs, "/stop/a")[0][-1]
    cluster.kill(victim, "STOP")
    wait_until(lambda: states(fs)[victim] == "dead", HEAL_TIMEOUT_S, f"{victim} dead")
    wait_healthy(fs, wait_until, "/stop/a")
    assert all(victim not in h for h in holders(fs, "/stop/a"))
    cluster.kill(victim, "CONT")
    # Back: it re-registers, reports its (now surplus) replicas, which are trimmed.
    wait_until(lambda: states(fs)[victim] == "live", HEAL_TIMEOUT_S, f"{victim} live again")
    wait_healthy(fs, wait_until, "/stop/a")
    assert all(len(h) == 3 for h in holders(fs, "/stop/a"))
    assert fs.cat("/stop/a") == data


def test_every_replica_down_fails_fast_then_reads_once_one_returns(cluster, fs, wait_until,
                                                                   start_datanode, all_nodes_back):
    data = payload(BLOCK + 10, seed=3)
    write(fs, "/lost/a", data, replication=1)
    wait_healthy(fs, wait_until, "/lost/a")
    [[owner], [other]] = holders(fs, "/lost/a")
    victims = {owner, other}
    for victim in victims:
        cluster.kill(victim, "KILL")
    # Before the NameNode notices: the replica refuses connections, the read fails at once.
    started = time.monotonic()
    with pytest.raises(errors.BlockMissingError, match="missing"):
        fs.cat("/lost/a")
    assert time.monotonic() - started < 5.0
    wait_until(lambda: fsck(fs, "/lost/a")["status"] == "CORRUPT", HEAL_TIMEOUT_S, "missing")
    assert fsck(fs, "/lost/a")["missing"] >= 1
    started = time.monotonic()
    with pytest.raises(errors.BlockMissingError, match="block .* missing"):
        fs.cat("/lost/a")
    assert time.monotonic() - started < 5.0
    for victim in victims:
        start_datanode(victim)
    wait_healthy(fs, wait_until, "/lost/a")
    assert fs.cat("/lost/a") == data


def test_flipped_byte_is_read_around_reported_and_replaced(cluster, fs, wait_until, all_nodes_back):
    data = payload(2 * BLOCK + 99, seed=4)
    write(fs, "/rot/a", data)
    wait_healthy(fs, wait_until, "/rot/a")
    block = fs.stat("/rot/a")["blocks"][1]
    # The reader is writer-local (dn1 holds every block it wrote): damage dn1's copy.
    reader_node = fs.client_node
    assert reader_node in block["locations"]
    path, _ = replica_files(cluster, reader_node, block["id"])
    raw = bytearray(path.read_bytes())
    raw[1234] ^= 0x5A
    path.write_bytes(raw)
    assert fs.cat("/rot/a") == data
    healed = wait_healthy(fs, wait_until, "/rot/a")
    replicas = healed["file_details"][0]["blocks"][1]["replicas"]
    assert sorted(r["state"] for r in replicas) == ["Ready"] * 3
    assert reader_node not in {r["datanode"] for r in replicas}
    assert not path.exists()          # deleted once a good copy replaced it
    assert fs.cat("/rot/a") == data


def test_truncated_meta_is_corrupt_not_unchecked(cluster, fs, wait_until, all_nodes_back):
    data = payload(3 * BLOCK, seed=5)
    write(fs, "/rot/b", data)
    wait_healthy(fs, wait_until, "/rot/b")
    block = fs.stat("/rot/b")["blocks"][2]
    _, meta = replica_files(cluster, fs.client_node, block["id"])
    meta.write_bytes(meta.read_bytes()[:20])
    assert fs.cat("/rot/b") == data
    healed = wait_healthy(fs, wait_until, "/rot/b")
    assert fs.client_node not in {r["datanode"] for r in healed["file_details"][0]["blocks"][2]["replicas"]}
    assert fs.cat("/rot/b") == data


def test_block_scanner_finds_damage_nobody_reads(cluster, fs, wait_until, start_datanode,
                                                 all_nodes_back):
    data = payload(2 * BLOCK, seed=6)
    write(fs, "/rot/c", data)
    wait_healthy(fs, wait_until, "/rot/c")
    block = fs.stat("/rot/c")["blocks"][0]
    node = next(n for n in block["locations"] if n != fs.client_node)
    path, _ = replica_files(cluster, node, block["id"])
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(raw)
    # A restart is a fresh scanner: its first pass starts a few seconds later.
    cluster.kill(node, "TERM")
    start_datanode(node)
    wait_until(lambda: fsck(fs, "/rot/c")["corrupt"] or not path.exists(), HEAL_TIMEOUT_S,
               "the scanner to report the damage")
    wait_healthy(fs, wait_until, "/rot/c")
    assert not path.exists()
    assert fs.cat("/rot/c") == data


def test_a_copy_source_whose_block_file_vanished_reports_it(cluster, fs, wait_until, start_datanode,
                                                            all_nodes_back):
    """The only copy source lost the block file from its disk (the DataNode still lists
    the replica): its copy (or its directory scanner) finds the file gone and reports
    the replica lost, so the NameNode counts no readable copy (fsck: missing, never
    HEALTHY), and the block heals from the other holder as soon as it returns, well
    within the NameNode's 60 s pending-copy timeout. (Before issue 19 the replica was
    reported corrupt; a replica whose file is gone is lost, as in HDFS.)"""
    data = payload(BLOCK // 2 + 99, seed=7)
    write(fs, "/vanish/a", data, replication=2)
    wait_healthy(fs, wait_until, "/vanish/a")
    [[source, other]] = holders(fs, "/vanish/a")
    block_id = fs.stat("/vanish/a")["blocks"][0]["id"]
    block_file, _ = replica_files(cluster, source, block_id)
    block_file.unlink()
    cluster.kill(other, "KILL")                       # now only `source` could be copied from
    wait_until(lambda: fsck(fs, "/vanish/a")["missing"] == 1, HEAL_TIMEOUT_S,
               f"{source} to report its replica lost")
    start_datanode(other)
    healed = wait_healthy(fs, wait_until, "/vanish/a")
    [block] = healed["file_details"][0]["blocks"]
    assert len([r for r in block["replicas"] if r["state"] == "Ready"]) == 2
    assert fs.cat("/vanish/a") == data
