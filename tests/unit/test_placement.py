"""Replica placement: writer first, least loaded, racks, exclusions, room, dead nodes."""
from __future__ import annotations

import pytest

from minidfs import errors
from minidfs.namenode.datanode_registry import DatanodeRegistry
from minidfs.namenode.placement import choose_targets

GiB = 1 << 30


def registry(*nodes: tuple[str, str, int]) -> DatanodeRegistry:
    reg = DatanodeRegistry(dead_node_interval_ms=10_000)
    for name, rack, remaining in nodes:
        reg.register(name, f"h:{len(reg.nodes) + 1000}", rack, 10 * GiB, 0, remaining, now_ms=0)
    return reg


def names(nodes) -> list[str]:
    return [n.name for n in nodes]


def test_writer_first_then_least_loaded() -> None:
    reg = registry(("dn1", "/r", GiB), ("dn2", "/r", 5 * GiB), ("dn3", "/r", 3 * GiB))
    assert names(choose_targets(reg.nodes.values(), 3, 1024)) == ["dn2", "dn3", "dn1"]
    assert names(choose_targets(reg.nodes.values(), 3, 1024, writer="dn1")) == ["dn1", "dn2", "dn3"]
    reg.nodes["dn2"].active_transfers = 5
    assert names(choose_targets(reg.nodes.values(), 1, 1024)) == ["dn3"]


def test_scheduled_blocks_spread_a_burst() -> None:
    reg = registry(("dn1", "/r", GiB), ("dn2", "/r", GiB))
    first = choose_targets(reg.nodes.values(), 1, 1024)[0]
    first.scheduled += 1
    assert choose_targets(reg.nodes.values(), 1, 1024)[0].name != first.name


def test_exclusions_dead_nodes_and_room() -> None:
    reg = registry(("dn1", "/r", GiB), ("dn2", "/r", GiB), ("dn3", "/r", 100), ("dn4", "/r", GiB))
    reg.nodes["dn4"].last_heartbeat_ms = -20_000
    assert [n.name for n in reg.tick(now_ms=1)] == ["dn4"]
    got = choose_targets(reg.nodes.values(), 3, 1024, writer="dn1", excluded={"dn1"})
    assert names(got) == ["dn2"]   # dn1 excluded, dn3 too full, dn4 dead
    with pytest.raises(errors.Unavailable, match="no DataNode can take a block"):
        choose_targets(reg.nodes.values(), 2, 1024, excluded={"dn1", "dn2"})


def test_rack_aware_pipeline() -> None:
    reg = registry(("a1", "/ra", GiB), ("a2", "/ra", GiB), ("b1", "/rb", GiB // 2),
                   ("b2", "/rb", GiB // 2))
    got = choose_targets(reg.nodes.values(), 3, 1024, writer="a1")
    assert got[0].name == "a1"
    assert got[1].rack == "/rb"
    assert got[2].rack == got[1].rack and got[2].name != got[1].name
    # Re-replication: the existing replica's rack counts.
    more = choose_targets(reg.nodes.values(), 1, 1024, existing=[reg.nodes["a1"]])
    assert more[0].rack == "/rb"


def test_fewer_nodes_than_replication() -> None:
    reg = registry(("dn1", "/r", GiB), ("dn2", "/r", GiB))
    assert len(choose_targets(reg.nodes.values(), 3, 1024)) == 2
