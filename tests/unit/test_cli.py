"""The `minidfs` shell without a cluster: usage errors, missing / unreachable
clusters, size flags, and the formatters' output from plain dicts."""
from __future__ import annotations

import json
import os
import socket

import click
import pytest
from click.testing import CliRunner

from minidfs import config
from minidfs.cli import format as fmt
from minidfs.cli.common import SIZE, describe
from minidfs.cli.main import cli
from minidfs import errors


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDFS_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, prog_name="minidfs")
    return invoke


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("args", [
    ["put", "only-one-arg"],
    ["put", "--block-size", "12X", "a", "/b"],
    ["put", "--block-size", "0", "a", "/b"],
    ["put", "--replication", "0", "a", "/b"],
    ["setrep", "0", "/a"],
    ["setrep", "two", "/a"],
    ["get", "/a"],
    ["mv", "/a"],
    ["no-such-command"],
    ["cluster", "kill", "--signal", "HUP", "dn1"],
    ["cluster", "up", "--datanodes", "0"],
    ["cluster", "up", "--block-size", "lots"],
    ["daemon", "nosuchkind", "--conf", "c.toml", "--id", "x"],
    ["daemon", "namenode", "--id", "nn1"],
])
def test_usage_errors_exit_2(run, args):
    result = run(*args)
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("args", [
    ["ls", "/"], ["ls", "--json", "-R", "/"], ["cat", "/a"], ["mkdir", "-p", "/a/b"],
    ["rm", "-r", "/a"], ["mv", "/a", "/b"], ["du", "/"], ["df"], ["setrep", "2", "/a"],
    ["stat", "--json", "/a"], ["get", "/a", "local"],
    ["put", "--block-size", "64KiB", "--replication", "2", "-", "/a"],
])
def test_missing_cluster_is_one_line_exit_1(run, args, tmp_path):
    result = run(*args, input=b"data")
    assert result.exit_code == 1, result.output
    line = one_error_line(result)
    cmd = args[0]
    assert line.startswith(f"minidfs: {cmd}: cluster not reachable at "), line
    assert str(tmp_path / "home" / "cluster.toml") in line


