"""Pipeline recovery on the NameNode (pure): genstamp bumps, added nodes, stale replicas."""
from __future__ import annotations

import pytest

from minidfs import errors
from minidfs.namenode import pipeline_recovery as pr
from minidfs.namenode.block_manager import DELETE, BlockManager
from minidfs.namenode.datanode_registry import DatanodeRegistry
from minidfs.namenode.inode import READY
from minidfs.namenode.namespace import Namespace

GiB = 1 << 30


@pytest.fixture
def world():
    ns = Namespace()
    reg = DatanodeRegistry(dead_node_interval_ms=1_000)
    bm = BlockManager(reg, 2)
    for i in range(1, 5):
        reg.register(f"dn{i}", f"h:{i}", "/r", 10 * GiB, 0, 10 * GiB, now_ms=0)

    def apply(records):
        for record in records:
            fx = ns.apply(record)
            for b in fx.added:
                bm.add_block(b)
            for b in fx.bumped:
                bm.genstamp_bumped(b)
            for b in fx.recheck:
                bm.recheck(b)
    apply(ns.create("/f", 3, 1 << 20, "c", False, True, 1))
    apply(ns.add_block("/f", "c", None)[0])
    return ns, reg, bm, apply


def test_bump_logs_the_next_genstamp_and_validates(world) -> None:
    ns, reg, bm, apply = world
    block = ns.get_file("/f").blocks[0]
    old = block.genstamp
    records, names = pr.bump_genstamp(ns, reg, "/f", "c", block.id, old, ["dn2", "dn3"])
    assert records == [{"op": "SET_GENSTAMP", "path": "/f", "id": block.id, "gs": old + 1}]
    assert names == ["dn2", "dn3"]
    apply(records)
    assert block.genstamp == old + 1
    with pytest.raises(errors.InvalidArgument, match="genstamp"):
        pr.bump_genstamp(ns, reg, "/f", "c", block.id, old, ["dn2"])      # a stale caller
    with pytest.raises(errors.LeaseError):
        pr.bump_genstamp(ns, reg, "/f", "other", block.id, old + 1, ["dn2"])
    with pytest.raises(errors.InvalidArgument, match="not the last block"):
        pr.bump_genstamp(ns, reg, "/f", "c", block.id + 5, old + 1, ["dn2"])
    for bad in ([], ["dn2", "dn2"], ["dn9"], [f"dn{i}" for i in range(20)]):
        with pytest.raises(errors.InvalidArgument):
            pr.bump_genstamp(ns, reg, "/f", "c", block.id, old + 1, bad)


def test_committed_block_cannot_be_bumped(world) -> None:
    ns, reg, bm, apply = world
    block = ns.get_file("/f").blocks[0]
    apply(ns.commit_last("/f", "c", (block.id, block.genstamp, 10)))
    with pytest.raises(errors.InvalidArgument, match="already committed"):
        pr.bump_genstamp(ns, reg, "/f", "c", block.id, block.genstamp, ["dn1"])


def test_additional_targets_avoid_survivors_and_failed_nodes(world) -> None:
    ns, reg, bm, apply = world
    block = ns.get_file("/f").blocks[0]
    [added] = pr.additional_targets(ns, reg, "/f", "c", block.id, block.genstamp,
                                    existing=["dn1"], excluded=["dn2", "gone"], count=1)
    assert added.name in ("dn3", "dn4")
    reg.nodes["dn3"].state = reg.nodes["dn4"].state = "dead"
    with pytest.raises(errors.Unavailable):
        pr.additional_targets(ns, reg, "/f", "c", block.id, block.genstamp,
                              existing=["dn1"], excluded=["dn2"], count=1)
    with pytest.raises(errors.InvalidArgument):
        pr.additional_targets(ns, reg, "/f", "c", block.id, block.genstamp, ["dn1"], [], 0)


def test_old_genstamp_replicas_wait_while_writing_then_are_deleted(world) -> None:
    ns, reg, bm, apply = world
    block = ns.get_file("/f").blocks[0]
    old = block.genstamp
    for node in ("dn1", "dn2", "dn3"):
        bm.block_received(node, block.id, old, 1000, finalized=False)
    apply(pr.bump_genstamp(ns, reg, "/f", "c", block.id, old, ["dn1", "dn2"])[0])
    # A survivor reporting its copy before the recovery stream reached it keeps it.
    bm.full_report("dn1", [(block.id, old, 1000, False)])
    assert bm.take_commands("dn1") == []
    for node in ("dn1", "dn2"):
        bm.block_received(node, block.id, block.genstamp, 1500)
    apply(ns.commit_last("/f", "c", (block.id, block.genstamp, 1500)))
    apply(ns.close("/f", 2))
    # The failed node comes back with its old copy: stale, deleted.
    bm.full_report("dn3", [(block.id, old, 1000, False)])
    assert [(c.action, c.genstamp) for c in bm.take_commands("dn3")] == [(DELETE, old)]
    assert block.replicas == {"dn1": READY, "dn2": READY}
