"""fsck (pure) and decommissioning in the block manager: counts, status, replica words."""
from __future__ import annotations

import pytest

from minidfs import errors
from minidfs.namenode import fsck
from minidfs.namenode.block_manager import DELETE, REPLICATE, BlockManager
from minidfs.namenode.datanode_registry import (
    DECOMMISSIONED, DECOMMISSIONING, IN_SERVICE, DatanodeRegistry,
)
from minidfs.namenode.inode import BlockInfo
from minidfs.namenode.namespace import Namespace
from minidfs.namenode.placement import choose_targets

GiB = 1 << 30
LEN = 100


class Cluster:
    def __init__(self, nodes: int, racks: tuple[str, ...] = ("/r",)) -> None:
        self.ns = Namespace()
        self.reg = DatanodeRegistry(dead_node_interval_ms=1_000)
        self.bm = BlockManager(self.reg, 2)
        for i in range(1, nodes + 1):
            self.reg.register(f"dn{i}", f"h:{i}", racks[(i - 1) % len(racks)], 10 * GiB, 0,
                              10 * GiB, now_ms=0)

    def apply(self, records: list[dict]) -> None:
        for record in records:
            fx = self.ns.apply(record)
            for b in fx.removed:
                self.bm.remove_block(b)
            for b in fx.added:
                self.bm.add_block(b)
            for b in fx.recheck:
                self.bm.recheck(b)

    def file(self, path: str, replication: int, blocks: int = 1, close: bool = True) -> list[BlockInfo]:
        self.apply(self.ns.create(path, replication, 1024, "c", False, True, 1))
        prev = None
        for _ in range(blocks):
            self.apply(self.ns.add_block(path, "c", prev)[0])
            last = self.ns.get_file(path).blocks[-1]
            prev = (last.id, last.genstamp, LEN)
        if close:
            self.apply(self.ns.commit_last(path, "c", prev))
            self.apply(self.ns.close(path, 2))
        return self.ns.get_file(path).blocks

    def report(self, node: str, *blocks: BlockInfo, finalized: bool = True) -> None:
        self.bm.full_report(node, [(b.id, b.genstamp, b.length or LEN, finalized) for b in blocks])

    def fsck(self, path: str = "/", **kwargs) -> fsck.FsckReport:
        return fsck.fsck(self.ns, self.bm, self.reg, path, **kwargs)

    def commands(self, node: str) -> list[tuple]:
        return [tuple(c) for c in self.bm.take_commands(node)]


def test_healthy_tree_counts_files_blocks_and_directories() -> None:
    c = Cluster(3)
    blocks = c.file("/d/a", 3, blocks=2)
    single = c.file("/d/e/b", 1)
    c.report("dn1", *blocks, *single)
    for node in ("dn2", "dn3"):
        c.report(node, *blocks)
    report = c.fsck()
    assert (report.files, report.directories, report.blocks, report.total_bytes) == (2, 3, 3, 3 * LEN)
    assert report.status == fsck.HEALTHY and report.healthy
    assert c.fsck("/d/e").files == 1


def test_under_replicated_is_degraded_and_no_replica_is_corrupt_status() -> None:
    c = Cluster(3)
    a = c.file("/a", 3)[0]
    b = c.file("/b", 2)[0]
    c.report("dn1", a, b)
    c.report("dn2", a)
    report = c.fsck()
    assert (report.under_replicated, report.missing) == (2, 0)
    assert report.status == fsck.DEGRADED and not report.healthy
    c.bm.node_dead("dn1")
    c.reg.nodes["dn1"].state = "dead"
    report = c.fsck()
    assert (report.under_replicated, report.missing) == (2, 1)
    assert report.status == fsck.CORRUPT_STATUS


def test_over_mis_replicated_and_corrupt() -> None:
    c = Cluster(4, racks=("/r1", "/r2"))     # dn1, dn3 on /r1; dn2, dn4 on /r2
    a = c.file("/a", 2)[0]
    b = c.file("/b", 2)[0]
    c.report("dn1", a, b)
    c.report("dn2", a)
    c.report("dn3", a, b)
    report = c.fsck()
    assert report.racks == 2 and report.over_replicated == 1 and report.mis_replicated == 1
    c.bm.report_bad("dn1", b.id, b.genstamp)
    report = c.fsck("/b", list_files=True)
    assert report.corrupt == 1 and report.under_replicated == 1 and report.status == fsck.DEGRADED
    [checked] = report.file_details[0].blocks
    assert ("dn1", "Corrupt", "/r1") in checked.replicas and checked.live == 1
    assert set(checked.problems) == {"under_replicated", "corrupt"}


def test_open_files_are_counted_not_judged_and_words_are_the_seeds() -> None:
    c = Cluster(3)
    [block] = c.file("/open", 3, close=False)
    c.bm.block_received("dn1", block.id, block.genstamp, 10, finalized=False)
    report = c.fsck(list_files=True)
    assert report.open_files == 1 and report.under_replicated == 0 and report.healthy
    [checked] = report.file_details[0].blocks
    assert checked.replicas == [("dn1", "InBuild", "/r")] and checked.problems == []
    c.apply(c.ns.commit_last("/open", "c", (block.id, block.genstamp, 10)))
    assert fsck.replica_word(block, "IN_BUILD") == "Closing"
    assert fsck.replica_word(block, "DOWN") == "Down"


