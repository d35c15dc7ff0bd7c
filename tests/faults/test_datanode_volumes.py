"""A DataNode with three data dirs (real processes, issue 19): replicas spread over
them; one made unusable (chmod 000) is taken out of service, its replicas are
copied again while the node keeps serving from the other two; a second failure,
past failed_volumes_tolerated = 1, stops the node cleanly with one log line.

4 DataNodes (dn1 has the three volumes), replication 3, 64 KiB blocks.
"""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from cluster import LocalCluster
from cluster.layout import Home, plan
from minidfs import config
from minidfs.cli.main import cli
from minidfs.client import health

BLOCK = 64 * 1024
SETTINGS = {"heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0,
            "directory_scan_interval_s": 1.0, "failed_volumes_tolerated": 1}
VOLUMES = ("v1", "v2", "v3")
HEAL_TIMEOUT_S = 40.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("cluster"))
    conf = plan(home, datanodes=4, workers=0, ha=False, block_size=BLOCK, replication=3,
                settings=SETTINGS)
    conf.nodes["dn1"].data_dirs = [home.node_dir("dn1") / v for v in VOLUMES]
    config.save(conf, home.conf_path)
    local = LocalCluster(home.root)
    try:
        local.up()
        yield local
    finally:
        for v in VOLUMES:
            path = home.node_dir("dn1") / v
            if path.is_dir():
                path.chmod(0o755)
        local.down()


def payload(size: int, seed: int) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


def dn1(fs) -> dict:
    return next(n for n in health.datanode_report(fs.namenode) if n["name"] == "dn1")


def settled(fs) -> bool:
    report = health.fsck(fs.namenode, "/", locations=True)
    return report["healthy"] and report["over_replicated"] == 0 and all(
        r["state"] in ("Ready", "Down") for f in report["file_details"] for b in f["blocks"]
        for r in b["replicas"])


def admin_report(cluster, *args) -> str:
    result = CliRunner().invoke(cli, ["--conf", str(cluster.conf_path), "admin", "report", *args],
                                prog_name="minidfs")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_volumes_fail_one_by_one(cluster, fs, wait_until):
    root = cluster.home.node_dir("dn1")
    files = {f"/v/f{i}": payload(6 * BLOCK + 7 * i, seed=i) for i in range(3)}
    for path, data in files.items():
        with fs.open(path, "wb") as f:
            f.write(data)
    wait_until(lambda: settled(fs), HEAL_TIMEOUT_S, "fsck settled")
    per_volume = {v: len(list((root / v).glob("current/finalized/*/blk_*[0-9]"))) for v in VOLUMES}
    assert all(per_volume.values()), per_volume
    # Volumes ride on heartbeats: wait for one sent after the last replica arrived.
    node = wait_until(lambda: (n := next(n for n in json.loads(admin_report(cluster, "--json"))["datanodes"]
                                         if n["name"] == "dn1"))
                      and sum(v["replicas"] for v in n["volumes"]) == n["blocks"] and n,
                      HEAL_TIMEOUT_S, "dn1's volumes reported")
    assert [v["path"] for v in node["volumes"]] == [str(root / v) for v in VOLUMES]
    assert node["failed_volumes"] == 0 and [v["failure"] for v in node["volumes"]] == ["", "", ""]

    (root / "v2").chmod(0)
    wait_until(lambda: dn1(fs)["failed_volumes"] == 1, HEAL_TIMEOUT_S, "v2 failed")
    failure = next(v["failure"] for v in dn1(fs)["volumes"] if v["path"].endswith("v2"))
    assert "permission denied" in failure
    text = admin_report(cluster)
    assert "3 (1 failed)" in text and f"dn1: volume {root / 'v2'} failed:" in text
    wait_until(lambda: settled(fs), HEAL_TIMEOUT_S, "v2's replicas copied again")
    assert dn1(fs)["state"] == "live"
    for path, data in files.items():
        assert fs.cat(path) == data
    # A failed volume's files are left alone, and it takes no new replicas.
    before = set((root / "v2").glob("current/*/*"))
    with fs.open("/v/after", "wb") as f:
        f.write(payload(2 * BLOCK, seed=9))
    assert fs.cat("/v/after") == payload(2 * BLOCK, seed=9)
    assert set((root / "v2").glob("current/*/*")) == before

    os.rename(root / "v3", root / "v3.unmounted")
    (root / "v3").write_text("not a disk")
    wait_until(lambda: next(n for n in cluster.status() if n["name"] == "dn1")["state"] == "stopped",
               HEAL_TIMEOUT_S, "dn1 stopped")
    log = cluster.log("dn1")
    assert log.count("shutting down: too many failed volumes: 2 of 3 volumes failed") == 1
    assert "Traceback" not in log
    wait_until(lambda: dn1(fs)["state"] == "dead", HEAL_TIMEOUT_S, "dn1 dead")
    wait_until(lambda: settled(fs), HEAL_TIMEOUT_S, "dn1's replicas copied elsewhere")
    for path, data in files.items():
        assert fs.cat(path) == data
