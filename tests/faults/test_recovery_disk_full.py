"""A full disk and rack labels, with real processes: dn5's simulated disk
(capacity_bytes) fills up and writes go elsewhere; with two racks every block
lands on both. 5 DataNodes: dn1 dn2 on /r1, dn3 dn4 dn5 on /r2; 64 KiB blocks.
"""
from __future__ import annotations

import pytest

from cluster import LocalCluster
from cluster.layout import Home, plan
from minidfs import config
from minidfs.client import health

BLOCK = 64 * 1024
# Room for two blocks with their meta files, not three.
SMALL_DISK_BYTES = 2 * BLOCK + BLOCK // 2
RACKS = {"dn1": "/r1", "dn2": "/r1", "dn3": "/r2", "dn4": "/r2", "dn5": "/r2"}
SETTINGS = {"heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0}
HEAL_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """This module's own cluster: a cluster.toml written before the first start
    carries the per-node rack labels and dn5's small disk."""
    home = Home(tmp_path_factory.mktemp("cluster"))
    conf = plan(home, datanodes=5, workers=0, ha=False, block_size=BLOCK, replication=3,
                settings=SETTINGS)
    for name, rack in RACKS.items():
        conf.nodes[name].rack = rack
    conf.nodes["dn5"].capacity_bytes = SMALL_DISK_BYTES
    config.save(conf, home.conf_path)
    local = LocalCluster(home.root)
    try:
        local.up()
        yield local
    finally:
        local.down()


def payload(size: int, seed: int) -> bytes:
    return bytes((i * 17 + seed) % 251 for i in range(size))


def test_full_disk_sends_writes_elsewhere(fs, wait_until):
    files = {f"/full/f{i}": payload(2 * BLOCK + 100 * i, seed=i) for i in range(8)}
    for path, data in files.items():
        with fs.open(path, "wb") as f:
            f.write(data)
    for path, data in files.items():
        assert fs.cat(path) == data
    report = wait_until(lambda: (r := health.fsck(fs.namenode, "/full"))["healthy"] and r,
                        HEAL_TIMEOUT_S, "fsck healthy")
    assert report["blocks"] == sum(-(-len(d) // BLOCK) for d in files.values())
    dn5 = next(n for n in health.datanode_report(fs.namenode) if n["name"] == "dn5")
    assert dn5["used"] <= SMALL_DISK_BYTES and dn5["capacity"] == SMALL_DISK_BYTES
    # A block is accepted only while a whole block still fits, so dn5 ends up with at
    # most two full-size blocks; a short tail block may squeeze in while it had room.
    on_dn5 = [b for path in files for b in fs.stat(path)["blocks"] if "dn5" in b["locations"]]
    assert sum(b["length"] == BLOCK for b in on_dn5) <= 2
    assert sum(b["length"] for b in on_dn5) <= SMALL_DISK_BYTES
    assert len(on_dn5) < report["blocks"] // 3     # most writes went elsewhere
    # Still full: the next file does not touch dn5 at all.
    with fs.open("/full/after", "wb") as f:
        f.write(payload(3 * BLOCK, seed=99))
    assert all("dn5" not in b["locations"] for b in fs.stat("/full/after")["blocks"])


def test_rack_labels_spread_every_block_over_both_racks(fs, wait_until):
    with fs.open("/racks/a", "wb") as f:
        f.write(payload(4 * BLOCK + 1, seed=7))
    report = wait_until(lambda: (r := health.fsck(fs.namenode, "/racks", locations=True))["healthy"]
                        and r, HEAL_TIMEOUT_S, "fsck healthy")
    assert report["racks"] == 2 and report["mis_replicated"] == 0
    for block in report["file_details"][0]["blocks"]:
        racks = [r["rack"] for r in block["replicas"]]
        assert len(racks) == 3 and set(racks) == {"/r1", "/r2"}
        # HDFS's policy: writer-local first (dn1, /r1), then two on the other rack.
        assert sorted(racks) == ["/r1", "/r2", "/r2"]
