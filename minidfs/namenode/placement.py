"""Replica placement: which DataNodes get a new block or a re-replicated copy. Pure.

Called by the namesystem for AddBlock (the write pipeline) and by the block
manager for re-replication. HDFS's default policy:

- 1st replica on the writer's own DataNode when it is live and has room, else the
  least-loaded node (fewest transfers in flight and blocks scheduled, then most
  space remaining, then name, so the choice is deterministic);
- when live nodes carry more than one rack label: the 2nd on another rack than
  the 1st, the 3rd on the 2nd's rack (a different node), the rest anywhere
  (preferring the rack with the fewest replicas);
- never an excluded node, a dead or decommissioning node, or one without room for
  a block.

Two refinements from HDFS (docs/observers.md, "Placement"):

- **considerLoad**: a node whose load (transfers in flight + blocks scheduled) is
  above LOAD_FACTOR x the mean of the eligible nodes (and above
  MIN_OVERLOAD_TRANSFERS) is chosen only when no other
  node fits (HDFS excludes it outright; here a write never fails for it).
- **AvailableSpace** (`space=AvailableSpace(rng)`, what writers get): instead of
  always the least-loaded node, two random candidates (of those the rack rule
  allows) are drawn and the one with the larger share of its capacity free wins
  with probability `preference` (HDFS's balanced-space-preference-fraction, 0.6),
  so emptier nodes fill faster without every block landing on the emptiest. Shares
  within SPACE_TOLERANCE of each other count as equal: the less loaded one wins.

Fewer eligible nodes than asked: as many as there are; none at all: Unavailable.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Collection, Iterable, Protocol, Sequence

from minidfs import errors

LOAD_FACTOR = 2.0               # HDFS's dfs.namenode.replication.considerLoad.factor
# Below this many transfers a node is never "overloaded": on an idle cluster one
# read would otherwise be twice the mean of nothing.
MIN_OVERLOAD_TRANSFERS = 2
SPACE_PREFERENCE = 0.6          # HDFS's balanced-space-preference-fraction
SPACE_TOLERANCE = 0.05          # HDFS's balanced-space-tolerance (5 % of capacity)


class NodeView(Protocol):
    name: str
    rack: str
    remaining: int
    capacity: int
    active_transfers: int
    scheduled: int

    @property
    def live(self) -> bool: ...

    @property
    def in_service(self) -> bool: ...


def _load_key(node: NodeView) -> tuple[int, int, str]:
    return (node.active_transfers + node.scheduled, -node.remaining, node.name)


def has_room(node: NodeView, block_size: int) -> bool:
    return node.remaining >= (node.scheduled + 1) * block_size


def _load(node: NodeView) -> int:
    return node.active_transfers + node.scheduled


def overloaded(nodes: Sequence[NodeView]) -> set[str]:
    """Names of the nodes above LOAD_FACTOR x the mean load (considerLoad)."""
    if not nodes:
        return set()
    limit = LOAD_FACTOR * sum(_load(n) for n in nodes) / len(nodes)
    return {n.name for n in nodes if _load(n) > limit and _load(n) > MIN_OVERLOAD_TRANSFERS}


def free_share(node: NodeView) -> float:
    return node.remaining / node.capacity if node.capacity > 0 else 0.0


@dataclass
class AvailableSpace:
    """HDFS's AvailableSpaceBlockPlacementPolicy choice between two random candidates."""

    rng: random.Random
    preference: float = SPACE_PREFERENCE

    def pick(self, pool: list[NodeView]) -> NodeView:
        if len(pool) == 1:
            return pool[0]
        a, b = self.rng.sample(pool, 2)
        if abs(free_share(a) - free_share(b)) <= SPACE_TOLERANCE:
            return min(a, b, key=_load_key)
        emptier, fuller = (a, b) if free_share(a) > free_share(b) else (b, a)
        return emptier if self.rng.random() < self.preference else fuller


def choose_targets(candidates: Iterable[NodeView], count: int, block_size: int,
                   writer: str | None = None, excluded: Collection[str] = (),
                   existing: Sequence[NodeView] = (),
                   space: AvailableSpace | None = None) -> list[NodeView]:
    """Up to count nodes in pipeline order. `existing` holds nodes that already have
    the block (re-replication): they are never chosen but count for rack spreading.
    `space`: choose by free space (AvailableSpace) instead of least load first."""
    live = [n for n in candidates if n.live]
    taken = {n.name for n in existing}
    eligible = sorted((n for n in live if n.in_service and n.name not in excluded
                       and n.name not in taken and has_room(n, block_size)), key=_load_key)
    busy = overloaded(eligible)
    # considerLoad: the overloaded go last, so they are taken only when nothing else fits.
    eligible.sort(key=lambda n: n.name in busy)
    multi_rack = len({n.rack for n in live}) > 1
    chosen: list[NodeView] = list(existing)
    result: list[NodeView] = []
    for _ in range(count):
        node = _pick(eligible, chosen, writer, multi_rack, busy, space)
        if node is None:
            break
        eligible.remove(node)
        chosen.append(node)
        result.append(node)
    if count > 0 and not result:
        raise errors.Unavailable(
            f"no DataNode can take a block of {block_size} bytes "
            f"({len(live)} live, {len(excluded)} excluded by the client, {len(taken)} holding it)")
    return result


def _pick(eligible: list[NodeView], chosen: list[NodeView], writer: str | None,
          multi_rack: bool, busy: set[str], space: AvailableSpace | None) -> NodeView | None:
    if not eligible:
        return None
    if not chosen:
        local = next((n for n in eligible if n.name == writer), None) if writer else None
        if local is not None and local.name not in busy:
            return local
        return _best(eligible, busy, space)
    if not multi_rack:
        return _best(eligible, busy, space)
    racks = [n.rack for n in chosen]
    if len(chosen) == 1:
        return _best([n for n in eligible if n.rack != racks[0]] or eligible, busy, space)
    if len(chosen) == 2 and racks[0] != racks[1]:
        return _best([n for n in eligible if n.rack == racks[1]] or eligible, busy, space)
    fewest = min(racks.count(n.rack) for n in eligible)
    return _best([n for n in eligible if racks.count(n.rack) == fewest], busy, space)


def _best(pool: list[NodeView], busy: set[str], space: AvailableSpace | None) -> NodeView:
    """The node to take from pool (in load order, the overloaded last)."""
    calm = [n for n in pool if n.name not in busy] or pool
    if space is None:
        return calm[0]
    return space.pick(calm)

