"""Directory quotas on the pure namespace: HDFS's counting, messages, and that the
cached use always equals a fresh count (live, replay and image load alike)."""
from __future__ import annotations

import random

import pytest

from minidfs import errors
from minidfs.namenode import quota
from minidfs.namenode.checkpoint import deserialize, serialize
from minidfs.namenode.namespace import Namespace

BLOCK = 1024


def run(ns: Namespace, records: list[dict]) -> list[dict]:
    for record in records:
        ns.apply(record)
    return records


def write(ns: Namespace, path: str, lengths: list[int], replication: int = 3) -> None:
    run(ns, ns.create(path, replication, BLOCK, "c1", False, True, 1))
    prev = None
    for length in lengths:
        records, _ = ns.add_block(path, "c1", prev)
        run(ns, records)
        last = ns.get_file(path).blocks[-1]
        prev = (last.id, last.genstamp, length)
    run(ns, ns.commit_last(path, "c1", prev))
    run(ns, ns.close(path, 5))


def cached(ns: Namespace, path: str) -> tuple[int, int]:
    q = ns.quota.get(ns.get(path))
    return q.names_used, q.space_used


def assert_true_counts(ns: Namespace) -> None:
    """Every cached use equals a count from scratch."""
    for node, q in ns.quota.dirs.items():
        assert (q.names_used, q.space_used) == tuple(quota.usage(node)), node.path()


def test_namespace_quota_counts_the_directory_itself_and_refuses_growth() -> None:
    ns = Namespace()
    run(ns, ns.mkdirs("/a", True, 1))
    run(ns, ns.set_quota("/a", 2, None))
    write(ns, "/a/f1", [])                       # /a and f1: 2 names
    with pytest.raises(errors.QuotaExceededError) as e:
        ns.create("/a/f2", 3, BLOCK, "c1", False, False, 1)
    assert str(e.value) == ("The NameSpace quota (directories and files) of directory /a "
                            "is exceeded: quota=2 file count=3")
    with pytest.raises(errors.QuotaExceededError):
        ns.mkdirs("/a/d", True, 1)
    with pytest.raises(errors.QuotaExceededError, match="quota=2 file count=4"):
        ns.mkdirs("/a/x/y", True, 1)              # both directories it would make count
    # Overwriting a file adds no name.
    assert ns.create("/a/f1", 3, BLOCK, "c1", True, False, 1)
    assert_true_counts(ns)


def test_space_quota_charges_a_whole_block_while_written_then_its_length() -> None:
    ns = Namespace()
    run(ns, ns.mkdirs("/s", True, 1))
    run(ns, ns.set_quota("/s", None, 2 * BLOCK * 3))
    write(ns, "/s/a", [100])
    assert cached(ns, "/s") == (2, 300)
    run(ns, ns.create("/s/b", 3, BLOCK, "c1", False, False, 1))
    records, _ = ns.add_block("/s/b", "c1", None)
    run(ns, records)
    assert cached(ns, "/s") == (3, 300 + BLOCK * 3)       # the open block: a whole block
    last = ns.get_file("/s/b").blocks[-1]
    with pytest.raises(errors.QuotaExceededError) as e:
        # Committing 1024 and asking for another whole block: 300 + 3072 + 3072 > 6144.
        ns.add_block("/s/b", "c1", (last.id, last.genstamp, BLOCK))
    assert str(e.value) == ("The DiskSpace quota of /s is exceeded: quota = 6144 B = 6 KB "
                            "but diskspace consumed = 6444 B = 6.29 KB")
    records, _ = ns.add_block("/s/b", "c1", (last.id, last.genstamp, 10))  # fits: 300+30+3072
    run(ns, records)
    assert_true_counts(ns)


