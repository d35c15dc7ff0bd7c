"""The pure namespace: HDFS semantics, errors, and replay == live."""
from __future__ import annotations

import random

import pytest

from minidfs import errors
from minidfs.namenode.checkpoint import deserialize, serialize
from minidfs.namenode.inode import INodeFile
from minidfs.namenode.namespace import Namespace


def run(ns: Namespace, records: list[dict], log: list[dict] | None = None) -> list[dict]:
    for record in records:
        ns.apply(record)
        if log is not None:
            log.append(record)
    return records


def snapshot(ns: Namespace) -> dict:
    """Everything observable about a namespace, for equality checks."""
    out = {"__counters__": (ns.last_block_id, ns.last_genstamp, ns.files, ns.directories)}
    for node in ns.walk():
        if isinstance(node, INodeFile):
            out[node.path()] = ("f", node.mtime_ms, node.replication, node.block_size, node.client,
                                [(b.id, b.genstamp, b.length, b.state) for b in node.blocks])
        else:
            out[node.path()] = ("d", node.mtime_ms)
    return out


def make_file(ns: Namespace, path: str, client: str = "c1", blocks: int = 0) -> None:
    run(ns, ns.create(path, 3, 1024, client, False, True, 1))
    prev = None
    for _ in range(blocks):
        records, _ = ns.add_block(path, client, prev)
        run(ns, records)
        last = ns.get_file(path).blocks[-1]
        prev = (last.id, last.genstamp, 1024)
    run(ns, ns.commit_last(path, client, prev))
    run(ns, ns.close(path, 5))


def test_mkdirs_parents_and_errors() -> None:
    ns = Namespace()
    with pytest.raises(errors.FileNotFound):
        ns.mkdirs("/a/b", parents=False, now_ms=1)
    run(ns, ns.mkdirs("/a/b/c", parents=True, now_ms=1))
    assert ns.get("/a/b/c").is_dir and ns.directories == 4
    assert ns.mkdirs("/a/b", parents=True, now_ms=2) == []   # exists: no edit
    with pytest.raises(errors.FileExists, match="/a/b: file exists"):   # as hdfs dfs -mkdir
        ns.mkdirs("/a/b", parents=False, now_ms=2)
    make_file(ns, "/a/f")
    with pytest.raises(errors.FileExists, match="/a/f: file exists"):
        ns.mkdirs("/a/f", parents=True, now_ms=3)
    with pytest.raises(errors.NotADirectory, match="/a/f: not a directory"):
        ns.mkdirs("/a/f/x", parents=True, now_ms=3)
    with pytest.raises(errors.InvalidPath):
        ns.mkdirs("a/b", parents=True, now_ms=3)


def test_create_overwrite_and_parents() -> None:
    ns = Namespace()
    make_file(ns, "/d/f", blocks=2)
    with pytest.raises(errors.FileExists, match="/d/f: file exists"):
        ns.create("/d/f", 3, 1024, "c2", False, True, 9)
    assert len(ns.get_file("/d/f").blocks) == 2     # untouched
    fx_records = ns.create("/d/f", 2, 2048, "c2", True, True, 9)
    fx = ns.apply(fx_records[0])
    assert [b.id for b in fx.removed] == [1, 2]
    new = ns.get_file("/d/f")
    assert new.client == "c2" and new.replication == 2 and not new.blocks and ns.files == 1
    with pytest.raises(errors.IsADirectory):
        ns.create("/d", 3, 1024, "c", True, True, 9)
    with pytest.raises(errors.FileNotFound):
        ns.create("/x/y", 3, 1024, "c", False, False, 9)
    # Replication, block size and client name limits: tests/unit/test_limits.py.


