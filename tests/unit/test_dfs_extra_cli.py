"""The added shell commands without a cluster (cp head touchz test getmerge checksum
find, admin balance / set-bandwidth): usage errors exit 2, a missing cluster is one
line and exit 1; and the -h size format."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from minidfs.cli.format import df_lines, du_line, human_size
from minidfs.cli.main import cli


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDFS_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), prog_name="minidfs")


@pytest.mark.parametrize("args", [
    ["cp", "/a"], ["head"], ["touchz"], ["getmerge", "/a"], ["checksum"],
    ["test", "-e", "-d", "/a"], ["test", "-e", "-z", "/a"], ["test", "/a"], ["test", "-e"],
    ["test", "-q", "/a"], ["find", "/", "-type", "l"], ["find", "/", "-name"],
    ["admin", "balance", "--threshold", "0"], ["admin", "balance", "--threshold", "101"],
    ["admin", "balance", "--threshold", "ten"], ["admin", "set-bandwidth"],
    ["admin", "set-bandwidth", "12X"], ["admin", "set-bandwidth", "0"],
])
def test_usage_errors_exit_2(run, args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [
    ["cp", "/a", "/b"], ["head", "/a"], ["touchz", "/a"], ["test", "-e", "/a"],
    ["getmerge", "/a", "out"], ["checksum", "/a"], ["find", "/", "-name", "*.txt"],
    ["admin", "balance"], ["admin", "set-bandwidth", "1MiB"],
    ["du", "-s", "-h", "/"], ["df", "-h"], ["ls", "-h", "/"],
])
def test_missing_cluster_is_one_line_exit_1(run, args):
    result = run(*args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "cluster not reachable at" in lines[0], result.stderr
    command = " ".join(args[:2] if args[0] == "admin" else args[:1])
    assert lines[0].startswith(f"minidfs: {command}: ")


@pytest.mark.parametrize("size,text", [
    (0, "0"), (1023, "1023"), (1024, "1 K"), (1536, "1.5 K"), (65536, "64 K"),
    (3 * 1024 * 1024 // 2, "1.5 M"), (5 * 1024 ** 3, "5 G"), (1024 ** 4 + 1, "1.0 T"),
    (1024 ** 4, "1 T"),
])
def test_human_size(size, text):
    assert human_size(size) == text


def test_du_and_df_lines_human():
    assert du_line({"path": "/d", "length": 1536, "space_consumed": 4608}, human=True) == \
        "1.5 K  4.5 K  /d"
    header, row = df_lines({"capacity": 2 * 1024 ** 3, "used": 1024 ** 3, "remaining": 1024 ** 3},
                           "minidfs://x", human=True)
    assert row.split() == ["minidfs://x", "2", "G", "1", "G", "1", "G", "50%"]