def test_setrep_rename_and_delete_are_charged_and_checked() -> None:
    ns = Namespace()
    for d in ("/q", "/free"):
        run(ns, ns.mkdirs(d, True, 1))
    write(ns, "/free/big", [1000], replication=1)
    run(ns, ns.set_quota("/q", 10, 2500))
    run(ns, ns.set_replication("/free/big", 3))           # no quota above it
    with pytest.raises(errors.QuotaExceededError, match="DiskSpace quota of /q"):
        ns.rename("/free/big", "/q", 2)                      # 3000 > 2500
    run(ns, ns.set_replication("/free/big", 2))           # 2000 fits
    run(ns, ns.rename("/free/big", "/q/big", 2))
    assert cached(ns, "/q") == (2, 2000)
    with pytest.raises(errors.QuotaExceededError, match="consumed = 3000 B"):
        ns.set_replication("/q/big", 3)
    run(ns, ns.set_replication("/q/big", 1))
    assert cached(ns, "/q") == (2, 1000)
    run(ns, ns.rename("/q/big", "/free/back", 3))
    assert cached(ns, "/q") == (1, 0)
    run(ns, ns.mkdirs("/q/sub/deep", True, 4))
    run(ns, ns.set_quota("/q/sub", 5, None))
    write(ns, "/q/sub/deep/f", [7], replication=1)
    assert cached(ns, "/q") == (4, 7) and cached(ns, "/q/sub") == (3, 7)
    run(ns, ns.delete("/q/sub", True, 5))
    assert cached(ns, "/q") == (1, 0) and list(ns.quota.dirs) == [ns.get("/q")]
    assert_true_counts(ns)


def test_deleting_a_tree_drops_the_quotas_inside_it_even_with_none_above() -> None:
    ns = Namespace()
    run(ns, ns.mkdirs("/a/b/c", True, 1))
    run(ns, ns.set_quota("/a/b/c", 5, None))
    run(ns, ns.set_quota("/a/b", 5, None))
    run(ns, ns.delete("/a", True, 2))
    assert not ns.quota
    deserialize(serialize(ns, 1), "img")          # no quota of an unlinked directory


def test_a_quota_below_current_use_is_allowed_and_stops_growth() -> None:
    ns = Namespace()
    for i in range(3):
        write(ns, f"/full/f{i}", [])
    run(ns, ns.set_quota("/full", 1, None))
    assert cached(ns, "/full") == (4, 0)
    with pytest.raises(errors.QuotaExceededError, match="quota=1 file count=5"):
        ns.create("/full/f9", 3, BLOCK, "c1", False, False, 1)
    run(ns, ns.delete("/full/f0", False, 2))                 # shrinking is always fine
    run(ns, ns.set_quota("/full", quota.NONE, None))          # cleared
    assert ns.quota.get(ns.get("/full")) is None
    run(ns, ns.create("/full/f9", 3, BLOCK, "c1", False, False, 1))


def test_bad_quota_requests() -> None:
    ns = Namespace()
    write(ns, "/file", [])
    with pytest.raises(errors.NotADirectory, match="/file: cannot set a quota on a file"):
        ns.set_quota("/file", 5, None)
    with pytest.raises(errors.FileNotFound):
        ns.set_quota("/nope", 5, None)
    for bad in (0, -5, True, 1 << 63, "3"):
        with pytest.raises(errors.InvalidArgument, match="must be a positive integer"):
            ns.set_quota("/", bad, None)
    assert ns.set_quota("/", quota.NONE, quota.NONE) == []      # nothing to clear: no edit


