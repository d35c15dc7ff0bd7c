"""An HA cluster as a user drives it: `minidfs cluster up --ha`, roles in `cluster status`,
`minidfs admin ha status|failover`, killing the active NameNode, a restarted former
active rejoining as standby, standbys refusing clients, and the retry cache answering
a retried Create / Delete after a failover.

Real processes (jn1..jn3, nn1, nn2, dn1..dn3) started by the `minidfs` shell; the
cluster is stopped in the fixture's finally.
"""
from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import time

import pytest

from cluster import LocalCluster
from minidfs import config, errors
from minidfs.client.namenode_client import NamenodeClient
from minidfs.rpc import client_namenode_pb2 as pb

WAIT_S = 30.0


def minidfs(home, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "minidfs.cli.main", *args], capture_output=True,
        timeout=timeout, env={**os.environ, "MINIDFS_HOME": str(home)})


def ok(done):
    assert done.returncode == 0, done.stderr.decode()
    return done


def ha_status(home) -> dict[str, dict]:
    rows = json.loads(ok(minidfs(home, "admin", "ha", "status", "--json")).stdout)["namenodes"]
    return {r["name"]: r for r in rows}


def wait_for(condition, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def active_name(home) -> str:
    def find():
        active = [n for n, s in ha_status(home).items() if s["role"] == "active"]
        return active[0] if len(active) == 1 else None
    return wait_for(find, "exactly one active namenode")


def direct(conf: config.ClusterConfig, name: str) -> NamenodeClient:
    """A client bound to one NameNode, no failover: to see what that one answers."""
    return NamenodeClient([conf.node(name).address], deadline_s=5.0, failover_passes=1)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hahome")
    try:
        ok(minidfs(home, "cluster", "up", "--ha", "--datanodes", "3", "--workers", "0",
                   "--block-size", "64KiB"))
        yield home
    finally:
        if (home / "cluster.toml").exists():
            LocalCluster.attach(home).down()


@pytest.fixture(scope="module")
def conf(home):
    return config.load(home / "cluster.toml")


def test_up_ha_starts_every_node_and_one_active(home, conf):
    assert set(conf.nodes) == {"jn1", "jn2", "jn3", "nn1", "nn2", "dn1", "dn2", "dn3"}
    assert conf.settings.ha
    nodes = {n["name"]: n for n in json.loads(
        ok(minidfs(home, "cluster", "status", "--json")).stdout)["nodes"]}
    assert all(n["state"] == "running" for n in nodes.values())
    roles = sorted((nodes["nn1"]["role"], nodes["nn2"]["role"]))
    assert roles == ["active", "standby"]
    words = {nodes[n]["role"]: nodes[n]["ha_state"] for n in ("nn1", "nn2")}
    assert words["active"] == "Primary"
    assert words["standby"] in ("ActiveSecondary", "IdleSecondary")
    table = ok(minidfs(home, "cluster", "status")).stdout.decode()
    assert "Primary" in table and "HA_STATE" in table


def test_admin_ha_status_and_standby_catches_up(home):
    ok(minidfs(home, "mkdir", "-p", "/status/a"))
    active = active_name(home)

    def caught_up():
        rows = ha_status(home)
        standby = [s for s in rows.values() if s["role"] == "standby"]
        if standby and standby[0]["last_txid"] == rows[active]["last_txid"]:
            return rows
        return None
    rows = wait_for(caught_up, "the standby to apply every edit")
    standby = next(s for s in rows.values() if s["role"] == "standby")
    assert standby["state"] == "ActiveSecondary" and standby["epoch"] == rows[active]["epoch"]
    assert rows[active]["state"] == "Primary" and rows[active]["lease_holder"] == active
    table = ok(minidfs(home, "admin", "ha", "status")).stdout.decode()
    assert "Primary" in table and "EPOCH" in table


def test_standby_refuses_reads_and_writes(home, conf):
    active = active_name(home)
    standby = "nn2" if active == "nn1" else "nn1"
    nn = direct(conf, standby)
    try:
        with pytest.raises(errors.StandbyError, match=f"{standby}: standby namenode"):
            nn.call("GetFileInfo", pb.PathRequest(path="/"))
        with pytest.raises(errors.StandbyError):
            nn.call("Mkdirs", pb.MkdirsRequest(path="/nope", parents=True))
        assert nn.call("GetHaStatus", pb.GetHaStatusRequest()).role == "standby"
    finally:
        nn.close()


def test_webhdfs_standby_answers_standby_exception_and_hdfscli_moves_on(home, conf):
    import urllib.error
    import urllib.request

    from hdfs import InsecureClient

    active = active_name(home)
    standby = "nn2" if active == "nn1" else "nn1"
    url = f"http://{conf.node(standby).http_address}/webhdfs/v1/?op=GETFILESTATUS"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=WAIT_S)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["RemoteException"]["exception"] == "StandbyException"
    # Both NameNodes, the standby first: HdfsCLI skips it on StandbyException.
    urls = ";".join(f"http://{conf.node(n).http_address}" for n in (standby, active))
    client = InsecureClient(urls, user=getpass.getuser())   # the superuser: may write at /
    client.write("/webhdfs-ha/a.txt", data=b"through the active", overwrite=True)
    with client.read("/webhdfs-ha/a.txt") as reader:
        assert reader.read() == b"through the active"
    assert client.delete("/webhdfs-ha", recursive=True)


