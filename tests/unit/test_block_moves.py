"""Balancer moves in the block manager: copy, then the hinted source replica goes."""
import pytest

from minidfs import errors
from minidfs.namenode.block_manager import DELETE, REPLICATE, REPLICATION_TIMEOUT_MS, BlockManager
from minidfs.namenode.datanode_registry import DEAD, DatanodeRegistry
from minidfs.namenode.inode import DROPPED, READY
from minidfs.namenode.namespace import Namespace

GiB = 1 << 30
LEN = 100


class Cluster:
    def __init__(self, racks: dict[str, str]) -> None:
        self.ns = Namespace()
        self.reg = DatanodeRegistry(dead_node_interval_ms=1_000)
        self.bm = BlockManager(self.reg, 2)
        for i, (name, rack) in enumerate(racks.items()):
            self.reg.register(name, f"h:{i}", rack, 10 * GiB, 0, 10 * GiB, now_ms=0)

    def apply(self, records):
        for record in records:
            fx = self.ns.apply(record)
            for b in fx.added:
                self.bm.add_block(b)
            for b in fx.recheck:
                self.bm.recheck(b)

    def file(self, path, replication, holders):
        self.apply(self.ns.create(path, replication, 1024, "c", False, True, 1))
        self.apply(self.ns.add_block(path, "c", None)[0])
        b = self.ns.get_file(path).blocks[-1]
        self.apply(self.ns.commit_last(path, "c", (b.id, b.genstamp, LEN)))
        self.apply(self.ns.close(path, 2))
        for node in holders:
            self.bm.block_received(node, b.id, b.genstamp, LEN)
        self.bm.tick(0)
        return b


def four_nodes(racks=("/r", "/r", "/r", "/r")):
    return Cluster({f"dn{i + 1}": r for i, r in enumerate(racks)})


def test_move_copies_then_deletes_the_source():
    c = four_nodes()
    b = c.file("/f", 3, ["dn1", "dn2", "dn3"])
    assert [x.id for x in c.bm.balancer_blocks("dn1", 10)] == [b.id]
    c.bm.move_replica(b.id, "dn1", "dn4", now_ms=0)
    (cmd,) = c.bm.take_commands("dn1")
    assert (cmd.action, cmd.block_id, cmd.targets) == (REPLICATE, b.id, ("dn4",))
    assert c.bm.balancer_blocks("dn1", 10) == []          # busy while the move runs
    c.bm.tick(1)
    assert c.bm.take_commands("dn1") == []                 # nothing deleted before the copy
    c.bm.block_received("dn4", b.id, b.genstamp, LEN)
    c.bm.tick(2)
    assert [(x.action, x.block_id) for x in c.bm.take_commands("dn1")] == [(DELETE, b.id)]
    assert b.replicas["dn1"] == DROPPED
    assert {n for n, s in b.replicas.items() if s == READY} == {"dn2", "dn3", "dn4"}


def test_a_move_whose_target_dies_deletes_nothing():
    c = four_nodes()
    b = c.file("/f", 3, ["dn1", "dn2", "dn3"])
    c.bm.move_replica(b.id, "dn1", "dn4", now_ms=0)
    c.bm.take_commands("dn1")
    c.bm.node_dead("dn4")
    c.bm.tick(REPLICATION_TIMEOUT_MS + 1)                  # the hint lapses too
    assert c.bm.take_commands("dn1") == []
    assert {n for n, s in b.replicas.items() if s == READY} == {"dn1", "dn2", "dn3"}
    # And the block can be moved again later.
    c.reg.register("dn4", "h:9", "/r", 10 * GiB, 0, 10 * GiB, now_ms=REPLICATION_TIMEOUT_MS + 2)
    c.bm.move_replica(b.id, "dn1", "dn4", now_ms=REPLICATION_TIMEOUT_MS + 2)