def test_random_operations_keep_the_cache_true_through_image_and_replay() -> None:
    rng = random.Random(13)
    ns = Namespace()
    log: list[dict] = []
    dirs = ["/r", "/r/a", "/r/a/b", "/r/c"]
    for d in dirs:
        log += run(ns, ns.mkdirs(d, True, 1))
    log += run(ns, ns.set_quota("/r", 10_000, 10**9))
    log += run(ns, ns.set_quota("/r/a", 10_000, None))
    log += run(ns, ns.set_quota("/r/c", None, 10**9))
    for i in range(200):
        kind = rng.choice(["file", "mkdir", "mv", "rm", "setrep"])
        d = rng.choice(dirs)
        node = ns.get(d)
        names = list(node.children) if node is not None else []
        try:
            if kind == "file":
                path = f"{d}/f{i}"
                recs = ns.create(path, rng.randint(1, 3), BLOCK, "c1", False, True, i)
                log += run(ns, recs)
                prev = None
                for _ in range(rng.randint(0, 3)):
                    recs, _ = ns.add_block(path, "c1", prev)
                    log += run(ns, recs)
                    last = ns.get_file(path).blocks[-1]
                    prev = (last.id, last.genstamp, rng.randint(0, BLOCK))
                if rng.random() < 0.8:
                    log += run(ns, ns.commit_last(path, "c1", prev))
                    log += run(ns, ns.close(path, i))
            elif kind == "mkdir":
                new = f"{d}/d{i}"
                log += run(ns, ns.mkdirs(new, True, i))
                dirs.append(new)
            elif names and kind == "mv":
                src = f"{d}/{rng.choice(names)}"
                log += run(ns, ns.rename(src, rng.choice(dirs), i))
            elif names and kind == "rm":
                log += run(ns, ns.delete(f"{d}/{rng.choice(names)}", True, i))
            elif names and kind == "setrep":
                target = ns.get(f"{d}/{rng.choice(names)}")
                if not target.is_dir:
                    log += run(ns, ns.set_replication(target.path(), rng.randint(1, 3)))
        except (errors.InvalidArgument, errors.FileExists, errors.FileNotFound,
                errors.NotADirectory):
            pass
        dirs = [p for p in dirs if ns.get(p) is not None and ns.get(p).is_dir]
        assert_true_counts(ns)
    # Writers that vanished: lease recovery keeps or drops the block being written.
    for j in range(4):
        path = f"/r/open{j}"
        log += run(ns, ns.create(path, 3, BLOCK, "c9", False, True, 500))
        for _ in range(j):
            recs, _ = ns.add_block(path, "c9", None if not ns.get_file(path).blocks else (
                ns.get_file(path).blocks[-1].id, ns.get_file(path).blocks[-1].genstamp, 100))
            log += run(ns, recs)
    assert_true_counts(ns)
    for node in list(ns.walk()):
        if getattr(node, "client", None) is not None:
            kept = rng.choice([None, rng.randint(0, BLOCK)])
            log += run(ns, ns.recover_lease(node.path(), kept, 999))
            assert_true_counts(ns)
    loaded, _ = deserialize(serialize(ns, 7), "img")
    replayed = Namespace()
    run(replayed, log)
    for other in (loaded, replayed):
        assert {n.path(): (q.names_quota, q.space_quota, q.names_used, q.space_used)
                for n, q in other.quota.dirs.items()} == \
               {n.path(): (q.names_quota, q.space_quota, q.names_used, q.space_used)
                for n, q in ns.quota.dirs.items()}


def test_version_2_images_still_load_without_quotas() -> None:
    import msgpack
    from minidfs.namenode import checkpoint
    ns = Namespace()
    write(ns, "/old/f", [10])
    image = serialize(ns, 3)
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(image[len(checkpoint.MAGIC):-8])
    header = next(unpacker)
    rest = list(unpacker)
    header["version"] = 2
    del header["quotas"]
    packer = msgpack.Packer(use_bin_type=True)
    body = checkpoint.MAGIC + packer.pack(header) + b"".join(packer.pack(e) for e in rest)
    import xxhash
    old = body + checkpoint._TRAILER.pack(xxhash.xxh3_64_intdigest(body))
    loaded, txid = deserialize(old, "v2")
    assert txid == 3 and loaded.get("/old/f") is not None and not loaded.quota


def test_random_quotas_anywhere_survive_checkpoints() -> None:
    """Quotas set on random directories (none above some of them), trees moved and
    deleted around them: the cache stays true and every image loads the same."""
    rng = random.Random(7)
    ns = Namespace()
    for i in range(120):
        d = f"/t{rng.randint(0, 3)}/d{rng.randint(0, 3)}/e{rng.randint(0, 3)}"
        kind = rng.choice(["mk", "mk", "file", "file", "quota", "quota", "mv", "rm"])
        try:
            if kind == "mk":
                run(ns, ns.mkdirs(d, True, i))
            elif kind == "file":
                write(ns, f"{d}/f{i}", [rng.randint(0, BLOCK)], rng.randint(1, 3))
            elif kind == "quota" and ns.get(d) is not None:
                run(ns, ns.set_quota(d.rsplit("/", rng.randint(0, 2))[0] or "/", 10**6 + i, 10**9))
            elif kind == "mv" and ns.get(d) is not None:
                run(ns, ns.rename(d, f"/t{rng.randint(0, 3)}", i))
            elif kind == "rm":
                run(ns, ns.delete(d.rsplit("/", rng.randint(0, 2))[0], True, i))
        except (errors.FileExists, errors.FileNotFound, errors.NotADirectory,
                errors.InvalidArgument):
            pass
        assert_true_counts(ns)
        assert all(node.path() == "/" or ns.get(node.path()) is node for node in ns.quota.dirs)
        loaded, _ = deserialize(serialize(ns, i), "img")
        assert {n.path(): (q.names_used, q.space_used) for n, q in loaded.quota.dirs.items()} == \
               {n.path(): (q.names_used, q.space_used) for n, q in ns.quota.dirs.items()}
