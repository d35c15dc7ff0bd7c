"""The NameNode's event loop stays free: background work runs in slices of time
(loop_slices.py), and the namespace loaded at start-up is frozen out of the cyclic
GC's sight yet still freed when deleted (heap.py, namespace.detach)."""
from __future__ import annotations

import asyncio
import gc
import pathlib

from minidfs.config import Settings
from minidfs.namenode import heap, loop_slices
from minidfs.namenode.checkpoint import ImageStore, serialize
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.inode import BlockInfo, INodeFile
from minidfs.namenode.namespace import Namespace, detach
from minidfs.namenode.namesystem import Namesystem


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_slices_are_cut_by_time_not_by_count() -> None:
    clock = FakeClock()
    others_ran = []

    def steps():
        for i in range(10):
            clock.now += 0.002 if i < 5 else 0.0   # five slow steps, then five instant
            yield

    async def other() -> None:
        others_ran.append(clock.now)

    task = asyncio.get_running_loop().create_task(other())
    yields = await loop_slices.run_sliced(steps(), slice_s=0.005, gap_s=0, clock=clock)
    await task
    # 2+2+2 ms passes the 5 ms slice: one yield after step 3; the rest fits one slice.
    assert yields == 1
    assert others_ran == [0.006]   # the other task ran in the gap, not after the end


async def test_no_yield_when_the_work_is_short() -> None:
    assert await loop_slices.run_sliced(iter(range(1000)), slice_s=60.0) == 0


def tracked(kind: type, names: set[str]) -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, kind)
               and getattr(o, "name", None) in names)


NAME = "never-stalls-f"   # names no other test's leftover inodes have


def build(ns: Namespace, files: int) -> None:
    for record in ns.mkdirs("/big/sub", True, 1):
        ns.apply(record)
    for i in range(files):
        path = f"/big/sub/{NAME}{i}"
        for record in ns.create(path, 3, 1 << 20, "c", False, False, 1):
            ns.apply(record)
        for record in ns.add_block(path, "c", None)[0]:
            ns.apply(record)
        block = ns.get_file(path).blocks[0]
        for record in ns.commit_last(path, "c", (block.id, block.genstamp, 1)):
            ns.apply(record)
        for record in ns.close(path, 2):
            ns.apply(record)


def test_a_detached_subtree_is_freed_without_the_cyclic_gc() -> None:
    gc.collect()   # other tests' garbage
    blocks_before = sum(1 for o in gc.get_objects() if isinstance(o, BlockInfo))
    ns = Namespace()
    build(ns, 50)
    names = {f"{NAME}{i}" for i in range(50)}
    with heap.collector_paused():
        assert tracked(INodeFile, names) == 50
        fx = ns.apply(ns.delete("/big", True, 3)[0])
        assert [top.name for top in fx.unlinked] == ["big"]
        # Without detach, each file and its block hold each other: only the cyclic
        # GC could free them, and it never looks at a frozen namespace.
        assert tracked(INodeFile, names) == 50
        for top in fx.unlinked:
            detach(top)
        del fx
        assert tracked(INodeFile, names) == 0
        assert sum(1 for o in gc.get_objects() if isinstance(o, BlockInfo)) == blocks_before
    assert ns.get("/big") is None and ns.files == 0


async def test_the_daemons_namesystem_freezes_its_load_and_frees_what_is_deleted(
        tmp_path: pathlib.Path) -> None:
    ns = Namespace()
    build(ns, 30)
    ImageStore(tmp_path / "current").write(1000, serialize(ns, 1000))
    del ns
    gc.collect()   # that namespace is garbage now: not to be frozen with the loaded one
    names = {f"{NAME}{i}" for i in range(30)}
    fs = Namesystem(Settings(), tmp_path, freeze_heap=True)
    try:
        await fs.start()
        assert heap.frozen_count() > 0
        assert tracked(INodeFile, names) == 0   # frozen: out of the collector's sight
        fs.safemode.leave()
        with heap.collector_paused():
            assert await ClientOperations(fs).delete("/big/sub", recursive=True)
            assert fs.ns.get("/big/sub") is None
            gc.unfreeze()   # frozen objects back in view; no collection has run
            assert tracked(INodeFile, names) == 0   # freed by reference counting at once
        await fs.stop()
    finally:
        gc.unfreeze()