def test_a_source_that_died_after_the_copy_keeps_the_block_replicated():
    c = four_nodes()
    b = c.file("/f", 3, ["dn1", "dn2", "dn3"])
    c.bm.move_replica(b.id, "dn1", "dn4", now_ms=0)
    c.bm.node_dead("dn1")
    c.bm.block_received("dn4", b.id, b.genstamp, LEN)
    c.bm.tick(1)
    for n in ("dn2", "dn3", "dn4"):
        assert c.bm.take_commands(n) == []
    assert {n for n, s in b.replicas.items() if s == READY} == {"dn2", "dn3", "dn4"}


@pytest.mark.parametrize("source,target,why", [
    ("dn4", "dn1", "holds no live replica"),
    ("dn1", "dn2", "already holds a replica"),
])
def test_bad_moves_are_refused(source, target, why):
    c = four_nodes()
    b = c.file("/f", 3, ["dn1", "dn2", "dn3"])
    with pytest.raises(errors.PreconditionFailed, match=why):
        c.bm.move_replica(b.id, source, target, now_ms=0)
    assert c.bm.take_commands(source) == []


def test_moves_of_busy_unknown_or_under_replicated_blocks_are_refused():
    c = four_nodes()
    b = c.file("/f", 3, ["dn1", "dn2", "dn3"])
    with pytest.raises(errors.PreconditionFailed, match="no such complete block"):
        c.bm.move_replica(b.id + 100, "dn1", "dn4", now_ms=0)
    c.bm.move_replica(b.id, "dn1", "dn4", now_ms=0)
    with pytest.raises(errors.PreconditionFailed, match="busy"):
        c.bm.move_replica(b.id, "dn2", "dn4", now_ms=0)
    u = c.file("/u", 3, ["dn1", "dn2"])
    with pytest.raises(errors.PreconditionFailed, match="under-replicated"):
        c.bm.move_replica(u.id, "dn1", "dn4", now_ms=0)
    c.reg.nodes["dn4"].state = DEAD      # as the registry's tick marks it
    c.bm.node_dead("dn4")
    v = c.file("/v", 2, ["dn1", "dn2"])
    with pytest.raises(errors.PreconditionFailed, match="not live"):
        c.bm.move_replica(v.id, "dn1", "dn4", now_ms=0)


def test_a_move_that_would_lose_a_rack_is_refused():
    c = four_nodes(("/a", "/b", "/a", "/a"))
    b = c.file("/f", 2, ["dn1", "dn2"])
    with pytest.raises(errors.PreconditionFailed, match="lose a rack"):
        c.bm.move_replica(b.id, "dn2", "dn4", now_ms=0)
    c.bm.move_replica(b.id, "dn1", "dn4", now_ms=0)       # /a -> /a is fine


def test_a_failed_copy_abandons_the_move_at_once():
    c = four_nodes()
    b = c.file("/f", 3, ["dn1", "dn2", "dn3"])
    c.bm.move_replica(b.id, "dn1", "dn4", now_ms=0)
    assert c.bm.moving(b.id)
    c.bm.copy_failed("dn1", b.id)
    c.bm.tick(10_000)
    assert not c.bm.moving(b.id)
    assert [x.id for x in c.bm.balancer_blocks("dn1", 10)] == [b.id]


def test_balancer_blocks_scan_a_bounded_window_from_start():
    c = four_nodes()
    blocks = [c.file(f"/f{i}", 3, ["dn1", "dn2", "dn3"]) for i in range(10)]
    ids = [b.id for b in blocks]
    assert [b.id for b in c.bm.balancer_blocks("dn1", 100)] == ids
    window = c.bm.balancer_blocks("dn1", 100, start=7, max_scanned=5)
    assert [b.id for b in window] == ids[7:] + ids[:2]
    assert [b.id for b in c.bm.balancer_blocks("dn1", 2, start=13)] == ids[3:5]
    assert c.bm.balancer_blocks("dn4", 100) == []