def test_unreachable_cluster_is_one_line_exit_1(run, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = config.ClusterConfig(path=None, settings=config.Settings(client_failover_wait_s=2.0),
                                nodes={"nn1": config.NodeConfig("nn1", "namenode",
                                                                f"127.0.0.1:{port}", tmp_path / "nn1")})
    path = tmp_path / "cluster.toml"
    config.save(conf, path)
    result = run("--conf", str(path), "ls", "/")
    assert result.exit_code == 1
    # After a second of waiting the shell says so, then gives up with one error line.
    notice, line = result.stderr.splitlines()
    assert notice == "minidfs: ls: waiting for an active NameNode… (Ctrl-C to stop)"
    assert "Traceback" not in result.output
    assert line.startswith(f"minidfs: ls: cluster not reachable at {path}: "), line
    # Nothing was sent (connection refused): a read, and a definite failure anyway.
    assert "outcome unknown" not in line


def _dead_cluster_conf(path):
    conf = config.ClusterConfig(path=None, settings=config.Settings(), nodes={
        "nn1": config.NodeConfig("nn1", "namenode", "127.0.0.1:1", path.parent / "nn1")})
    config.save(conf, path)


def test_missing_local_file_is_one_line(run, tmp_path):
    _dead_cluster_conf(tmp_path / "cluster.toml")
    result = run("--conf", str(tmp_path / "cluster.toml"), "put", str(tmp_path / "nope"), "/a")
    assert result.exit_code == 1
    assert one_error_line(result) == f"minidfs: put: {tmp_path / 'nope'}: no such file or directory"
    # A directory is copied whole, but its local side is checked before any round trip.
    tree = tmp_path / "tree"
    tree.mkdir()
    os.mkfifo(tree / "pipe")
    result = run("--conf", str(tmp_path / "cluster.toml"), "put", str(tree), "/a")
    assert result.exit_code == 1
    assert one_error_line(result) == f"minidfs: put: {tree / 'pipe'}: not a regular file"


def test_status_of_a_stopped_cluster(run, tmp_path):
    _dead_cluster_conf(tmp_path / "cluster.toml")
    result = run("cluster", "status", "--json", "--home", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"nodes": [{
        "name": "nn1", "kind": "namenode", "role": "active", "address": "127.0.0.1:1", "http": None,
        "pid": None, "state": "stopped", "log": str(tmp_path / "logs" / "nn1.log")}]}
    result = run("cluster", "kill", "--home", str(tmp_path), "nn1")
    assert result.exit_code == 1
    assert one_error_line(result) == "minidfs: cluster kill: nn1: not running"
    result = run("cluster", "kill", "--home", str(tmp_path), "dn9")
    assert result.exit_code == 1
    assert one_error_line(result).startswith("minidfs: cluster kill: dn9: no such node")


@pytest.mark.parametrize("text,value", [("64KiB", 65536), ("1MiB", 1 << 20),
                                        ("128M", 128 << 20), ("4096", 4096)])
def test_size_flags(text, value):
    assert SIZE.convert(text, None, None) == value


@pytest.mark.parametrize("text", ["12X", "0", "-1", "1.5", "KiB"])
def test_bad_size_flags(text):
    with pytest.raises(click.BadParameter):
        SIZE.convert(text, None, None)


def test_cluster_commands_without_a_cluster(run, tmp_path):
    for args in (["cluster", "status"], ["cluster", "kill", "dn1"], ["cluster", "start", "dn1"],
                 ["cluster", "down"], ["cluster", "status", "--json"]):
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        line = one_error_line(result)
        assert line.startswith(f"minidfs: {' '.join(args[:2])}: "), line
        assert "no cluster here" in line


def test_ha_not_available_yet(run, monkeypatch):
    monkeypatch.setattr("cluster.local.module_available", lambda name: False)
    result = run("cluster", "up", "--ha")
    assert result.exit_code == 1
    assert one_error_line(result) == "minidfs: cluster up: --ha: not available yet (no JournalNode)"


def test_daemon_kind_not_available_yet(run, monkeypatch):
    monkeypatch.setitem(__import__("minidfs.cli.daemon_command", fromlist=["x"]).DAEMON_MODULES,
                        "journalnode", "minidfs.no_such_package.server")
    result = run("daemon", "journalnode", "--conf", "c.toml", "--id", "jn1")
    assert result.exit_code == 1
    assert one_error_line(result) == "minidfs daemon: journalnode: not available yet"


def test_daemon_checks_conf_and_kind(run, tmp_path, monkeypatch):
    monkeypatch.setattr("minidfs.cli.daemon_command._available", lambda name: True)
    result = run("daemon", "namenode", "--conf", str(tmp_path / "none.toml"), "--id", "nn1")
    assert result.exit_code == 1
    assert one_error_line(result).startswith("minidfs namenode nn1: ")
    conf = config.ClusterConfig(path=None, settings=config.Settings(), nodes={
        "dn1": config.NodeConfig("dn1", "datanode", "127.0.0.1:1", tmp_path / "dn1")})
    config.save(conf, tmp_path / "c.toml")
    result = run("daemon", "namenode", "--conf", str(tmp_path / "c.toml"), "--id", "dn1")
    assert result.exit_code == 1
    assert "dn1 is a datanode" in one_error_line(result)
    result = run("daemon", "namenode", "--conf", str(tmp_path / "c.toml"), "--id", "nn7")
    assert result.exit_code == 1
    assert "nn7: no such node" in one_error_line(result)


def test_describe_errors():
    assert describe(errors.FileExists("/a: file exists")) == "/a: file exists"
    assert describe(FileNotFoundError(2, "No such file or directory", "x.txt")) == \
        "x.txt: no such file or directory"
    assert describe(errors.Unavailable("no NameNode answered"), config.find_conf("c.toml")) == \
        "cluster not reachable at c.toml: no NameNode answered"
    assert describe(errors.MinidfsError("two\nlines")) == "two lines"


ENTRIES = [
    {"path": "/data", "type": "directory", "length": 0, "replication": 0, "block_size": 0,
     "modified": 1_700_000_000_000, "under_construction": False, "owner": "alice",
     "group": "supergroup", "permission": "1777", "sticky": True},
    {"path": "/data/a.txt", "type": "file", "length": 123456, "replication": 3,
     "block_size": 65536, "modified": 1_700_000_000_000, "under_construction": False,
     "owner": "bob", "group": "staff", "permission": "644", "sticky": False},
]


def test_ls_json_shape():
    parsed = json.loads(fmt.to_json(ENTRIES))
    assert parsed == ENTRIES
    for entry in parsed:
        assert {"path", "type", "length", "replication", "modified"} <= set(entry)


def test_ls_table():
    lines = fmt.ls_lines(ENTRIES, header=True)
    assert lines[0] == "Found 2 items"
    # HDFS's long format: mode, replicas ("-" for a directory), owner, group, length.
    assert lines[1].startswith("drwxrwxrwt   - alice supergroup      0 ")
    assert lines[1].endswith(" /data")
    assert lines[2].startswith("-rw-r--r--   3 bob   staff      123456 ")
    assert lines[2].endswith(" /data/a.txt")
    assert fmt.ls_lines([], header=True) == ["Found 0 items"]


@pytest.mark.parametrize("name, shown", [
    ("plain name", "plain name"), ("new\nline", "new\\nline"), ("tab\there", "tab\\there"),
    ("back\\slash", "back\\\\slash"), ("bell\x07", "bell\\a"), ("ctl\x01", "ctl\\001"),
    ("del\x7f", "del\\177"), ("ü ß", "ü ß"), ("sep\u2028", "sep\\342\\200\\250"),
])
def test_names_are_escaped_as_gnu_ls_b(name, shown):
    assert fmt.escape_name(name) == shown


def test_ls_escapes_names_and_marks_open_files():
    entry = dict(ENTRIES[1], path="/data/a\nb", under_construction=True)
    [line] = fmt.ls_lines([entry], header=False)
    assert "\n" not in line
    assert line.endswith(" /data/a\\nb  (under construction)")


def test_status_table_and_json():
    nodes = [
        {"name": "nn1", "kind": "namenode", "role": "active", "address": "127.0.0.1:4000",
         "pid": 123, "state": "running"},
        {"name": "dn1", "kind": "datanode", "role": "datanode", "address": "127.0.0.1:4001",
         "pid": None, "state": "stopped"},
    ]
    lines = fmt.status_lines(nodes)
    assert lines[0].split() == ["NAME", "KIND", "ROLE", "ADDRESS", "PID", "STATE"]
    assert lines[1].split() == ["nn1", "namenode", "active", "127.0.0.1:4000", "123", "running"]
    assert lines[2].split() == ["dn1", "datanode", "datanode", "127.0.0.1:4001", "-", "stopped"]
    assert json.loads(fmt.to_json({"nodes": nodes}))["nodes"][1]["pid"] is None


def test_stat_du_df_text():
    info = dict(ENTRIES[1], blocks=[
        {"id": 7, "genstamp": 1, "offset": 0, "length": 65536, "locations": ["dn1", "dn2"],
         "corrupt": False},
        {"id": 8, "genstamp": 1, "offset": 65536, "length": 57920, "locations": [],
         "corrupt": False}])
    lines = fmt.stat_lines(info)
    assert "block size: 64KiB" in lines and "blocks: 2" in lines
    assert lines[-2].endswith("dn1, dn2") and lines[-1].endswith("no live replica")
    assert fmt.du_line({"path": "/d", "length": 10, "space_consumed": 30}) == "10  30  /d"
    df = fmt.df_lines({"capacity": 1000, "used": 250, "remaining": 750}, "minidfs://h:1")
    assert df[0].split() == ["Filesystem", "Size", "Used", "Available", "Use%"]
    assert df[1].split() == ["minidfs://h:1", "1000", "250", "750", "25%"]
