"""`minidfs append`, `tail [-f]` and `admin recover-lease` against a real local
cluster (docs/shell.md): byte-exact results, and one clear line with exit status 1
for an append to a directory or to a file another client is writing."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from minidfs.cli.main import cli
from shell_checks import ok, one_error

BLOCK = 64 * 1024
CLUSTER_OPTIONS = {"block_size": BLOCK, "lease_soft_limit_s": 2.0, "lease_hard_limit_s": 60.0}


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), *args], input=input,
                             prog_name="minidfs")
    return run


def payload(size, seed=0):
    return bytes((i * 13 + seed) % 249 for i in range(size))


def test_append_local_files_and_stdin(sh, tmp_path):
    a, b = payload(BLOCK + 100, 1), payload(300, 2)
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    ok(sh("append", str(tmp_path / "a"), "/sh/log"))         # creates it
    ok(sh("append", str(tmp_path / "b"), "/sh/log"))
    ok(sh("append", "-", "/sh/log", input=b"from stdin\n"))
    assert ok(sh("cat", "/sh/log")).stdout_bytes == a + b + b"from stdin\n"


def test_tail_prints_the_last_kilobyte(sh, tmp_path):
    data = payload(5000, 3)
    (tmp_path / "t").write_bytes(data)
    ok(sh("put", str(tmp_path / "t"), "/sh/t"))
    assert ok(sh("tail", "/sh/t")).stdout_bytes == data[-1024:]
    ok(sh("append", "-", "/sh/small", input=b"short"))
    assert ok(sh("tail", "/sh/small")).stdout_bytes == b"short"


def test_bad_appends_are_one_line_and_exit_1(cluster, sh, tmp_path):
    (tmp_path / "x").write_bytes(b"x")
    ok(sh("mkdir", "-p", "/sh/dir"))
    line = one_error(sh("append", str(tmp_path / "x"), "/sh/dir"), "append")
    assert "/sh/dir" in line and "directory" in line
    line = one_error(sh("append", str(tmp_path / "missing"), "/sh/y"), "append")
    assert "missing" in line
    line = one_error(sh("tail", "/sh/dir"), "tail")
    assert "directory" in line
    with cluster.client() as writer:
        with writer.open("/sh/busy", "wb") as f:
            f.write(b"busy")
            f.flush()
            line = one_error(sh("append", str(tmp_path / "x"), "/sh/busy"), "append")
            assert "/sh/busy" in line and "another client" in line
    assert ok(sh("cat", "/sh/busy")).stdout_bytes == b"busy"


def test_recover_lease_of_a_closed_file_and_a_missing_one(sh):
    ok(sh("append", "-", "/sh/closed", input=b"c"))
    assert "closed" in ok(sh("admin", "recover-lease", "/sh/closed")).stdout
    one_error(sh("admin", "recover-lease", "/sh/none"), "admin recover-lease")


def test_tail_f_follows_a_file_being_written(cluster, tmp_path, wait_until):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = open(tmp_path / "tail.out", "wb")
    with cluster.client() as writer:
        with writer.open("/sh/follow", "wb") as f:
            f.write(b"first\n")
            f.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "minidfs.cli.main", "--conf", str(cluster.conf_path),
                 "tail", "-f", "/sh/follow"], stdout=out, stderr=subprocess.PIPE, env=env)
            try:
                wait_until(lambda: (tmp_path / "tail.out").read_bytes() == b"first\n", 30.0,
                           "tail -f to print the first line")
                f.write(b"second\n")
                f.flush()
                wait_until(lambda: (tmp_path / "tail.out").read_bytes() == b"first\nsecond\n",
                           30.0, "tail -f to print the flushed line")
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                out.close()


def test_append_needs_write_permission(sh):
    ok(sh("append", "-", "/sh/owned", input=b"mine"))
    ok(sh("chmod", "644", "/sh/owned"))
    line = one_error(sh("--user", "alice", "append", "-", "/sh/owned", input=b"theirs"), "append")
    assert "/sh/owned" in line and "ermission denied" in line
    one_error(sh("--user", "alice", "admin", "recover-lease", "/sh/owned"), "admin recover-lease")
    assert ok(sh("cat", "/sh/owned")).stdout_bytes == b"mine"
