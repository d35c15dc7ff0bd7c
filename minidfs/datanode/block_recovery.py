"""Lease recovery on the DataNode side: this node is the primary of a block whose
writer is gone (HDFS's BlockRecoveryWorker, much reduced).

Called by commands.py for a NameNode RECOVER command. The NameNode has already
logged the block's recovery genstamp. The primary asks every node named in the
command (itself included, over the same RPC) what it holds of the block
(GetReplicaInfo), keeps the replicas at least as new as the command's genstamp (0:
any, the nodes being the block's pipeline), agrees on the shortest of their lengths and has each finalize its replica at that
length under the recovery genstamp (RecoverReplica). Every node then reports the
finalized replica as usual, and the NameNode closes the file with that length.

Why the shortest: a byte the writer was told is acknowledged (every hflush) is on
every node of the pipeline, so the shortest surviving replica still holds all of
them; bytes beyond it were never acknowledged, and dropping them is HDFS's rule.
A node that does not answer is left out; with none left the command does
nothing, and the NameNode chooses another primary after a while.
"""
from __future__ import annotations

import asyncio
import logging

import grpc

from minidfs.datanode.peers import Peers
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb

log = logging.getLogger("minidfs.datanode.recovery")

REPLICA_INFO_DEADLINE_S = 10.0
# Cutting and finalizing a replica is two fsyncs and renames.
RECOVER_REPLICA_DEADLINE_S = 30.0


async def _info(peers: Peers, node: common.DatanodeId, block_id: int) -> pb.ReplicaInfo | None:
    try:
        return await peers.stub(node.address).GetReplicaInfo(
            pb.ReplicaInfoRequest(block_id=block_id), timeout=REPLICA_INFO_DEADLINE_S)
    except grpc.RpcError as e:
        log.warning("block %d: recovery: %s did not answer: %s", block_id, node.name, e.details())
        peers.forget(node.address)
        return None


async def _finalize(peers: Peers, node: common.DatanodeId, block: common.Block,
                    old_genstamp: int) -> bool:
    try:
        await peers.stub(node.address).RecoverReplica(
            pb.RecoverReplicaRequest(block=block, old_genstamp=old_genstamp),
            timeout=RECOVER_REPLICA_DEADLINE_S)
        return True
    except grpc.RpcError as e:
        log.warning("block %d: recovery: %s could not finalize: %s", block.id, node.name,
                    e.details())
        return False


async def recover_block(peers: Peers, block: common.Block, recovery_genstamp: int,
                        targets: list[common.DatanodeId]) -> int | None:
    """Runs one recovery; the agreed length, or None when no replica could be had."""
    infos = await asyncio.gather(*(_info(peers, node, block.id) for node in targets))
    usable = [(node, info) for node, info in zip(targets, infos)
              if info is not None and info.exists and block.genstamp <= info.block.genstamp
              and (info.block.genstamp < recovery_genstamp or info.finalized)]
    if not usable:
        log.warning("block %d: recovery: no replica at genstamp %d or newer on %s", block.id,
                    block.genstamp, ",".join(t.name for t in targets))
        return None
    length = min(info.block.length for _, info in usable)
    agreed = common.Block(id=block.id, genstamp=recovery_genstamp, length=length)
    done = await asyncio.gather(*(_finalize(peers, node, agreed, block.genstamp)
                                  for node, _ in usable))
    log.info("block %d: recovered at %d bytes with genstamp %d on %s", block.id, length,
             recovery_genstamp, ",".join(node.name for (node, _), ok in zip(usable, done) if ok))
    return length if any(done) else None
