"""`minidfs cluster ...` as a user runs it (real `python -m minidfs.cli.main`
processes; the daemons outlive the command that started them): up, status, kill,
start, restart, down, and up again on the same home keeping the data."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

import psutil
import pytest

from cluster import LocalCluster, StartupError
from cluster.layout import Home, plan
from minidfs import config

NODES = ["nn1", "dn1", "dn2", "dn3"]


def minidfs(home, *args, stdin=b"", timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "minidfs.cli.main", *args], input=stdin, capture_output=True,
        timeout=timeout, env={**os.environ, "MINIDFS_HOME": str(home)})


def ok(done):
    assert done.returncode == 0, done.stderr.decode()
    return done


def one_error(done, cmd):
    assert done.returncode == 1, done.stderr.decode()
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"minidfs: {cmd}: "), lines
    return lines[0]


def status(home):
    return {n["name"]: n for n in json.loads(ok(minidfs(home, "cluster", "status", "--json"))
                                              .stdout)["nodes"]}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("shellhome")
    try:
        done = minidfs(home, "cluster", "up", "--datanodes", "3", "--workers", "0",
                       "--block-size", "64KiB")
        assert done.returncode == 0, done.stderr.decode()
        yield home
    finally:
        if (home / "cluster.toml").exists():
            LocalCluster.attach(home).down()


def test_up_writes_home_and_serves(home):
    conf = config.load(home / "cluster.toml")
    assert list(conf.nodes) == NODES
    assert conf.settings.block_size_bytes == 64 * 1024
    assert conf.settings.dead_node_interval_s == 8
    for name in NODES:
        assert (home / "nodes" / name).is_dir()
        assert (home / "pids" / f"{name}.pid").is_file()
        assert (home / "logs" / f"{name}.log").is_file()
    ok(minidfs(home, "put", "-", "/kept", stdin=b"survives down and up"))
    assert ok(minidfs(home, "cat", "/kept")).stdout == b"survives down and up"


def test_up_turns_the_trash_on(home):
    """DESIGN.md §6: on a cluster started by hand, rm moves into the user's trash."""
    assert config.load(home / "cluster.toml").settings.trash_interval_s == 86400
    ok(minidfs(home, "put", "-", "/oops", stdin=b"recoverable"))
    moved = ok(minidfs(home, "rm", "/oops")).stdout.decode()
    assert "to trash at:" in moved
    where = moved.rsplit("at: ", 1)[1].strip()
    assert "/.Trash/Current/oops" in where
    assert ok(minidfs(home, "cat", where)).stdout == b"recoverable"
    ok(minidfs(home, "rm", "--skip-trash", where))
    one_error(minidfs(home, "cat", where), "cat")


def test_status_json(home):
    nodes = status(home)
    assert list(nodes) == NODES
    for node in nodes.values():
        assert set(node) >= {"name", "kind", "role", "address", "pid", "state"}
        assert node["state"] == "running" and psutil.pid_exists(node["pid"])
    assert nodes["nn1"]["role"] == "active" and nodes["dn1"]["kind"] == "datanode"
    table = ok(minidfs(home, "cluster", "status")).stdout.decode().splitlines()
    assert table[0].split() == ["NAME", "KIND", "ROLE", "ADDRESS", "PID", "STATE",
                                "READY", "HA_STATE", "NN_STATE", "HTTP"]
    assert nodes["dn1"]["nn_state"] == "live"
    # Each running node's own /readyz: all ready once `cluster up` returned.
    assert all(node["ready"] is True for node in nodes.values()), nodes
    for node in nodes.values():
        host, port = node["http"].rsplit(":", 1)
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=10) as reply:
            assert reply.status == 200


def test_second_up_is_refused(home):
    line = one_error(minidfs(home, "cluster", "up"), "cluster up")
    assert "already running" in line


def test_kill_and_start_a_datanode(home):
    pid = status(home)["dn3"]["pid"]
    ok(minidfs(home, "cluster", "kill", "dn3"))
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert status(home)["dn3"]["state"] == "stopped" and status(home)["dn3"]["pid"] is None
    one_error(minidfs(home, "cluster", "kill", "dn3"), "cluster kill")
    ok(minidfs(home, "cluster", "start", "dn3"))
    assert status(home)["dn3"]["state"] == "running"
    one_error(minidfs(home, "cluster", "start", "dn3"), "cluster start")
    one_error(minidfs(home, "cluster", "kill", "dn9"), "cluster kill")


def test_pause_and_continue(home):
    ok(minidfs(home, "cluster", "kill", "--signal", "STOP", "dn2"))
    assert status(home)["dn2"]["state"] == "paused"
    ok(minidfs(home, "cluster", "kill", "--signal", "CONT", "dn2"))
    assert status(home)["dn2"]["state"] == "running"


def test_restart_namenode(home):
    before = status(home)["nn1"]["pid"]
    ok(minidfs(home, "cluster", "restart", "nn1"))
    after = status(home)["nn1"]
    assert after["state"] == "running" and after["pid"] != before
    assert ok(minidfs(home, "ls", "--json", "/kept")).stdout


def test_down_leaves_no_process_and_up_keeps_data(home):
    pids = [n["pid"] for n in status(home).values()]
    ok(minidfs(home, "cluster", "down"))
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not list((home / "pids").iterdir())
    assert {n["state"] for n in status(home).values()} == {"stopped"}
    ok(minidfs(home, "cluster", "down"))
    ok(minidfs(home, "cluster", "up"))
    assert ok(minidfs(home, "cat", "/kept")).stdout == b"survives down and up"
    assert "starting datanode dn1" in LocalCluster.attach(home).log("dn1")


def test_failed_start_names_the_node_and_stops_everything(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        home = Home(tmp_path.resolve())
        conf = plan(home, datanodes=1, workers=0, ha=False, block_size=None, replication=1,
                    settings={})
        conf.nodes["nn1"].address = f"127.0.0.1:{holder.getsockname()[1]}"
        config.save(conf, home.conf_path)
        cluster = LocalCluster(tmp_path, start_timeout_s=20)
        with pytest.raises(StartupError) as failure:
            cluster.up()
        assert failure.value.node == "nn1"
        assert str(failure.value).startswith("nn1: ")
        assert {n["state"] for n in cluster.status()} == {"stopped"}
    finally:
        holder.close()
