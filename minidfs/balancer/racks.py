"""The rack rule of a replica move, shared by the balancer's planner and the
NameNode that carries the move out. Pure.

HDFS's balancer never lets a move make a block's placement worse: the replicas
after the move span at least as many racks as before (with one rack, any move
keeps that). The NameNode re-checks it, so a planner working from an old report
cannot break the placement policy.
"""
from __future__ import annotations

from typing import Mapping


def keeps_racks(holders: Mapping[str, str], source: str, target: str, target_rack: str) -> bool:
    """holders: node -> rack of every live replica (source among them). True when
    moving the source's replica to target spans as many racks as before."""
    before = set(holders.values())
    after = {rack for node, rack in holders.items() if node != source} | {target_rack}
    return target not in holders and len(after) >= len(before)
