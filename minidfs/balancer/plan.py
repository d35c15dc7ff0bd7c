"""What the balancer moves in one iteration. Pure: node and block facts in, moves out.

Called by minidfs/client/balancer.py once per iteration with the NameNode's
DataNode report and the movable blocks of the nodes that must give. HDFS's
Balancer, simplified:

- a node's use is used / capacity; the cluster's mean is sum(used) / sum(capacity);
- a node is over-utilized above mean + threshold, under-utilized below
  mean - threshold; the cluster is balanced when no node is either;
- sources are the nodes above the mean (over-utilized first), targets the nodes
  below it (under-utilized first), HDFS's pairing order: over -> under, over ->
  below-mean, above-mean -> under;
- a source gives at most (use - mean) x capacity, a target takes at most
  (mean - use) x capacity and never more than it has remaining; each block moves
  at most once per iteration, only to a node not holding it (in any state), and only if its
  replicas span as many racks after the move (racks.py);
- bytes per source per iteration are capped (max_bytes_per_source), so the next
  iteration plans from a fresh report rather than from old guesses.
"""
from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple, Sequence

from minidfs.balancer.racks import keeps_racks

DEFAULT_THRESHOLD_PCT = 10.0
DEFAULT_MAX_BYTES_PER_SOURCE = 1 << 30


class Node(NamedTuple):
    name: str
    rack: str
    capacity: int
    used: int
    remaining: int

    @property
    def use_pct(self) -> float:
        return 100.0 * self.used / self.capacity if self.capacity else 0.0


class Block(NamedTuple):
    block_id: int
    length: int
    locations: tuple[str, ...]   # nodes with a live replica
    # Nodes the NameNode lists for the block in any state (a partial copy a killed
    # transfer left, a replica being deleted): never a target. () = locations.
    holders: tuple[str, ...] = ()


class Move(NamedTuple):
    block_id: int
    length: int
    source: str
    target: str


def mean_pct(nodes: Sequence[Node]) -> float:
    capacity = sum(n.capacity for n in nodes)
    return 100.0 * sum(n.used for n in nodes) / capacity if capacity else 0.0


def spread_pct(nodes: Sequence[Node]) -> float:
    """How far the node furthest from the mean is from it, in points of use."""
    mean = mean_pct(nodes)
    return max((abs(n.use_pct - mean) for n in nodes), default=0.0)


def is_balanced(nodes: Sequence[Node], threshold_pct: float) -> bool:
    return spread_pct(nodes) <= threshold_pct


Groups = tuple[list[Node], list[Node], list[Node], list[Node]]


def _groups(nodes: Sequence[Node], threshold_pct: float) -> Groups:
    """(over-utilized, above average, below average, under-utilized)."""
    mean = mean_pct(nodes)
    over = [n for n in nodes if n.use_pct > mean + threshold_pct]
    above = [n for n in nodes if mean < n.use_pct <= mean + threshold_pct]
    below = [n for n in nodes if mean - threshold_pct <= n.use_pct < mean]
    under = [n for n in nodes if n.use_pct < mean - threshold_pct]
    # Most extreme first: the fullest sources, the emptiest targets.
    for group in (over, above):
        group.sort(key=lambda n: (-n.use_pct, n.name))
    for group in (below, under):
        group.sort(key=lambda n: (n.use_pct, n.name))
    return over, above, below, under


def sources_of(nodes: Sequence[Node], threshold_pct: float) -> list[str]:
    """The nodes that may give bytes this iteration (whose blocks the caller fetches)."""
    over, above, _, under = _groups(nodes, threshold_pct)
    return [n.name for n in over + (above if under else [])]


def plan_moves(nodes: Sequence[Node], blocks: Mapping[str, Iterable[Block]],
               threshold_pct: float = DEFAULT_THRESHOLD_PCT,
               max_bytes_per_source: int = DEFAULT_MAX_BYTES_PER_SOURCE) -> list[Move]:
    """The moves of one iteration; empty when balanced (or when nothing can move).
    `blocks`: the movable blocks of each source (nodes not named have none)."""
    if is_balanced(nodes, threshold_pct):
        return []
    mean = mean_pct(nodes)
    over, above, below, under = _groups(nodes, threshold_pct)
    racks = {n.name: n.rack for n in nodes}
    give = {n.name: min(max_bytes_per_source, int((n.use_pct - mean) / 100 * n.capacity))
            for n in over + above}
    take = {n.name: min(n.remaining, int((mean - n.use_pct) / 100 * n.capacity))
            for n in below + under}
    offered = {source: list(source_blocks) for source, source_blocks in blocks.items()}
    # The smallest block a source offers: once neither side can fit it, that pair
    # is done without looking at every block again.
    smallest = {source: min((b.length for b in bs), default=0) for source, bs in offered.items()}
    moved: set[int] = set()   # a block moves at most once an iteration
    moves: list[Move] = []
    for sources, targets in ((over, under), (over, below), (above, under)):
        for source in sources:
            name = source.name
            for target in targets:
                for b in offered.get(name, ()):
                    room = min(take[target.name], give[name] + _slack(give[name]))
                    if give[name] <= 0 or smallest[name] > room:
                        break
                    if (b.length > room or b.block_id in moved or name not in b.locations
                            or target.name in b.holders
                            or not keeps_racks({n: racks.get(n, "") for n in b.locations},
                                               name, target.name, target.rack)):
                        continue
                    moved.add(b.block_id)
                    give[name] -= b.length
                    take[target.name] -= b.length
                    moves.append(Move(b.block_id, b.length, name, target.name))
    return moves


def _slack(give_bytes: int) -> int:
    """A source may overshoot its share by up to half of it: with blocks about the
    size of the imbalance, no block would ever fit exactly."""
    return give_bytes // 2
