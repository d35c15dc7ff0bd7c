"""cp head touchz test getmerge checksum find and -h sizes against a real cluster
(3 DataNodes, 64 KiB blocks): results byte for byte, error lines, exit statuses."""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner

from minidfs.cli.main import cli
from shell_checks import ok, one_error

BLOCK = 64 * 1024


def payload(size, seed=0):
    return bytes((i * 13 + seed) % 251 for i in range(size))


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), *args], input=input,
                             prog_name="minidfs")
    return run


def test_cp_file_and_tree(sh, fs):
    data = payload(3 * BLOCK + 7)
    fs.put(io.BytesIO(data), "/cp/src/a.bin")
    fs.put(io.BytesIO(b"small"), "/cp/src/sub/b.txt")
    fs.mkdir("/cp/src/empty")
    ok(sh("cp", "/cp/src/a.bin", "/cp/a2.bin"))
    assert fs.cat("/cp/a2.bin") == data
    ok(sh("mkdir", "/cp/into"))
    ok(sh("cp", "/cp/src/a.bin", "/cp/into"))               # into a directory
    assert fs.cat("/cp/into/a.bin") == data
    ok(sh("cp", "/cp/src", "/cp/tree"))                      # a whole tree, new name
    assert fs.cat("/cp/tree/a.bin") == data and fs.cat("/cp/tree/sub/b.txt") == b"small"
    assert fs.info("/cp/tree/empty")["type"] == "directory"
    # Existing destination: refused without -f (nothing changed), replaced with it.
    fs.put(io.BytesIO(b"old"), "/cp/b.txt")
    line = one_error(sh("cp", "/cp/src/sub/b.txt", "/cp/b.txt"), "cp")
    assert "file exists" in line and fs.cat("/cp/b.txt") == b"old"
    ok(sh("cp", "-f", "/cp/src/sub/b.txt", "/cp/b.txt"))
    assert fs.cat("/cp/b.txt") == b"small"
    # Several sources into a directory.
    ok(sh("mkdir", "/cp/many"))
    ok(sh("cp", "/cp/a2.bin", "/cp/b.txt", "/cp/many"))
    assert sorted(e["path"] for e in fs.ls("/cp/many")) == ["/cp/many/a2.bin", "/cp/many/b.txt"]


def test_cp_refusals(sh, fs):
    fs.put(io.BytesIO(b"x"), "/cpr/f")
    fs.mkdir("/cpr/d/inner", parents=True)
    assert "same" in one_error(sh("cp", "/cpr/f", "/cpr/f"), "cp")
    assert "inside the source" in one_error(sh("cp", "/cpr/d", "/cpr/d/inner"), "cp")
    assert "inside the source" in one_error(sh("cp", "/cpr/d", "/cpr/d"), "cp")
    assert "no such file" in one_error(sh("cp", "/cpr/nope", "/cpr/g"), "cp")
    assert "not a directory" in one_error(sh("cp", "/cpr/f", "/cpr/d", "/cpr/f2"), "cp")
    assert sorted(e["path"] for e in fs.ls("/cpr", recursive=True)) == [
        "/cpr/d", "/cpr/d/inner", "/cpr/f"]
    assert sh("cp", "/cpr/f").exit_code == 2


def test_head_and_touchz(sh, fs):
    data = payload(5000)
    fs.put(io.BytesIO(data), "/ht/f")
    assert ok(sh("head", "/ht/f")).stdout_bytes == data[:1024]
    fs.put(io.BytesIO(b"tiny"), "/ht/tiny")
    assert ok(sh("head", "/ht/tiny")).stdout_bytes == b"tiny"
    assert "is a directory" in one_error(sh("head", "/ht"), "head")
    assert "no such file" in one_error(sh("head", "/ht/nope"), "head")
    ok(sh("touchz", "/ht/empty"))
    assert fs.info("/ht/empty")["length"] == 0
    ok(sh("touchz", "/ht/empty"))                             # an empty file is fine
    assert "not a zero-length file" in one_error(sh("touchz", "/ht/f"), "touchz")
    assert fs.cat("/ht/f") == data
    assert "is a directory" in one_error(sh("touchz", "/ht"), "touchz")


@pytest.mark.parametrize("flag,path,status", [
    ("-e", "/tt/f", 0), ("-e", "/tt/nope", 1), ("-d", "/tt", 0), ("-d", "/tt/f", 1),
    ("-f", "/tt/f", 0), ("-f", "/tt", 1), ("-z", "/tt/empty", 0), ("-z", "/tt/f", 1),
    ("-f", "/tt/nope", 1),
])
def test_test_exit_statuses(sh, fs, flag, path, status):
    if not fs.exists("/tt/f"):
        fs.put(io.BytesIO(b"data"), "/tt/f")
        fs.open("/tt/empty", "wb").close()
    result = sh("test", flag, path)
    assert (result.exit_code, result.output) == (status, "")


def test_test_usage_errors(sh):
    for args in (["test", "-e", "-d", "/tt"], ["test", "/tt"], ["test", "-e"], ["test", "-x", "/"]):
        assert sh(*args).exit_code == 2, args


