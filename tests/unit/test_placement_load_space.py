"""Placement by load (considerLoad) and free space (AvailableSpace): a node far above
the mean load is avoided, emptier nodes get more blocks, racks still respected."""
from __future__ import annotations

import collections
import random

from minidfs.namenode.datanode_registry import DatanodeRegistry
from minidfs.namenode.placement import AvailableSpace, choose_targets, overloaded

GiB = 1 << 30


def registry(*nodes: tuple[str, str, int]) -> DatanodeRegistry:
    reg = DatanodeRegistry(dead_node_interval_ms=10_000)
    for name, rack, remaining in nodes:
        reg.register(name, f"h:{len(reg.nodes) + 1000}", rack, 10 * GiB, 0, remaining, now_ms=0)
    return reg


def test_overloaded_node_is_avoided_even_as_the_writer() -> None:
    reg = registry(*((f"dn{i}", "/r", 5 * GiB) for i in range(1, 5)))
    reg.nodes["dn1"].active_transfers = 12
    assert overloaded(list(reg.nodes.values())) == {"dn1"}
    space = AvailableSpace(random.Random(5))
    for _ in range(100):
        got = [n.name for n in choose_targets(reg.nodes.values(), 3, 1024, writer="dn1",
                                              space=space)]
        assert "dn1" not in got
    # Still used when nothing else fits: a write never fails for load alone.
    got = choose_targets(reg.nodes.values(), 1, 1024, excluded={"dn2", "dn3", "dn4"}, space=space)
    assert [n.name for n in got] == ["dn1"]


def test_emptier_nodes_get_more_first_replicas() -> None:
    reg = registry(("full", "/r", 1 * GiB), ("empty", "/r", 9 * GiB), ("mid", "/r", 5 * GiB))
    space = AvailableSpace(random.Random(11))
    firsts = collections.Counter(
        choose_targets(reg.nodes.values(), 1, 1024, space=space)[0].name for _ in range(3000))
    assert firsts["empty"] > firsts["mid"] > firsts["full"] > 0, firsts


def test_racks_still_respected_with_available_space() -> None:
    reg = registry(("a1", "/ra", 9 * GiB), ("a2", "/ra", 9 * GiB), ("b1", "/rb", GiB),
                   ("b2", "/rb", GiB))
    space = AvailableSpace(random.Random(2))
    for _ in range(200):
        got = choose_targets(reg.nodes.values(), 3, 1024, space=space)
        assert got[1].rack != got[0].rack
        assert got[2].rack == got[1].rack and got[2].name != got[1].name