def test_listing_is_bounded_and_missing_path_fails() -> None:
    c = Cluster(1)
    for i in range(5):
        c.report("dn1", *c.file(f"/f{i}", 1))
    report = c.fsck(list_files=True, max_files=3)
    assert report.files == 5 and len(report.file_details) == 3 and report.truncated
    assert [f.path for f in report.file_details] == ["/f0", "/f1", "/f2"]
    with pytest.raises(errors.FileNotFound):
        c.fsck("/nope")


def test_decommission_copies_everything_then_finishes() -> None:
    c = Cluster(4)
    blocks = c.file("/a", 2, blocks=2)
    for node in ("dn1", "dn2"):
        c.report(node, *blocks)
    c.bm.tick(0)
    c.reg.set_admin_state("dn1", DECOMMISSIONING)
    c.bm.recheck_node("dn1")
    assert c.bm.tick(0) == []
    # dn1 stays a copy source; the copies go to nodes in service only.
    sent = c.commands("dn1") + c.commands("dn2")
    assert sorted(cmd[0] for cmd in sent) == [REPLICATE, REPLICATE]
    assert all(set(cmd[4]) <= {"dn3", "dn4"} for cmd in sent)
    assert [n.name for n in choose_targets(c.reg.nodes.values(), 4, 1024)] == ["dn2", "dn3", "dn4"]
    assert c.fsck().under_replicated == 2 and c.fsck().missing == 0
    for cmd in sent:
        c.bm.block_received(cmd[4][0], cmd[1], cmd[2], LEN)
    assert c.bm.tick(0) == ["dn1"]
    assert c.reg.nodes["dn1"].admin_state == DECOMMISSIONED
    assert c.reg.nodes["dn1"].report_state == "decommissioned"
    assert c.fsck().healthy
    assert c.commands("dn1") == []            # its copies are not trimmed: they do not count


def test_decommission_cancel_trims_the_surplus() -> None:
    c = Cluster(3)
    [block] = c.file("/a", 2)
    c.report("dn1", block)
    c.report("dn2", block)
    c.reg.set_admin_state("dn1", DECOMMISSIONING)
    c.bm.recheck_node("dn1")
    c.bm.tick(0)
    [cmd] = c.commands("dn1") + c.commands("dn2")
    c.bm.block_received("dn3", block.id, block.genstamp, LEN)
    c.reg.set_admin_state("dn1", IN_SERVICE)
    c.bm.recheck_node("dn1")
    c.bm.tick(0)
    deletes = [(n, cmd) for n in ("dn1", "dn2", "dn3") for cmd in c.commands(n) if cmd[0] == DELETE]
    assert len(deletes) == 1


def test_block_on_a_decommissioning_node_only_is_not_missing() -> None:
    c = Cluster(2)
    [block] = c.file("/a", 1)
    c.report("dn1", block)
    c.reg.set_admin_state("dn1", DECOMMISSIONING)
    c.bm.recheck_node("dn1")
    c.bm.tick(0)
    assert c.bm.missing_count() == 0 and c.bm.under_replicated_count() == 1
    [cmd] = c.commands("dn1")
    assert cmd[0] == REPLICATE and cmd[4] == ("dn2",)


def test_an_excluded_node_registers_decommissioning_and_cancel_returns_it() -> None:
    """After a NameNode restart the namespace names the excluded nodes before they
    register again: they come back decommissioning, and finish as before."""
    c = Cluster(3)
    c.reg.excluded = {"dn4"}
    node = c.reg.register("dn4", "h:4", "/r", 10 * GiB, 0, 10 * GiB, now_ms=0)
    assert node.admin_state == DECOMMISSIONING
    assert c.bm.tick(0) == ["dn4"]                 # it holds nothing: done at once
    assert c.reg.sync_admin_state("dn4") is False  # still excluded: stays decommissioned
    c.reg.excluded.discard("dn4")
    assert c.reg.sync_admin_state("dn4") is True and node.in_service


def test_open_files_are_listed_with_holder_and_since() -> None:
    c = Cluster(nodes=3)
    c.file("/done", 3)
    c.file("/open", 3, close=False)           # created at mtime 1 by client "c"
    report = c.fsck()
    assert report.open_files == 1
    assert report.open_file_details == [fsck.OpenFile("/open", "c", 1)]
    assert report.notes == []


def test_replication_above_the_live_datanodes_is_explained() -> None:
    c = Cluster(nodes=2)
    c.report("dn1", *c.file("/wide", 5))
    c.report("dn2", *c.ns.get_file("/wide").blocks)
    report = c.fsck()
    assert report.under_replicated == 1 and report.status == fsck.DEGRADED
    assert report.notes == ["1 file(s) want more replicas (up to 5) than the 2 live "
                            "DataNode(s): their blocks stay under-replicated until more "
                            "DataNodes join"]
