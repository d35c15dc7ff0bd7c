"""Append, hflush / hsync and the one-writer rule against a real local cluster
(docs/append.md): appends byte-exact at every kind of boundary, a reader that sees
exactly the flushed bytes of a file still being written, a second writer refused,
`admin recover-lease` closing a file whose writer went silent."""
from __future__ import annotations

import pytest

from minidfs import errors

BLOCK = 64 * 1024     # = the 64 KiB chunk: appends land inside one or on a boundary
CLUSTER_OPTIONS = {"block_size": BLOCK, "lease_soft_limit_s": 2.0, "lease_hard_limit_s": 60.0}


def payload(size: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(size))


@pytest.mark.parametrize("first,more", [(0, 10), (10, 20), (BLOCK - 1, 2), (BLOCK, 7),
                                        (BLOCK + 5, 3 * BLOCK + 11), (100, 0)])
def test_append_is_byte_exact(fs, first, more):
    path = f"/append/exact-{first}-{more}"
    a, b = payload(first, 1), payload(more, 2)
    with fs.open(path, "wb") as f:
        f.write(a)
    with fs.open(path, "ab") as f:
        f.write(b)
    assert fs.cat(path) == a + b
    assert fs.stat(path)["length"] == len(a) + len(b)
    with fs.open(path, "ab") as f:     # and again, on top of the first append
        f.write(b"tail")
    assert fs.cat(path) == a + b + b"tail"


def test_append_creates_a_missing_file_and_many_small_appends(fs):
    path = "/append/log.txt"
    expected = b""
    for i in range(12):
        line = f"line {i}\n".encode()
        with fs.open(path, "ab") as f:
            f.write(line)
        expected += line
    assert fs.cat(path) == expected


def test_hflush_makes_exactly_the_flushed_bytes_visible(cluster, fs):
    path = "/append/flushed.bin"
    data = payload(3 * BLOCK + 1000, 3)
    with cluster.client() as reader:
        with fs.open(path, "wb") as f:
            start = 0
            for end in (10, 70_000, BLOCK * 2, BLOCK * 2 + 1, len(data) - 5):
                f.write(data[start:end])
                start = end
                f.flush()
                assert reader.cat(path) == data[:end]
                assert reader.stat(path)["length"] == end
            f.write(data[len(data) - 5:])
            f.sync()                      # hsync: flushed and on disk
            assert reader.cat(path) == data
    assert fs.cat(path) == data
    assert not fs.info(path)["under_construction"]


def test_text_mode_flush_of_lines(cluster, fs):
    path = "/append/lines.txt"
    with cluster.client() as reader:
        with fs.open(path, "w") as f:
            f.write("one\n")
            f.flush()
            assert reader.cat(path) == b"one\n"
        with fs.open(path, "a") as f:
            f.write("two\n")
            f.flush()
            assert reader.cat(path) == b"one\ntwo\n"
    assert fs.cat(path) == b"one\ntwo\n"


def test_second_writer_is_refused(cluster, fs):
    path = "/append/one-writer.txt"
    with fs.open(path, "wb") as f:
        f.write(b"first")
    with cluster.client() as other:
        with fs.open(path, "ab") as f:
            f.write(b" second")
            f.flush()
            with pytest.raises(errors.AlreadyBeingCreatedError, match="another client"):
                other.open(path, "ab")
            with pytest.raises(errors.LeaseError):
                other.open(path, "wb", overwrite=True)
        with other.open(path, "ab") as g:   # closed again: the next writer may come
            g.write(b" third")
    assert fs.cat(path) == b"first second third"


def test_append_to_a_directory_is_refused(fs):
    fs.mkdir("/append/dir")
    with pytest.raises(errors.IsADirectory):
        fs.open("/append/dir", "ab")


def test_recover_lease_closes_a_silent_writers_file_with_its_flushed_bytes(cluster, fs):
    path = "/append/abandoned.bin"
    data = payload(BLOCK + 777, 5)
    writer = cluster.client()
    f = writer.open(path, "wb")
    f.write(data)
    f.flush()
    # The writer goes silent without closing (its process would have died): its
    # lease renewer stops, its streams are dropped.
    writer._lease.close()
    with cluster.client() as admin:
        deadline_closed = _wait(lambda: admin.recover_lease(path), 60.0)
        assert deadline_closed
        assert admin.cat(path) == data
        assert not admin.info(path)["under_construction"]
        with admin.open(path, "ab") as g:   # and it can be appended to again
            g.write(b"!")
        assert admin.cat(path) == data + b"!"
    f.raw._fail()


def _wait(condition, timeout_s: float):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


def test_an_appender_that_died_before_writing_loses_nothing(cluster, fs):
    from minidfs.rpc import client_namenode_pb2 as pb

    path = "/append/ghost.bin"
    data = payload(BLOCK + 4321, 7)
    with fs.open(path, "wb") as f:
        f.write(data)
    # Append reopens the last block (new genstamp) and the appender vanishes before
    # its pipeline ever reaches the DataNodes: their replicas keep the old genstamp.
    fs._nn.call("Append", pb.AppendRequest(path=path, client_name="ghost-appender"))
    assert fs.info(path)["under_construction"]
    assert _wait(lambda: fs.recover_lease(path), 60.0)
    assert fs.cat(path) == data
    with fs.open(path, "ab") as f:
        f.write(b"after")
    assert fs.cat(path) == data + b"after"
