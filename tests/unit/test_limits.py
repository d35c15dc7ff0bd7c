"""The NameNode's fs-limits (namenode/limits.py): each exactly at its limit and one
past it, at the pure core; then through ClientOperations (a Namesystem in a tmp
folder, no processes) that a refused request allocates nothing."""
from __future__ import annotations

import pathlib

import pytest

from minidfs import config, errors, paths
from minidfs.config import Settings
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.datanode_ops import DatanodeOperations
from minidfs.namenode.limits import Limits, size_text
from minidfs.namenode.namespace import Namespace
from minidfs.namenode.namesystem import Namesystem

KiB = 1024
CHUNK = 64 * KiB


def run(ns: Namespace, records: list[dict]) -> None:
    for record in records:
        ns.apply(record)


def test_size_text_is_exact() -> None:
    assert (size_text(64), size_text(CHUNK), size_text(100_000)) == ("64B", "64KiB", "100000B")


def test_block_size_minimum_multiple_and_maximum() -> None:
    limits = Limits(Settings())
    assert limits.check_block_size(CHUNK, "/x") == CHUNK             # the minimum itself
    with pytest.raises(errors.InvalidArgument, match=r"^/x: block size 64B is below the minimum "
                       r"64KiB \(min_block_size_bytes\)$"):
        limits.check_block_size(64, "/x")
    with pytest.raises(errors.InvalidArgument, match=r"did you mean 64MiB\?"):
        limits.check_block_size(64, "--block-size", hint=True)
    with pytest.raises(errors.InvalidArgument, match="min_block_size_bytes"):
        limits.check_block_size(CHUNK - 1, "/x")
    with pytest.raises(errors.InvalidArgument, match=r"block size 100000B is not a multiple of "
                       r"the checksum chunk 64KiB \(chunk_size_bytes\); try 64KiB"):
        limits.check_block_size(100_000, "/x")
    with pytest.raises(errors.InvalidArgument, match="not a multiple"):
        limits.check_block_size(2 * CHUNK + 1, "/x")
    top = Settings().max_block_size_bytes
    assert limits.check_block_size(top, "/x") == top
    with pytest.raises(errors.InvalidArgument, match=r"above the maximum 4GiB \(max_block_size_bytes\)"):
        limits.check_block_size(top + CHUNK, "/x")


def test_block_size_limits_follow_the_settings() -> None:
    small = Limits(Settings(chunk_size_bytes=512, min_block_size_bytes=KiB, block_size_bytes=KiB))
    assert small.check_block_size(KiB, "/x") == KiB
    with pytest.raises(errors.InvalidArgument, match="below the minimum 1KiB"):
        small.check_block_size(512, "/x")


def test_replication() -> None:
    limits = Limits(Settings())
    assert limits.check_replication(512, "/x") == 512          # HDFS's dfs.replication.max
    with pytest.raises(errors.InvalidArgument, match=r"replication 513 is above the maximum 512 "
                       r"\(max_replication\)"):
        limits.check_replication(513, "/x")
    assert limits.check_replication(1, "/x") == 1
    with pytest.raises(errors.InvalidArgument, match="at least 1"):
        limits.check_replication(0, "/x")


def test_client_name() -> None:
    limits = Limits(Settings(max_client_name_chars=8))
    assert limits.check_client_name("c" * 8, "/x") == "c" * 8
    for bad in ("c" * 9, "", "a\nb"):
        with pytest.raises(errors.InvalidArgument, match="max_client_name_chars"):
            limits.check_client_name(bad, "/x")


def test_path_depth_and_reserved_prefix() -> None:
    limits = Limits(Settings(max_path_depth=3))
    assert limits.check_new_path("/a/b/c") == "/a/b/c"
    with pytest.raises(errors.InvalidPath, match=r"^/a/b/c/d: path is 4 levels deep, more than "
                       r"the maximum 3 \(max_path_depth\)$"):
        limits.check_new_path("/a/b/c/d")
    for reserved in ("/.reserved", "/.reserved/x"):
        with pytest.raises(errors.InvalidPath, match="/.reserved is reserved"):
            limits.check_new_path(reserved)
    assert limits.check_new_path("/.reservedx") == "/.reservedx"
    assert limits.check_new_path("/a/.reserved") == "/a/.reserved"


