"""The order in which a reader is offered a block's replicas. Pure.

Called by client_ops.get_block_locations (on the active and on observers). Replicas
are ranked by distance to the reader - its own DataNode, then its rack, then the
rest (and a finalized replica before one still being written) - as before. Within
one rank HDFS shuffles the replicas (DatanodeManager.sortLocatedBlocks) so that
readers spread over every holder instead of all reading the first; here the
shuffle is weighted against load: a replica's chance to come first is
1 / (1 + active transfers of its node), so a busy node is picked less, but never
left out. The caller passes the random source (seeded in tests).
"""
from __future__ import annotations

import random
from typing import Callable, Hashable, Sequence, TypeVar

T = TypeVar("T")


def weighted_shuffle(items: Sequence[T], load_of: Callable[[T], int],
                     rng: random.Random) -> list[T]:
    """items in a random order where lighter-loaded ones tend to come first
    (Efraimidis-Spirakis: sort by u ** (1 / weight), u uniform in (0, 1])."""
    keyed = [((1.0 - rng.random()) ** (1 + max(0, load_of(item))), i, item)
             for i, item in enumerate(items)]
    keyed.sort(key=lambda k: (-k[0], k[1]))
    return [item for _, _, item in keyed]


def order_replicas(names: Sequence[str], rank_of: Callable[[str], Hashable],
                   load_of: Callable[[str], int], rng: random.Random) -> list[str]:
    """names grouped by rank_of (ascending: nearest first), each group in a
    load-weighted random order."""
    groups: dict[Hashable, list[str]] = {}
    for name in sorted(names):
        groups.setdefault(rank_of(name), []).append(name)
    ordered: list[str] = []
    for rank in sorted(groups):
        ordered += weighted_shuffle(groups[rank], load_of, rng)
    return ordered
