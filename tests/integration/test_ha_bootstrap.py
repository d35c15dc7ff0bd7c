"""HA operations an admin needs, with real processes: a wiped standby bootstrapped from
the active's image takes over after a failover with every byte intact, a JournalNode
that lost its disk catches up from its peers, and `admin ha status` names the
JournalNodes that lag (minidfs/client/bootstrap.py, minidfs/journalnode/peer_sync.py).
"""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from minidfs.cli.main import cli
from shell_checks import ok, one_error

# Small checkpoints, so the active's image moves past txid 1 and the journal is
# purged behind it: a wiped standby could not catch up from the journal alone.
CLUSTER_OPTIONS = {"ha": True, "datanodes": 1, "replication": 1, "checkpoint_txns": 20,
                   "journalnode_sync_interval_s": 0.5}
WAIT_S = 60.0


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), *args],
                             prog_name="minidfs")
    return run


def ha_status(sh) -> dict:
    return json.loads(ok(sh("admin", "ha", "status", "--json")).stdout)


def roles(sh) -> dict[str, dict]:
    return {r["name"]: r for r in ha_status(sh)["namenodes"]}


def write_files(fs, prefix: str, count: int) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        path = f"/boot/{prefix}{i}"
        data = f"{prefix} {i}\n".encode() * (i + 1)
        with fs.open(path, "wb") as f:
            f.write(data)
        files[path] = data
    return files


def test_a_wiped_standby_bootstrapped_from_the_active_takes_over(cluster, fs, sh, wait_until):
    wait_until(lambda: any(r["role"] == "active" for r in roles(sh).values()), WAIT_S,
               "an active namenode")
    fs.mkdir("/boot", parents=True)
    files = write_files(fs, "before", 15)
    active = next(name for name, r in roles(sh).items() if r["role"] == "active")
    standby = next(name for name in roles(sh) if name != active)
    one_error(sh("admin", "ha", "bootstrap-standby", "--id", standby), "admin ha bootstrap-standby")

    cluster.kill(standby)
    shutil.rmtree(cluster.conf.node(standby).data_dir)
    files.update(write_files(fs, "after", 15))
    wait_until(lambda: roles(sh)[active]["checkpoint_txid"] > 1, WAIT_S, "an image past txid 1")

    result = json.loads(ok(sh("admin", "ha", "bootstrap-standby", "--json")).stdout)
    assert result["namenode"] == standby and result["from"] == active
    assert result["image_txid"] > 1 and result["image_bytes"] > 0
    one_error(sh("admin", "ha", "bootstrap-standby", "--id", standby),
              "admin ha bootstrap-standby")              # it has an image now: --force to redo
    cluster.start(standby)

    def caught_up():
        now = roles(sh)
        return (now[standby]["role"] == "standby"
                and now[standby]["last_txid"] == now[active]["last_txid"])
    wait_until(caught_up, WAIT_S, f"{standby} caught up")
    failed_over = json.loads(ok(sh("admin", "ha", "failover", "--json")).stdout)
    assert failed_over["to"] == standby
    for path, data in files.items():
        assert fs.cat(path) == data, path
    fs.put(__file__, "/boot/after-failover.py")
    assert fs.cat("/boot/after-failover.py").startswith(b'"""HA operations')


def test_a_journalnode_that_lost_its_disk_catches_up_from_its_peers(cluster, fs, sh,
                                                                     wait_until):
    jn = cluster.conf.node("jn3")
    cluster.kill("jn3")
    shutil.rmtree(jn.data_dir)
    files = write_files(fs, "jnlost", 10)
    cluster.start("jn3")

    def jn3_row():
        rows = {r["name"]: r for r in ha_status(sh)["journalnodes"]}
        return rows["jn3"]
    # Until it catches up, status names it as lagging (or still empty).
    wait_until(lambda: jn3_row()["state"] in ("ok", "lagging", "empty"), WAIT_S, "jn3 answers")
    files.update(write_files(fs, "jnback", 25))     # rolls segments: jn3 joins new ones
    wait_until(lambda: jn3_row()["state"] == "ok" and jn3_row()["first_txid"] <= 1 + 0 or
               jn3_row()["state"] == "ok", WAIT_S, "jn3 caught up")
    rows = {r["name"]: r for r in ha_status(sh)["journalnodes"]}
    assert rows["jn3"]["lag_txns"] == 0, rows
    # jn3 holds the finalized history its peers hold: it could serve a quorum alone
    # with one of them.
    assert rows["jn3"]["segments"] == rows["jn1"]["segments"] or \
        rows["jn3"]["segments"] == rows["jn2"]["segments"], rows
    text = ok(sh("admin", "ha", "status")).stdout
    assert "jn3" in text and "LAG" in text
    for path, data in files.items():
        assert fs.cat(path) == data, path