def test_colon_in_a_name_is_refused() -> None:
    with pytest.raises(errors.InvalidPath, match="':' is not allowed"):
        paths.validate("/a/b:c")
    assert paths.validate("/a/b\nc\td") == "/a/b\nc\td"     # legal; the shell escapes it


def test_directory_items() -> None:
    limits = Limits(Settings(max_directory_items=3))
    ns = Namespace()
    for name in ("a", "b"):
        run(ns, ns.mkdirs(f"/d/{name}", parents=True, now_ms=1))
    limits.check_room(ns, "/d/c")                     # the third item: at the limit
    run(ns, ns.create("/d/c", 1, CHUNK, "cl", False, True, 1))
    with pytest.raises(errors.LimitExceeded, match=r"^/d: directory has 3 items, the maximum 3 "
                       r"\(max_directory_items\)$"):
        limits.check_room(ns, "/d/e")
    with pytest.raises(errors.LimitExceeded, match="^/d: directory has 3"):
        limits.check_room(ns, "/d/e/f/g")             # mkdir -p: /d gains "e"
    limits.check_room(ns, "/d/c")                     # an overwrite adds nothing
    limits.check_room(ns, "/d/a/x")                   # another directory
    limits.check_rename_room(ns, "/d/a", "/d/z")      # within /d: no new entry
    run(ns, ns.mkdirs("/other/x", parents=True, now_ms=1))
    with pytest.raises(errors.LimitExceeded, match="^/d: directory has 3"):
        limits.check_rename_room(ns, "/other/x", "/d")   # moves into /d


def test_blocks_per_file() -> None:
    limits = Limits(Settings(max_blocks_per_file=2))
    ns = Namespace()
    run(ns, ns.create("/f", 1, CHUNK, "cl", False, True, 1))
    prev = None
    for _ in range(2):
        limits.check_another_block(ns, "/f")          # the first and the second: allowed
        records, _ = ns.add_block("/f", "cl", prev)
        run(ns, records)
        last = ns.get_file("/f").blocks[-1]
        prev = (last.id, last.genstamp, CHUNK)
    with pytest.raises(errors.LimitExceeded, match=r"^/f: file has 2 blocks, the maximum 2 "
                       r"\(max_blocks_per_file\); write it with a larger block size$"):
        limits.check_another_block(ns, "/f")


def test_open_files_per_client() -> None:
    limits = Limits(Settings(max_open_files_per_client=2))
    limits.check_open_files("cl", 1)                  # opening the second
    with pytest.raises(errors.LimitExceeded, match=r"^cl: has 2 files open for writing, the "
                       r"maximum 2 \(max_open_files_per_client\)"):
        limits.check_open_files("cl", 2)


@pytest.mark.parametrize("settings, named", [
    ({"block_size_bytes": 1024}, "block_size_bytes"),
    ({"block_size_bytes": 100 * CHUNK + 512}, "chunk_size_bytes"),
    ({"min_block_size_bytes": 8 * CHUNK, "max_block_size_bytes": 4 * CHUNK}, "max_block_size_bytes"),
    ({"replication": 600}, "max_replication"),
    ({"max_directory_items": 0}, "max_directory_items"),
    ({"max_path_depth": "deep"}, "max_path_depth"),
])
def test_settings_that_contradict_each_other_are_refused(settings: dict, named: str) -> None:
    with pytest.raises(errors.ConfigError, match=named):
        config.check_settings(Settings(**settings))


