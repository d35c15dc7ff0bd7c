"""minidfs.Client against a real local cluster: byte-exact round trips through
put/get/cat and open(), seeking, text mode, the namespace calls, and lease
renewal keeping a slow writer's file alive past the lease hard limit."""
from __future__ import annotations

import time

import pytest

from minidfs import errors

BLOCK = 64 * 1024
SIZES = [0, 1, 65535, 65536, 65537, 5 * BLOCK + 123]
# Short leases so that a writer that did not renew would lose its file within the test.
CLUSTER_OPTIONS = {"lease_soft_limit_s": 1.0, "lease_hard_limit_s": 2.0}


def payload(size, seed=0):
    return bytes((i * 17 + seed) % 253 for i in range(size))


@pytest.mark.parametrize("size", SIZES)
def test_put_get_cat(fs, tmp_path, size):
    data = payload(size, size)
    (tmp_path / "in").write_bytes(data)
    assert fs.put(tmp_path / "in", f"/api/p{size}") == f"/api/p{size}"
    assert fs.cat(f"/api/p{size}") == data
    assert fs.get(f"/api/p{size}", tmp_path / "out") == str(tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert fs.stat(f"/api/p{size}")["length"] == size


@pytest.mark.parametrize("size", SIZES)
def test_open_write_read(fs, size):
    data = payload(size, 3)
    with fs.open(f"/api/o{size}", "wb") as f:
        for start in range(0, size, 10_000):
            f.write(data[start:start + 10_000])
    with fs.open(f"/api/o{size}", "rb") as f:
        assert f.read() == data


def test_seek_and_partial_reads(fs):
    data = payload(3 * BLOCK + 5, 9)
    with fs.open("/api/seek", "wb") as f:
        f.write(data)
    with fs.open("/api/seek", "rb") as f:
        assert f.read(100) == data[:100]
        f.seek(BLOCK - 10)
        assert f.read(20) == data[BLOCK - 10:BLOCK + 10]
        f.seek(-7, 2)
        assert f.read() == data[-7:]
        f.seek(0)
        assert f.tell() == 0 and f.read(1) == data[:1]


def test_text_mode_and_write_options(fs):
    with fs.open("/api/text.txt", "w", replication=2, block_size=BLOCK) as f:
        f.write("héllo\nwörld\n")
    with fs.open("/api/text.txt", "r") as f:
        assert f.readlines() == ["héllo\n", "wörld\n"]
    info = fs.stat("/api/text.txt")
    assert (info["replication"], info["block_size"]) == (2, BLOCK)
    with pytest.raises(errors.FileExists):
        fs.open("/api/text.txt", "wb")
    with fs.open("/api/text.txt", "wb", overwrite=True) as f:
        f.write(b"new")
    assert fs.cat("/api/text.txt") == b"new"


def test_namespace_calls(fs):
    fs.mkdir("/ns/a/b", parents=True)
    assert fs.exists("/ns/a/b") and not fs.exists("/ns/zzz")
    fs.put(__file__, "/ns/a/b/t.py")
    with pytest.raises(errors.FileExists):
        fs.put(__file__, "/ns/a/b/t.py")
    assert [e["path"] for e in fs.ls("/ns", recursive=True)] == \
        ["/ns/a", "/ns/a/b", "/ns/a/b/t.py"]
    assert fs.ls("/ns/a/b/t.py")[0]["type"] == "file"
    fs.rename("/ns/a/b/t.py", "/ns/t.py")
    assert fs.info("/ns/t.py")["type"] == "file"
    with pytest.raises(errors.DirectoryNotEmpty):
        fs.delete("/ns/a")
    assert fs.rm("/ns/a", recursive=True)
    usage = fs.du("/ns")
    assert usage["length"] == fs.info("/ns/t.py")["length"]
    assert usage["space_consumed"] == 3 * usage["length"]
    assert fs.setrep("/ns", 1) == 1
    assert fs.info("/ns/t.py")["replication"] == 1
    stats = fs.df()
    assert stats["live_datanodes"] == 3 and stats["capacity"] >= stats["remaining"] > 0
    with pytest.raises(errors.FileNotFound):
        fs.stat("/ns/none")


def test_lease_renewed_while_writing_slowly(fs):
    # Open longer than the hard limit: without renewal the NameNode would recover
    # (close) the file under us and the writer's next block or close would fail.
    data = payload(2 * BLOCK + 10, 5)
    with fs.open("/api/slow", "wb") as f:
        f.write(data[:BLOCK + 1])
        f.flush()
        time.sleep(3.5)
        f.write(data[BLOCK + 1:])
    assert fs.cat("/api/slow") == data


def test_client_names_are_unique_and_close_is_idempotent(cluster):
    a, b = cluster.client(), cluster.client()
    assert a.client_name != b.client_name
    f = a.open("/api/left-open", "wb")
    f.write(b"closed by Client.close")
    a.close()
    a.close()
    assert b.cat("/api/left-open") == b"closed by Client.close"
    b.close()