def test_graceful_failover_and_retry_cache_across_it(home, conf):
    old = active_name(home)
    nn = direct(conf, old)
    create = pb.CreateRequest(path="/retry/f", replication=1, client_name="retry-test",
                              create_parent=True,
                              rpc_id=pb.RpcId(client_id="retry-test-client", call_id=1))
    delete = pb.DeleteRequest(path="/retry/gone",
                              rpc_id=pb.RpcId(client_id="retry-test-client", call_id=2))
    try:
        ok(minidfs(home, "mkdir", "-p", "/retry/gone"))
        nn.call("Create", create)
        assert nn.call("Delete", delete).deleted
    finally:
        nn.close()
    done = json.loads(ok(minidfs(home, "admin", "ha", "failover", "--json")).stdout)
    assert done["from"] == old and done["to"] != old and done["seconds"] < 15
    new = active_name(home)
    assert new == done["to"]
    nn = direct(conf, new)
    try:
        # The same calls again (a client that never heard the answers): not applied
        # twice, no spurious "file exists" / deleted=false.
        assert nn.call("Create", create).status.path == "/retry/f"
        assert nn.call("Delete", delete).deleted
        fresh = pb.CreateRequest()
        fresh.CopyFrom(create)
        fresh.rpc_id.call_id = 3
        with pytest.raises(errors.FileExists):
            nn.call("Create", fresh)
    finally:
        nn.close()
    ok(minidfs(home, "mkdir", "/after-failover"))


def test_kill_active_then_restart_it_as_standby(home, conf):
    data = os.urandom(150_000)
    local = home / "data.bin"
    local.write_bytes(data)
    ok(minidfs(home, "put", str(local), "/kill/before.bin"))
    old = active_name(home)
    killed = time.monotonic()
    ok(minidfs(home, "cluster", "kill", old))
    ok(minidfs(home, "mkdir", "-p", "/kill/after"))   # the client fails over and retries
    took = time.monotonic() - killed
    assert took < 20, took
    new = active_name(home)
    assert new != old
    assert ok(minidfs(home, "cat", "/kill/before.bin")).stdout == data
    ok(minidfs(home, "cluster", "start", old))

    def rejoined():
        rows = ha_status(home)
        return (rows[old]["role"] == "standby"
                and rows[old]["last_txid"] == rows[new]["last_txid"] and rows)
    rows = wait_for(rejoined, f"{old} to rejoin as a standby and catch up")
    assert rows[new]["role"] == "active"


def test_decommission_reaches_the_standby_through_the_journal(home, conf):
    """The admin's decommission is an edit: after a failover the new active still
    has the node out of service, and the cancel travels back the same way."""
    def state(name):
        report = json.loads(ok(minidfs(home, "admin", "report", "--json")).stdout)
        # None until dn3 registered (the previous test restarted a NameNode).
        return {n["name"]: n["state"] for n in report["datanodes"]}.get(name)

    wait_for(lambda: state("dn3") == "live", "dn3 registered with the active")
    ok(minidfs(home, "admin", "decommission", "dn3"))
    first = active_name(home)
    ok(minidfs(home, "admin", "ha", "failover"))
    assert active_name(home) != first
    # dn3 holds replicas that cannot get 3 copies without it: it stays decommissioning.
    wait_for(lambda: state("dn3") in ("decommissioning", "decommissioned"), "dn3 out of service")
    ok(minidfs(home, "admin", "decommission", "--cancel", "dn3"))
    ok(minidfs(home, "admin", "ha", "failover"))
    assert active_name(home) == first
    wait_for(lambda: state("dn3") == "live", "dn3 back in service")


def test_owners_and_modes_survive_a_failover(home, conf):
    """Owners and modes are edits: the standby has them from the journal, so after a
    failover the new active enforces the same permissions."""
    ok(minidfs(home, "--user", "alice", "mkdir", "/tmp/alice-ha"))
    ok(minidfs(home, "--user", "alice", "chmod", "1700", "/tmp/alice-ha"))
    first = active_name(home)
    refused = minidfs(home, "--user", "alice", "admin", "ha", "failover")
    assert refused.returncode == 1 and b"user=alice is not a superuser" in refused.stderr
    assert active_name(home) == first
    ok(minidfs(home, "admin", "ha", "failover"))
    assert active_name(home) != first
    info = json.loads(ok(minidfs(home, "stat", "--json", "/tmp/alice-ha")).stdout)
    assert (info["owner"], info["permission"], info["sticky"]) == ("alice", "1700", True)
    denied = minidfs(home, "--user", "bob", "ls", "/tmp/alice-ha")
    assert denied.returncode == 1
    assert b"permission denied: user=bob, access=READ_EXECUTE" in denied.stderr
