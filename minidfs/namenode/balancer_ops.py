"""The NameNode's side of the balancer (docs/balancer.md): plain values in and out.

Called by client_servicer.py for GetDatanodeBlocks, GetBlockReplicas, MoveReplica
and SetBalancerBandwidth. The balancer itself runs in the client
(minidfs/client/balancer.py): it reads the DataNode report and these block lists,
plans moves (minidfs/balancer/plan.py) and asks for them one by one; the block
manager carries each out with the ordinary REPLICATE command and a delete hint,
so nothing here copies or deletes by itself. Every call is a superuser's, as
HDFS's balancer and dfsadmin are.
"""
from __future__ import annotations

import random
from typing import NamedTuple

from minidfs import errors
from minidfs.namenode import permission_checker as perm
from minidfs.namenode.datanode_ops import check_name
from minidfs.namenode.inode import BlockInfo
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.namenode.permission_checker import Caller

DEFAULT_BALANCER_BLOCKS = 10_000
MAX_BALANCER_BLOCKS = 100_000
MAX_BLOCK_IDS_PER_CALL = 10_000
# A bytes/s limit below this would stall a 64 KiB chunk for minutes.
MIN_BANDWIDTH_BYTES_PER_S = 1024
MAX_BANDWIDTH_BYTES_PER_S = 1 << 50


class BalancerBlockView(NamedTuple):
    block_id: int
    genstamp: int
    length: int
    locations: list[str]   # nodes with a live replica
    replication: int
    moving: bool = False
    holders: tuple[str, ...] = ()   # every node listed, live or not


class BalancerOperations:
    def __init__(self, fs: Namesystem) -> None:
        self.fs = fs

    def _view(self, block: BlockInfo) -> BalancerBlockView:
        return BalancerBlockView(block.id, block.genstamp, block.length,
                                 sorted(self.fs.bm.live_replicas(block)),
                                 block.expected_replication, self.fs.bm.moving(block.id),
                                 tuple(sorted(block.replicas or ())))

    def _known_node(self, name: str, what: str) -> str:
        check_name(name)
        if self.fs.registry.get(name) is None:
            raise errors.InvalidArgument(f"{name}: no such DataNode ({what})")
        return name

    def datanode_blocks(self, name: str, max_blocks: int,
                        caller: Caller | None = None) -> list[BalancerBlockView]:
        if caller is not None:
            perm.check_super(caller, "balance")
        self._known_node(name, "blocks of")
        if not 0 <= max_blocks <= MAX_BALANCER_BLOCKS:
            raise errors.InvalidArgument(
                f"{max_blocks}: max_blocks must be between 1 and {MAX_BALANCER_BLOCKS}")
        return [self._view(b) for b in self.fs.bm.balancer_blocks(
            name, max_blocks or DEFAULT_BALANCER_BLOCKS, start=random.randrange(1 << 62))]

    def block_replicas(self, block_ids: list[int],
                       caller: Caller | None = None) -> list[BalancerBlockView]:
        if caller is not None:
            perm.check_super(caller, "balance")
        if len(block_ids) > MAX_BLOCK_IDS_PER_CALL:
            raise errors.InvalidArgument(
                f"{len(block_ids)} block ids: at most {MAX_BLOCK_IDS_PER_CALL} per call")
        blocks = self.fs.bm.blocks
        return [self._view(blocks[i]) for i in block_ids if i in blocks]

    def move_replica(self, block_id: int, source: str, target: str,
                     caller: Caller | None = None) -> None:
        if caller is not None:
            perm.check_super(caller, "balance")
        self._known_node(source, "source")
        self._known_node(target, "target")
        if source == target:
            raise errors.InvalidArgument(f"{source}: source and target are the same DataNode")
        if block_id <= 0:
            raise errors.InvalidArgument(f"{block_id}: not a block id")
        self.fs.safemode.check(f"block {block_id}")
        self.fs.bm.move_replica(block_id, source, target, mono_ms())

    def set_bandwidth(self, bytes_per_s: int, caller: Caller | None = None) -> None:
        """Held in memory and sent on every heartbeat reply, so every live DataNode
        (and one that restarts) takes it within a heartbeat."""
        if caller is not None:
            perm.check_super(caller, "set-bandwidth")
        if not MIN_BANDWIDTH_BYTES_PER_S <= bytes_per_s <= MAX_BANDWIDTH_BYTES_PER_S:
            raise errors.InvalidArgument(
                f"{bytes_per_s}: bandwidth must be at least {MIN_BANDWIDTH_BYTES_PER_S} bytes/s")
        self.fs.balance_bandwidth_bytes_per_s = bytes_per_s
