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
    # The DataNode reports every replica to the new active at once; until then it is
    # in start-up safe mode and knows no locations.
    wait_until(lambda: not roles(sh)[standby]["safe_mode"], WAIT_S, f"{standby} out of safe mode")
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

    def journals() -> dict[str, dict]:
        return {r["name"]: r for r in ha_status(sh)["journalnodes"]}
    # More edits roll segments: jn3 joins the new ones and copies the history before.
    files.update(write_files(fs, "jnback", 25))

    def caught_up():
        rows = journals()
        return rows["jn3"]["state"] == "ok" and rows["jn3"]["segments"] > 1
    wait_until(caught_up, WAIT_S, "jn3 caught up from its peers")
    rows = journals()
    assert rows["jn3"]["lag_txns"] == 0, rows
    assert rows["jn3"]["promised_epoch"] == rows["jn1"]["promised_epoch"], rows
    assert rows["jn3"]["first_txid"] <= max(rows["jn1"]["first_txid"],
                                            rows["jn2"]["first_txid"]), rows
    text = ok(sh("admin", "ha", "status")).stdout
    assert "JOURNALNODE" in text and "jn3" in text
    # jn3 and one other JournalNode now hold a quorum's history: stop the third one.
    cluster.kill("jn1")
    try:
        files.update(write_files(fs, "twojns", 3))
        for path, data in files.items():
            assert fs.cat(path) == data, path
    finally:
        cluster.start("jn1")
    all_journalnodes_ok(fs, sh, wait_until, "jn1back")


def all_journalnodes_ok(fs, sh, wait_until, prefix: str) -> None:
    """A JournalNode that was down joins at the writer's next segment (as in HDFS's
    QJM): write until segments roll and every one holds the whole journal."""
    rounds = iter(range(1_000_000))

    def ok_everywhere():
        write_files(fs, f"{prefix}{next(rounds)}-", 5)
        return all(r["state"] == "ok" for r in ha_status(sh)["journalnodes"])
    wait_until(ok_everywhere, WAIT_S, "every JournalNode in sync")


def test_status_names_a_lagging_journalnode(cluster, fs, sh, wait_until):
    all_journalnodes_ok(fs, sh, wait_until, "settle")
    cluster.kill("jn2")
    write_files(fs, "lag", 3)
    assert {r["name"]: r for r in ha_status(sh)["journalnodes"]}["jn2"]["state"] == "unreachable"
    cluster.start("jn2")
    rows = {r["name"]: r for r in ha_status(sh)["journalnodes"]}
    assert rows["jn2"]["state"] == "lagging" and rows["jn2"]["lag_txns"] > 0, rows
    text = ok(sh("admin", "ha", "status")).stdout
    assert any(line.startswith("jn2") and "lagging" in line for line in text.splitlines()), text
    all_journalnodes_ok(fs, sh, wait_until, "rejoin")