def test_add_block_lease_commit_and_retry() -> None:
    ns = Namespace()
    run(ns, ns.create("/f", 3, 100, "c1", False, True, 1))
    with pytest.raises(errors.LeaseError):
        ns.add_block("/f", "other", None)
    records, retry = ns.add_block("/f", "c1", None)
    assert retry is None
    run(ns, records)
    b1 = ns.get_file("/f").blocks[0]
    assert ns.add_block("/f", "c1", None) == ([], b1)   # a retried first AddBlock
    with pytest.raises(errors.InvalidArgument, match="exceeds the block size"):
        ns.add_block("/f", "c1", (b1.id, b1.genstamp, 101))
    with pytest.raises(errors.InvalidArgument, match="genstamp"):
        ns.add_block("/f", "c1", (b1.id, b1.genstamp + 5, 100))
    run(ns, ns.add_block("/f", "c1", (b1.id, b1.genstamp, 100))[0])
    b2 = ns.get_file("/f").blocks[1]
    assert b1.committed and b1.length == 100 and not b2.committed
    assert ns.add_block("/f", "c1", (b1.id, b1.genstamp, 100)) == ([], b2)  # retried
    with pytest.raises(errors.InvalidArgument):
        ns.close("/f", 9)                                # last block not committed
    run(ns, ns.commit_last("/f", "c1", (b2.id, b2.genstamp, 40)))
    run(ns, ns.close("/f", 9))
    file = ns.get_file("/f")
    assert file.client is None and file.length() == 140 and all(b.complete for b in file.blocks)
    with pytest.raises(errors.LeaseError, match="not open for writing"):
        ns.add_block("/f", "c1", (b2.id, b2.genstamp, 40))


def test_abandon_block() -> None:
    ns = Namespace()
    run(ns, ns.create("/f", 1, 100, "c", False, True, 1))
    run(ns, ns.add_block("/f", "c", None)[0])
    block = ns.get_file("/f").blocks[0]
    fx = ns.apply(ns.abandon_block("/f", "c", block.id)[0])
    assert fx.removed == [block] and ns.get_file("/f").blocks == []
    assert ns.abandon_block("/f", "c", block.id) == []      # retried: harmless


def test_rename_semantics() -> None:
    ns = Namespace()
    run(ns, ns.mkdirs("/a/b", True, 1))
    run(ns, ns.mkdirs("/dst", True, 1))
    make_file(ns, "/a/f")
    make_file(ns, "/g")
    run(ns, ns.rename("/a/f", "/dst", 2))                    # onto a directory: moves inside
    assert ns.get("/dst/f") is not None and ns.get("/a/f") is None
    with pytest.raises(errors.FileExists):
        ns.rename("/g", "/dst/f", 3)                         # onto an existing file
    with pytest.raises(errors.InvalidArgument, match="into itself"):
        ns.rename("/a", "/a/b/c", 3)
    with pytest.raises(errors.InvalidArgument, match="into itself"):
        ns.rename("/a", "/a/b", 3)                           # /a/b is a dir: /a/b/a
    with pytest.raises(errors.FileNotFound):
        ns.rename("/nope", "/x", 3)
    with pytest.raises(errors.FileNotFound):
        ns.rename("/g", "/no/such/parent", 3)
    with pytest.raises(errors.InvalidArgument):
        ns.rename("/", "/x", 3)
    run(ns, ns.rename("/a", "/renamed", 4))
    assert ns.get("/renamed/b").path() == "/renamed/b"
    assert ns.rename("/g", "/g", 5) == []


def test_delete_semantics() -> None:
    ns = Namespace()
    run(ns, ns.mkdirs("/a/b", True, 1))
    make_file(ns, "/a/b/f", blocks=1)
    with pytest.raises(errors.DirectoryNotEmpty):
        ns.delete("/a", recursive=False, now_ms=2)
    with pytest.raises(errors.InvalidArgument, match="root"):
        ns.delete("/", recursive=True, now_ms=2)
    assert ns.delete("/nope", recursive=True, now_ms=2) == []
    fx = ns.apply(ns.delete("/a", recursive=True, now_ms=2)[0])
    assert len(fx.removed) == 1 and ns.files == 0 and ns.directories == 1
    assert ns.get("/a") is None and ns.root.mtime_ms == 2


