"""`minidfs fsck`, `admin report|decommission|safemode` and `cluster status`'s
nn_state against a real cluster of 4 DataNodes (64 KiB blocks)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from minidfs.cli.main import cli

BLOCK = 64 * 1024
CLUSTER_OPTIONS = {"datanodes": 4, "workers": 0, "block_size": BLOCK,
                   "heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0}
FSCK_KEYS = {"healthy", "files", "blocks", "under_replicated", "missing", "corrupt"}


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(cli, ["--conf", str(cluster.conf_path), *args], prog_name="minidfs")
        assert result.exit_code == code, (result.output, result.exception)
        return result
    return run


@pytest.fixture(scope="module")
def data(fs):
    payload = bytes(range(256)) * (3 * BLOCK // 256 + 7)
    fs.mkdir("/h", parents=True)
    with fs.open("/h/a.bin", "wb") as f:
        f.write(payload)
    return payload


def fsck_json(sh, *args):
    return json.loads(sh("fsck", "--json", *args).stdout)


def test_fsck_json_keys_and_listing(sh, data, wait_until):
    result = wait_until(lambda: (r := fsck_json(sh, "/h")) and r["healthy"] and r, what="healthy")
    assert FSCK_KEYS <= set(result) and result["status"] == "HEALTHY"
    assert (result["files"], result["blocks"], result["missing"], result["corrupt"]) == (1, 4, 0, 0)
    detail = fsck_json(sh, "/h", "--files", "--blocks", "--locations")["file_details"]
    [entry] = detail
    assert entry["path"] == "/h/a.bin" and entry["length"] == len(data)
    assert len(entry["blocks"]) == 4
    for block in entry["blocks"]:
        assert block["live"] == block["expected"] == 3 and block["problems"] == []
        assert sorted(r["state"] for r in block["replicas"]) == ["Ready"] * 3
    assert "blocks" not in fsck_json(sh, "/h", "--files")["file_details"][0]
    text = sh("fsck", "/h", "--files", "--blocks", "--locations").stdout
    assert "/h/a.bin" in text and "Ready" in text
    assert text.rstrip().endswith("The filesystem under path '/h' is HEALTHY")


def test_fsck_of_a_missing_path_is_one_error_line(sh):
    result = sh("fsck", "/nope", code=1)
    assert result.stderr.strip() == "minidfs: fsck: /nope: no such file or directory"


def test_admin_report(sh, data):
    report = json.loads(sh("admin", "report", "--json").stdout)
    assert report["live_datanodes"] == 4 and report["capacity"] > 0
    names = [n["name"] for n in report["datanodes"]]
    assert names == ["dn1", "dn2", "dn3", "dn4"]
    for node in report["datanodes"]:
        assert node["state"] == "live" and node["last_contact_s"] < 3
        assert set(node["replica_states"]) <= {"Ready", "InBuild", "Closing", "Opening"}
    assert sum(n["replica_states"].get("Ready", 0) for n in report["datanodes"]) >= 12
    text = sh("admin", "report").stdout
    assert "Configured capacity" in text and "LAST CONTACT" in text and "dn4" in text


def test_safemode_get_enter_leave(sh, fs):
    assert json.loads(sh("admin", "safemode", "get", "--json").stdout)["on"] is False
    assert "ON" in sh("admin", "safemode", "enter").stdout
    try:
        result = sh("mkdir", "/in-safe-mode", code=1)
        assert "safe mode" in result.stderr
    finally:
        assert "OFF" in sh("admin", "safemode", "leave").stdout
    sh("admin", "safemode", "bogus", code=2)


def test_decommission_drains_then_cancel(sh, fs, data, wait_until):
    report = json.loads(sh("admin", "report", "--json").stdout)
    victim = max(report["datanodes"], key=lambda n: n["blocks"])["name"]
    assert sh("admin", "decommission", "--wait", "--timeout", "60", victim).stdout.strip() == \
        f"{victim}: decommissioned"
    result = fsck_json(sh, "/h", "--locations")
    assert result["healthy"]
    for block in result["file_details"][0]["blocks"]:
        live = [r["datanode"] for r in block["replicas"] if r["state"] == "Ready"]
        assert len([n for n in live if n != victim]) >= 3
    assert fs.cat("/h/a.bin") == data
    status = json.loads(sh("cluster", "status", "--json").stdout)["nodes"]
    assert {n["name"]: n.get("nn_state") for n in status if n["kind"] == "datanode"}[victim] == \
        "decommissioned"
    assert sh("admin", "decommission", "--cancel", victim).stdout.strip() == f"{victim}: live"
    # Back in service, its copies count again and the surplus is trimmed.
    wait_until(lambda: fsck_json(sh, "/h")["over_replicated"] == 0, what="trim")
    sh("admin", "decommission", "dn99", code=1)


def test_cluster_status_shows_how_the_namenode_sees_datanodes(sh, cluster, wait_until):
    nodes = json.loads(sh("cluster", "status", "--json").stdout)["nodes"]
    for node in nodes:
        assert {"name", "kind", "role", "address", "pid", "state"} <= set(node)
        if node["kind"] == "datanode":
            assert node["nn_state"] == "live"
        else:
            assert "nn_state" not in node
    assert "NN_STATE" in sh("cluster", "status").stdout


def test_decommission_survives_a_namenode_restart(sh, cluster, fs, data, wait_until):
    """The admin's intent is logged: a SIGKILLed NameNode comes back with the node
    still out of service (decommissioned again once its blocks are found copied),
    and a cancel is just as durable."""
    def state(name):
        report = json.loads(sh("admin", "report", "--json").stdout)
        return {n["name"]: n["state"] for n in report["datanodes"]}.get(name)

    victim = "dn4"
    sh("admin", "decommission", "--wait", "--timeout", "60", victim)
    cluster.kill("nn1")
    cluster.start("nn1")
    wait_until(lambda: state(victim) == "decommissioned", 30, f"{victim} decommissioned again")
    assert sh("admin", "decommission", "--cancel", victim).stdout.strip() == f"{victim}: live"
    cluster.kill("nn1")
    cluster.start("nn1")
    wait_until(lambda: state(victim) == "live", 30, f"{victim} back in service")
    assert fs.cat("/h/a.bin") == data
