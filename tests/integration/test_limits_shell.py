"""The NameNode's fs-limits through the shell and the Python API on a real local
cluster (one DataNode; small directory and depth limits set in its own settings):
each refusal is one clear line naming the limit, and nothing is allocated."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from minidfs import errors
from minidfs.cli.main import cli
from minidfs.rpc import client_namenode_pb2 as pb
from shell_checks import ok, one_error

BLOCK = 64 * 1024
MAX_ITEMS = 10    # the root holds every test's top folder too
MAX_DEPTH = 5
CLUSTER_OPTIONS = {"datanodes": 1, "replication": 1, "block_size": BLOCK,
                   "max_directory_items": MAX_ITEMS, "max_path_depth": MAX_DEPTH}


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), *args], input=input,
                             prog_name="minidfs")
    return run


def counts(sh):
    report = json.loads(ok(sh("admin", "report", "--json")).stdout)
    return report["files"], report["blocks"]


@pytest.mark.parametrize("flag, says", [
    ("1", "/bs/x: block size 1B is below the minimum 64KiB (min_block_size_bytes) "
          "(did you mean 1MiB?)"),
    ("64", "/bs/x: block size 64B is below the minimum 64KiB (min_block_size_bytes) "
           "(did you mean 64MiB?)"),
    ("100000", "/bs/x: block size 100000B is not a multiple of the checksum chunk 64KiB "
               "(chunk_size_bytes); try 64KiB"),
    ("8GiB", "/bs/x: block size 8GiB is above the maximum 4GiB (max_block_size_bytes)"),
])
def test_put_with_a_bad_block_size_is_refused_before_anything_is_allocated(sh, tmp_path, flag, says):
    local = tmp_path / "r3m"
    local.write_bytes(os.urandom(3 * 1024 * 1024))
    before = counts(sh)
    line = one_error(sh("put", "--block-size", flag, str(local), "/bs/x"), "put")
    assert line == f"minidfs: put: {says}"
    assert counts(sh) == before
    one_error(sh("stat", "--json", "/bs/x"), "stat")


def test_the_python_api_and_the_namenode_refuse_bad_block_sizes(fs, sh, tmp_path):
    local = tmp_path / "f"
    local.write_bytes(b"x" * 1000)
    before = counts(sh)
    with pytest.raises(errors.InvalidArgument, match="min_block_size_bytes"):
        fs.put(str(local), "/api/x", block_size=64)
    with pytest.raises(errors.InvalidArgument, match="chunk_size_bytes"):
        fs.open("/api/y", "wb", block_size=100_000)
    # The NameNode is the authority: a request that skips the client's checks.
    for size, limit in ((1, "min_block_size_bytes"), (100_000, "chunk_size_bytes"),
                        (1 << 33, "max_block_size_bytes")):
        with pytest.raises(errors.InvalidArgument, match=limit):
            fs.namenode.call("Create", pb.CreateRequest(
                path="/api/raw", client_name="raw", block_size=size, create_parent=True))
    with pytest.raises(errors.InvalidArgument, match="max_replication"):
        fs.namenode.call("Create", pb.CreateRequest(
            path="/api/raw", client_name="raw", replication=513, create_parent=True))
    with pytest.raises(errors.InvalidArgument, match="max_string_field_bytes"):
        fs.namenode.call("Create", pb.CreateRequest(
            path="/api/raw", client_name="raw", client_node="n" * 10_000, create_parent=True))
    assert counts(sh) == before
    assert not fs.exists("/api")


def test_a_directory_filled_to_its_item_limit(fs, sh, tmp_path):
    local = tmp_path / "f"
    local.write_bytes(b"item")
    ok(sh("mkdir", "/full"))
    for i in range(MAX_ITEMS - 1):
        fs.put(str(local), f"/full/f{i}")
    ok(sh("mkdir", "/full/last"))                         # the item at the limit
    before = counts(sh)
    line = one_error(sh("put", str(local), "/full/more"), "put")
    assert line == (f"minidfs: put: /full: directory has {MAX_ITEMS} items, the maximum "
                    f"{MAX_ITEMS} (max_directory_items)")
    assert "max_directory_items" in one_error(sh("mkdir", "/full/sub"), "mkdir")
    ok(sh("put", str(local), "/elsewhere"))
    assert "max_directory_items" in one_error(sh("mv", "/elsewhere", "/full/"), "mv")
    with pytest.raises(errors.LimitExceeded):
        fs.put(str(local), "/full/api")
    assert counts(sh)[0] == before[0] + 1                # only /elsewhere
    assert len(fs.ls("/full")) == MAX_ITEMS
    ok(sh("put", "-f", str(local), "/full/f0"))           # an overwrite takes no room
    ok(sh("mv", "/full/f0", "/full/renamed"))             # nor a rename inside it


def test_a_path_at_the_depth_limit(sh):
    deepest = "/d1/d2/d3/d4/d5"
    ok(sh("mkdir", "-p", deepest))
    ok(sh("put", "-", "/d1/d2/d3/d4/file", input=b"at depth 5"))
    line = one_error(sh("mkdir", "-p", deepest + "/d6"), "mkdir")
    assert line == (f"minidfs: mkdir: {deepest}/d6: path is 6 levels deep, more than the "
                    f"maximum {MAX_DEPTH} (max_path_depth)")
    assert "max_path_depth" in one_error(sh("put", "-", deepest + "/f", input=b"x"), "put")


def test_names_ls_escapes_and_names_refused(fs, sh):
    with fs.open("/names/new\nline", "wb") as f:
        f.write(b"one")
    listing = ok(sh("ls", "/names")).stdout.splitlines()
    assert listing[0] == "Found 1 items" and len(listing) == 2
    assert listing[1].endswith(" /names/new\\nline")
    [entry] = json.loads(ok(sh("ls", "--json", "/names")).stdout)
    assert entry["path"] == "/names/new\nline"
    assert "':' is not allowed" in one_error(sh("put", "-", "/names/a:b", input=b""), "put")
    assert "reserved" in one_error(sh("mkdir", "/.reserved"), "mkdir")
    assert "reserved" in one_error(sh("put", "-", "/.reserved/x", input=b""), "put")


def test_mkdir_of_an_existing_directory_needs_p(sh):
    ok(sh("mkdir", "/twice"))
    assert one_error(sh("mkdir", "/twice"), "mkdir") == "minidfs: mkdir: /twice: file exists"
    ok(sh("mkdir", "-p", "/twice"))


def test_replication_above_the_live_datanodes_is_accepted_and_explained(sh):
    ok(sh("put", "--replication", "3", "-", "/wide", input=b"three copies wanted"))
    assert json.loads(ok(sh("stat", "--json", "/wide")).stdout)["replication"] == 3
    report = json.loads(sh("fsck", "/wide", "--json").stdout)
    assert report["under_replicated"] == 1
    assert report["notes"] == ["1 file(s) want more replicas (up to 3) than the 1 live "
                               "DataNode(s): their blocks stay under-replicated until more "
                               "DataNodes join"]
    assert "Note: 1 file(s) want more replicas" in sh("fsck", "/wide").stdout


def test_an_interrupted_put_is_shown_under_construction(cluster, fs, sh, wait_until):
    put = subprocess.Popen([sys.executable, "-m", "minidfs.cli.main", "--conf",
                            str(cluster.conf_path), "put", "-", "/uc/partial"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        put.stdin.write(b"x" * (6 * 1024 * 1024))     # past the copy and write buffers
        put.stdin.flush()
        wait_until(lambda: fs.exists("/uc/partial") and fs.stat("/uc/partial")["blocks"],
                   30.0, "the put to start writing")
    finally:
        put.send_signal(signal.SIGKILL)
        put.wait(timeout=30)
    assert json.loads(ok(sh("stat", "--json", "/uc/partial")).stdout)["under_construction"]
    [line] = [entry for entry in ok(sh("ls", "/uc")).stdout.splitlines() if "partial" in entry]
    assert line.endswith("/uc/partial  (under construction)")
    report = json.loads(sh("fsck", "/uc", "--json").stdout)
    [open_file] = report["open_file_details"]
    assert open_file["path"] == "/uc/partial" and open_file["client"].startswith("minidfs_")
    assert open_file["since"] > 0
    assert "Open for writing since " in ok(sh("fsck", "/uc")).stdout