def test_list_paging_and_summary() -> None:
    ns = Namespace()
    for i in range(25):
        make_file(ns, f"/d/f{i:02d}", blocks=1)
    page, more = ns.list("/d", "", 10)
    assert [n.name for n in page] == [f"f{i:02d}" for i in range(10)] and more
    page, more = ns.list("/d", "f19", 10)
    assert [n.name for n in page] == [f"f{i:02d}" for i in range(20, 25)] and not more
    page, _ = ns.list("/d/f03", "", 0)
    assert page[0].name == "f03"
    summary = ns.content_summary("/")
    assert summary == (25 * 1024, 25, 2, 25 * 1024 * 3)


def test_set_replication() -> None:
    ns = Namespace()
    make_file(ns, "/f", blocks=1)
    fx = ns.apply(ns.set_replication("/f", 5)[0])
    assert ns.get_file("/f").replication == 5 and len(fx.recheck) == 1
    assert ns.set_replication("/f", 5) == []
    with pytest.raises(errors.FileNotFound):
        ns.set_replication("/nope", 2)


def test_lease_recovery_records() -> None:
    ns = Namespace()
    run(ns, ns.create("/f", 1, 100, "c", False, True, 1))
    run(ns, ns.add_block("/f", "c", None)[0])
    b1 = ns.get_file("/f").blocks[0]
    run(ns, ns.add_block("/f", "c", (b1.id, b1.genstamp, 100))[0])
    run(ns, ns.recover_lease("/f", None, 7))        # nobody reported the last block
    file = ns.get_file("/f")
    assert file.client is None and [b.length for b in file.blocks] == [100]
    run(ns, ns.create("/g", 1, 100, "c", False, True, 1))
    run(ns, ns.add_block("/g", "c", None)[0])
    run(ns, ns.recover_lease("/g", 42, 7))
    assert ns.get_file("/g").length() == 42


def random_ops(seed: int, count: int) -> tuple[Namespace, list[dict]]:
    """Random valid and invalid operations; returns the live namespace and its log."""
    rng = random.Random(seed)
    ns, log = Namespace(), []
    names = ["a", "b", "c", "d"]

    def rand_path() -> str:
        return "/" + "/".join(rng.choice(names) for _ in range(rng.randint(1, 3)))

    for step in range(count):
        op = rng.choice(["mkdir", "create", "block", "close", "delete", "rename", "setrep"])
        path, now = rand_path(), 1000 + step
        try:
            if op == "mkdir":
                records = ns.mkdirs(path, rng.random() < 0.8, now)
            elif op == "create":
                records = ns.create(path, rng.randint(1, 3), 512, "c", rng.random() < 0.5,
                                    rng.random() < 0.8, now)
            elif op == "block":
                file = ns.get_file(path)
                last = file.blocks[-1] if file.blocks else None
                prev = (last.id, last.genstamp, rng.randint(0, 512)) if last else None
                records = ns.add_block(path, "c", prev)[0]
            elif op == "close":
                file = ns.get_file(path)
                last = file.blocks[-1] if file.blocks else None
                run(ns, ns.commit_last(path, "c", (last.id, last.genstamp, 7) if last else None), log)
                records = ns.close(path, now)
            elif op == "delete":
                records = ns.delete(path, rng.random() < 0.5, now)
            elif op == "rename":
                records = ns.rename(path, rand_path(), now)
            else:
                records = ns.set_replication(path, rng.randint(1, 4))
        except errors.MinidfsError:
            continue
        run(ns, records, log)
    return ns, log


@pytest.mark.parametrize("seed", range(5))
def test_replay_equals_live(seed: int) -> None:
    live, log = random_ops(seed, 600)
    assert len(log) > 100
    replayed = Namespace()
    run(replayed, log)
    assert snapshot(replayed) == snapshot(live)
    # A checkpoint half-way plus the rest of the log gives the same tree too.
    half = Namespace()
    run(half, log[: len(log) // 2])
    restored, _ = deserialize(serialize(half, 1), "image")
    run(restored, log[len(log) // 2:])
    assert snapshot(restored) == snapshot(live)


def test_apply_of_a_record_that_does_not_fit_is_corruption() -> None:
    ns = Namespace()
    with pytest.raises(errors.EditLogCorrupt):
        ns.apply({"op": "DELETE", "path": "/missing", "mtime": 1})
    with pytest.raises(errors.EditLogCorrupt):
        ns.apply({"op": "NOPE"})
