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

Fewer eligible nodes than asked: as many as there are; none at all: Unavailable.
"""
from __future__ import annotations

from typing import Collection, Iterable, Protocol, Sequence

from minidfs import errors


class NodeView(Protocol):
    name: str
    rack: str
    remaining: int
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


def choose_targets(candidates: Iterable[NodeView], count: int, block_size: int,
                   writer: str | None = None, excluded: Collection[str] = (),
                   existing: Sequence[NodeView] = ()) -> list[NodeView]:
    """Up to count nodes in pipeline order. `existing` holds nodes that already have
    the block (re-replication): they are never chosen but count for rack spreading."""
    live = [n for n in candidates if n.live]
    taken = {n.name for n in existing}
    eligible = sorted((n for n in live if n.in_service and n.name not in excluded
                       and n.name not in taken and has_room(n, block_size)), key=_load_key)
    multi_rack = len({n.rack for n in live}) > 1
    chosen: list[NodeView] = list(existing)
    result: list[NodeView] = []
    for _ in range(count):
        node = _pick(eligible, chosen, writer, multi_rack)
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
          multi_rack: bool) -> NodeView | None:
    if not eligible:
        return None
    if not chosen:
        local = next((n for n in eligible if n.name == writer), None) if writer else None
        return local or eligible[0]
    if not multi_rack:
        return eligible[0]
    racks = [n.rack for n in chosen]
    if len(chosen) == 1:
        return _first(eligible, lambda n: n.rack != racks[0]) or eligible[0]
    if len(chosen) == 2 and racks[0] != racks[1]:
        return _first(eligible, lambda n: n.rack == racks[1]) or eligible[0]
    return min(eligible, key=lambda n: (racks.count(n.rack), _load_key(n)))


def _first(nodes: list[NodeView], wanted) -> NodeView | None:
    return next((n for n in nodes if wanted(n)), None)