def test_getmerge(sh, fs, tmp_path):
    parts = {f"/gm/part-{i:05d}": payload(BLOCK + i, seed=i) for i in (2, 0, 1)}
    for path, data in parts.items():
        fs.put(io.BytesIO(data), path)
    fs.mkdir("/gm/subdir")
    out = tmp_path / "merged"
    ok(sh("getmerge", "/gm", str(out)))
    assert out.read_bytes() == b"".join(parts[p] for p in sorted(parts))
    ok(sh("getmerge", "-nl", "/gm", str(out)))
    assert out.read_bytes() == b"".join(parts[p] + b"\n" for p in sorted(parts))
    assert "no such file" in one_error(sh("getmerge", "/gm-nope", str(out)), "getmerge")
    assert "is a directory" in one_error(sh("getmerge", "/gm", str(tmp_path)), "getmerge")
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]   # no partial file left


def test_checksum(sh, fs):
    data = payload(3 * BLOCK + 99)
    fs.put(io.BytesIO(data), "/ck/a")
    fs.put(io.BytesIO(data), "/ck/b")
    fs.put(io.BytesIO(data[:-1] + b"?"), "/ck/c")
    fs.put(io.BytesIO(data), "/ck/big-blocks", block_size=2 * BLOCK)
    results = json.loads(ok(sh("checksum", "--json", "/ck/a", "/ck/b", "/ck/c",
                               "/ck/big-blocks")).stdout)
    a, b, c, big = (r["checksum"] for r in results)
    assert a == b and a != c and a != big
    assert results[0]["algorithm"] == "MD5-of-MD5-of-65536XXH3_64" and results[0]["blocks"] == 4
    line = ok(sh("checksum", "/ck/a")).stdout.strip()
    assert line.split("\t") == ["/ck/a", "MD5-of-MD5-of-65536XXH3_64", a]
    fs.open("/ck/empty", "wb").close()
    assert json.loads(ok(sh("checksum", "--json", "/ck/empty")).stdout)[0]["blocks"] == 0
    assert "is a directory" in one_error(sh("checksum", "/ck"), "checksum")
    assert "no such file" in one_error(sh("checksum", "/ck/nope"), "checksum")


def test_find(sh, fs):
    for path in ("/fd/a.txt", "/fd/b.log", "/fd/x/c.txt", "/fd/x/y/d.txt"):
        fs.put(io.BytesIO(b"."), path)
    fs.mkdir("/fd/x/z.txt")
    found = ok(sh("find", "/fd", "-name", "*.txt")).stdout.split()
    assert sorted(found) == ["/fd/a.txt", "/fd/x/c.txt", "/fd/x/y/d.txt", "/fd/x/z.txt"]
    files = ok(sh("find", "/fd", "-name", "*.txt", "-type", "f")).stdout.split()
    assert sorted(files) == ["/fd/a.txt", "/fd/x/c.txt", "/fd/x/y/d.txt"]
    dirs = ok(sh("find", "/fd", "-type", "d")).stdout.split()
    assert sorted(dirs) == ["/fd", "/fd/x", "/fd/x/y", "/fd/x/z.txt"]
    entries = json.loads(ok(sh("find", "/fd", "-name", "b.*", "--json")).stdout)
    assert [(e["path"], e["type"]) for e in entries] == [("/fd/b.log", "file")]
    assert ok(sh("find", "/fd", "-name", "nothing*")).stdout == ""
    assert "no such file" in one_error(sh("find", "/fd-nope", "-name", "*"), "find")
    assert sh("find", "/fd", "-type", "x").exit_code == 2


def test_human_sizes(sh, fs):
    fs.put(io.BytesIO(b"h" * (BLOCK + BLOCK // 2)), "/hs/f")
    assert ok(sh("du", "-s", "-h", "/hs")).stdout.split() == ["96", "K", "288", "K", "/hs"]
    assert ok(sh("du", "-s", "/hs")).stdout.split() == [
        str(BLOCK * 3 // 2), str(BLOCK * 9 // 2), "/hs"]
    assert " 96 K " in ok(sh("ls", "-h", "/hs")).stdout
    header, row = ok(sh("df", "-h")).stdout.splitlines()
    assert header.split()[0] == "Filesystem" and any(p in row for p in (" G", " T", " M"))


def test_balancer_commands(sh, cluster, wait_until):
    # Three DataNodes holding every block: balanced already, nothing to move.
    done = ok(sh("admin", "balance"))
    assert "The cluster is balanced" in done.stdout and "moved 0 blocks" in done.stdout
    assert "at least 1024" in one_error(sh("admin", "set-bandwidth", "100"), "admin set-bandwidth")
    said = ok(sh("admin", "set-bandwidth", "8MiB")).stdout.strip()
    assert said == "Balancer bandwidth set to 8MiB/s"
    wait_until(lambda: all("bandwidth set to 8388608 bytes/s" in cluster.log(f"dn{i}")
                           for i in (1, 2, 3)), 15, "every DataNode took the new bandwidth")
    for args in (["admin", "balance"], ["admin", "set-bandwidth", "1MiB"]):
        line = one_error(sh("--user", "bob", *args), " ".join(args[:2]))
        assert "permission denied: user=bob is not a superuser" in line