def test_every_string_of_a_request_is_bounded() -> None:
    from minidfs.namenode.string_bound import check_strings
    from minidfs.rpc import client_namenode_pb2 as pb

    check_strings(pb.CreateRequest(path="/" + "p" * 63, client_node="n" * 64), 64)
    with pytest.raises(errors.InvalidArgument, match=r"^client_node: a string of 65 bytes, "
                       r"more than the maximum 64 \(max_string_field_bytes\)$"):
        check_strings(pb.CreateRequest(path="/p", client_node="n" * 65), 64)
    with pytest.raises(errors.InvalidArgument, match="excluded_nodes: a string of 66 bytes"):
        check_strings(pb.AddBlockRequest(excluded_nodes=["ok", "ü" * 33]), 64)   # UTF-8 bytes
    nested = pb.DatanodeReportResponse(nodes=[pb.DatanodeInfo(replica_states={"k" * 65: 1})])
    with pytest.raises(errors.InvalidArgument, match="replica_states"):
        check_strings(nested, 64)                     # in a map inside a repeated message


# ----------------------------------------------- through ClientOperations


@pytest.fixture
async def ops(tmp_path: pathlib.Path):
    fs = Namesystem(Settings(max_directory_items=2, max_path_depth=4, max_blocks_per_file=1,
                             max_open_files_per_client=2, replication=1), tmp_path / "nn")
    await fs.start()
    DatanodeOperations(fs).register("dn1", "127.0.0.1:1", "/r", 1 << 34, 0, 1 << 34)
    try:
        yield ClientOperations(fs)
    finally:
        await fs.stop()


async def test_refused_requests_allocate_nothing(ops: ClientOperations) -> None:
    fs = ops.fs
    before = (fs.txid, fs.ns.files, fs.ns.directories, fs.ns.last_block_id)
    with pytest.raises(errors.InvalidArgument, match="min_block_size_bytes"):
        await ops.create("/x", False, 1, 1, "c", "", True)
    with pytest.raises(errors.InvalidArgument, match="chunk_size_bytes"):
        await ops.create("/x", False, 1, 100_000, "c", "", True)
    with pytest.raises(errors.InvalidArgument, match="max_replication"):
        await ops.create("/x", False, 513, 0, "c", "", True)
    with pytest.raises(errors.InvalidPath, match="max_path_depth"):
        await ops.mkdirs("/a/b/c/d/e", True)
    with pytest.raises(errors.InvalidPath, match="reserved"):
        await ops.create("/.reserved/x", False, 1, 0, "c", "", True)
    assert (fs.txid, fs.ns.files, fs.ns.directories, fs.ns.last_block_id) == before
    await ops.mkdirs("/a/b/c/d", True)                       # exactly at the depth limit
    with pytest.raises(errors.FileExists, match="^/a: file exists$"):
        await ops.mkdirs("/a", False)                         # as hdfs dfs -mkdir
    await ops.mkdirs("/a", True)


async def test_counts_through_the_operations(ops: ClientOperations) -> None:
    await ops.create("/d/one", False, 0, 0, "c", "", True)
    await ops.create("/d/two", False, 0, 0, "c", "", True)   # /d full, c has 2 open
    with pytest.raises(errors.LimitExceeded, match="max_open_files_per_client"):
        await ops.create("/e", False, 0, 0, "c", "", True)
    with pytest.raises(errors.LimitExceeded, match="max_directory_items"):
        await ops.create("/d/three", False, 0, 0, "other", "", True)
    with pytest.raises(errors.LimitExceeded, match="max_directory_items"):
        await ops.mkdirs("/d/sub", False)
    await ops.create("/d/two", True, 0, 0, "c", "", True)    # an overwrite takes no room
    first = await ops.add_block("/d/one", "c", None, [])     # the one block allowed
    assert await ops.add_block("/d/one", "c", None, []) == first   # a retry still answers
    with pytest.raises(errors.LimitExceeded, match="max_blocks_per_file"):
        await ops.add_block("/d/one", "c", (first.block_id, first.genstamp, CHUNK), [])
    file = ops.fs.ns.get_file("/d/one")
    assert [b.id for b in file.blocks] == [first.block_id] and not file.blocks[0].committed
