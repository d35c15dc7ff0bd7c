"""`minidfs cluster chaos` end to end, as a user runs it: a seeded minute of kills,
pauses, restarts, a full disk and corrupted replicas against an HA cluster under a
storage workload ends with verdict ok; and a cluster that breaks its promise (a
test-only hook makes every DataNode acknowledge packets it never wrote) is caught,
so the checker is known to be able to fail."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cluster import LocalCluster

pytestmark = pytest.mark.slow
CHAOS_TIMEOUT_S = 420


def chaos(home, *args: str) -> tuple[int, dict, str]:
    result = subprocess.run(
        [sys.executable, "-m", "minidfs.cli.main", "cluster", "chaos", "--home", str(home),
         "--json", *args],
        capture_output=True, timeout=CHAOS_TIMEOUT_S, stdin=subprocess.DEVNULL)
    stdout = result.stdout.decode()
    report = json.loads(stdout) if stdout.strip().startswith("{") else {}
    return result.returncode, report, result.stderr.decode()


def test_a_seeded_minute_of_faults_on_an_ha_cluster_loses_nothing(tmp_path):
    with LocalCluster(tmp_path / "c", datanodes=3, ha=True) as local:
        code, report, err = chaos(local.home.root, "--duration", "60s", "--seed", "11",
                                  "--rate", "15")
        assert report, err
        assert report["verdict"] == "ok", json.dumps(report["lost"], indent=1)
        assert code == 0
        injected = [f for f in report["faults"] if f["action"] == "inject" and f["ok"]]
        assert len(injected) >= 5, report["faults"]
        healed = {f["fault"] for f in report["faults"] if f["action"] == "heal"}
        assert {f["fault"] for f in injected} <= healed
        assert report["acknowledged"] > 20 and report["files_checked"] > 10
        assert report["recovery_s"] is not None
        assert all(len(names) == 1 for names in report["epochs"].values())


def test_the_checker_catches_a_datanode_that_acknowledges_what_it_never_wrote(
        tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDFS_TEST_DISCARD_ACKED_DATA", "1")
    with LocalCluster(tmp_path / "c", datanodes=3) as local:
        monkeypatch.delenv("MINIDFS_TEST_DISCARD_ACKED_DATA")
        code, report, err = chaos(local.home.root, "--duration", "5s", "--seed", "3",
                                  "--faults", "kill", "--recovery-timeout", "5s")
        assert code == 1, err
        assert report["verdict"] == "lost"
        found = {v["kind"] for v in report["lost"]}
        assert found & {"lost", "unreadable"}, report["lost"]
