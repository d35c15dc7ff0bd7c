"""The `minidfs` file commands against a real local cluster (3 DataNodes, 64 KiB
blocks): byte-exact round trips, JSON shapes, error lines and exit statuses."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from minidfs.cli.main import cli
from shell_checks import ok, one_error

BLOCK = 64 * 1024
SIZES = [0, 1, 65535, 65536, 65537, 5 * BLOCK + 123]


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), *args], input=input,
                             prog_name="minidfs")
    return run


def payload(size, seed=0):
    return bytes((i * 31 + seed) % 251 for i in range(size))


@pytest.mark.parametrize("size", SIZES)
def test_put_get_cat_round_trip(sh, tmp_path, size):
    data = payload(size, seed=size)
    local = tmp_path / "in.bin"
    local.write_bytes(data)
    ok(sh("put", str(local), f"/rt/f{size}"))
    ok(sh("get", f"/rt/f{size}", str(tmp_path / "out.bin")))
    assert (tmp_path / "out.bin").read_bytes() == data
    assert ok(sh("cat", f"/rt/f{size}")).stdout_bytes == data
    entry = json.loads(ok(sh("ls", "--json", f"/rt/f{size}")).stdout)
    assert [e["length"] for e in entry] == [size]


def test_stat_json_every_block_on_three_datanodes(sh, tmp_path, wait_until):
    size = 5 * BLOCK + 123
    (tmp_path / "big").write_bytes(payload(size, 7))
    ok(sh("put", str(tmp_path / "big"), "/stat/big"))

    def fully_replicated():
        info = json.loads(ok(sh("stat", "--json", "/stat/big")).stdout)
        return info if all(len(b["locations"]) == 3 for b in info["blocks"]) else None
    info = wait_until(fully_replicated, what="3 replicas of every block")
    assert {k: info[k] for k in ("path", "type", "length", "replication", "block_size")} == {
        "path": "/stat/big", "type": "file", "length": size, "replication": 3,
        "block_size": BLOCK}
    assert len(info["blocks"]) == 6
    assert [b["length"] for b in info["blocks"]] == [BLOCK] * 5 + [123]
    for block in info["blocks"]:
        assert set(block) >= {"id", "length", "locations"}
        assert len(set(block["locations"])) == 3
        assert set(block["locations"]) <= {"dn1", "dn2", "dn3"}


def test_ls_recursive_json(sh, tmp_path):
    (tmp_path / "x").write_bytes(b"hello")
    ok(sh("mkdir", "-p", "/tree/a/b"))
    ok(sh("put", str(tmp_path / "x"), "/tree/a/b/x"))
    ok(sh("put", str(tmp_path / "x"), "/tree/top"))
    entries = json.loads(ok(sh("ls", "-R", "--json", "/tree")).stdout)
    assert [e["path"] for e in entries] == ["/tree/a", "/tree/a/b", "/tree/a/b/x", "/tree/top"]
    for e in entries:
        assert set(e) >= {"path", "type", "length", "replication", "modified", "block_size"}
        assert isinstance(e["modified"], int) and e["modified"] > 1_600_000_000_000
    assert [e["type"] for e in entries] == ["directory", "directory", "file", "file"]
    assert entries[2]["length"] == 5 and entries[2]["replication"] == 3
    table = ok(sh("ls", "/tree")).stdout.splitlines()
    assert table[0] == "Found 2 items" and table[1].endswith("/tree/a")


def test_put_onto_existing_file(sh, tmp_path):
    (tmp_path / "old").write_bytes(b"old contents")
    (tmp_path / "new").write_bytes(b"new")
    ok(sh("put", str(tmp_path / "old"), "/exist/f"))
    line = one_error(sh("put", str(tmp_path / "new"), "/exist/f"), "put")
    assert "/exist/f" in line and "exist" in line.split("/exist/f", 1)[1]
    assert ok(sh("cat", "/exist/f")).stdout_bytes == b"old contents"
    ok(sh("put", "-f", str(tmp_path / "new"), "/exist/f"))
    assert ok(sh("cat", "/exist/f")).stdout_bytes == b"new"


def test_put_from_stdin_and_into_directory(sh, tmp_path):
    ok(sh("put", "-", "/stdin/s.txt", input=b"from stdin\n" * 1000))
    assert ok(sh("cat", "/stdin/s.txt")).stdout_bytes == b"from stdin\n" * 1000
    (tmp_path / "named.txt").write_bytes(b"abc")
    ok(sh("mkdir", "/into"))
    ok(sh("put", str(tmp_path / "named.txt"), "/into"))
    assert ok(sh("cat", "/into/named.txt")).stdout_bytes == b"abc"


def test_put_options(sh, tmp_path):
    (tmp_path / "f").write_bytes(payload(3 * BLOCK))
    ok(sh("put", "--replication", "2", "--block-size", "64KiB", str(tmp_path / "f"), "/opts/f"))
    info = json.loads(ok(sh("stat", "--json", "/opts/f")).stdout)
    assert (info["replication"], info["block_size"], len(info["blocks"])) == (2, BLOCK, 3)


def test_get_refuses_to_overwrite(sh, tmp_path):
    ok(sh("put", "-", "/getf", input=b"remote"))
    (tmp_path / "there").write_bytes(b"local")
    one_error(sh("get", "/getf", str(tmp_path / "there")), "get")
    assert (tmp_path / "there").read_bytes() == b"local"
    ok(sh("get", "-f", "/getf", str(tmp_path / "there")))
    assert (tmp_path / "there").read_bytes() == b"remote"
    ok(sh("get", "/getf", str(tmp_path)))
    assert (tmp_path / "getf").read_bytes() == b"remote"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".minidfs-partial")]


def test_mkdir_rm_mv(sh):
    one_error(sh("mkdir", "/m/a/b"), "mkdir")
    ok(sh("mkdir", "-p", "/m/a/b"))
    ok(sh("mkdir", "-p", "/m/a/b"))
    ok(sh("put", "-", "/m/a/b/f", input=b"x"))
    one_error(sh("rm", "/m/a"), "rm")
    ok(sh("mv", "/m/a/b/f", "/m/g"))
    assert ok(sh("cat", "/m/g")).stdout_bytes == b"x"
    one_error(sh("cat", "/m/a/b/f"), "cat")
    ok(sh("mkdir", "/m/dir"))
    ok(sh("mv", "/m/g", "/m/dir"))
    assert ok(sh("cat", "/m/dir/g")).stdout_bytes == b"x"
    assert "Deleted /m/a" in ok(sh("rm", "-r", "/m/a")).stdout
    one_error(sh("ls", "/m/a"), "ls")
    ok(sh("rm", "/m/dir/g"))
    one_error(sh("rm", "/m/dir/g"), "rm")


def test_du_df_setrep(sh, tmp_path, wait_until):
    ok(sh("put", "-", "/du/a", input=b"a" * 1000))
    ok(sh("put", "-", "/du/b", input=b"b" * 500))
    assert ok(sh("du", "/du")).stdout.split() == ["1500", "4500", "/du"]
    usage = json.loads(ok(sh("du", "--json", "/du")).stdout)
    assert (usage["length"], usage["space_consumed"]) == (1500, 4500)
    stats = json.loads(ok(sh("df", "--json")).stdout)
    assert stats["capacity"] > 0 and stats["remaining"] <= stats["capacity"]
    assert stats["live_datanodes"] == 3
    assert ok(sh("df")).stdout.splitlines()[0].split()[0] == "Filesystem"
    assert "Replication 2 set: /du/a" in ok(sh("setrep", "2", "/du/a")).stdout
    assert json.loads(ok(sh("stat", "--json", "/du/a")).stdout)["replication"] == 2
    wait_until(lambda: json.loads(ok(sh("du", "--json", "/du")).stdout)["space_consumed"] == 3500,
               what="space consumed after setrep")
    wait_until(lambda: all(len(b["locations"]) == 2 for b in
                           json.loads(ok(sh("stat", "--json", "/du/a")).stdout)["blocks"]),
               what="the extra replica trimmed")


@pytest.mark.parametrize("bad", ["/a/../b", "/a/./b", "a//b", "/a//b", "/" + "x" * 300])
def test_bad_paths(sh, bad):
    for args in (["ls", bad], ["mkdir", "-p", bad], ["put", "-", bad], ["stat", "--json", bad]):
        line = one_error(sh(*args, input=b""), args[0])
        assert bad[:20] in line


def test_real_process_exit_statuses(cluster):
    def run(*args, stdin=b""):
        return subprocess.run([sys.executable, "-m", "minidfs.cli.main",
                               "--conf", str(cluster.conf_path), *args],
                              input=stdin, capture_output=True, timeout=60)
    done = run("put", "-", "/proc/x", stdin=b"through a pipe")
    assert done.returncode == 0, done.stderr
    assert run("cat", "/proc/x").stdout == b"through a pipe"
    missing = run("cat", "/proc/nope")
    assert missing.returncode == 1
    assert missing.stderr.decode().count("\n") == 1
    assert missing.stderr.startswith(b"minidfs: cat: /proc/nope")
    assert run("setrep", "0", "/proc/x").returncode == 2
