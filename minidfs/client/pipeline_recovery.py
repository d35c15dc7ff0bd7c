"""Client-side pipeline recovery: a DataNode died while a block was being written.

Called by DFSOutputStream (output_stream.py) when a block's pipeline breaks
after setup. HDFS's recovery, step by step:

1. drop the failed node (the ack that failed names its position; a stream error
   blames the first node; a silent pipeline too);
2. if the replace-datanode-on-failure policy says so (`should_replace`), ask the
   NameNode for one more node (GetAdditionalDatanode) and have a survivor copy
   the acknowledged start of its replica to it (TransferReplica);
3. ask the NameNode for a new generation stamp (UpdateBlockForPipeline, logged
   before it answers): a replica left behind with the old one is stale;
4. open a RECOVERY pipeline on the survivors: each cuts its replica to the
   acknowledged length and takes the new genstamp (they agree on the length
   because the client names it: every survivor acked at least that much);
5. resend every request not acked by all, then the write goes on.

A failure during steps 2-5 goes round again without the node that failed, at
most MAX_RECOVERIES_PER_BLOCK times; with no DataNode left the write fails with
PipelineError. A replacement that cannot be found or filled is skipped (best
effort): the NameNode re-replicates the block once the file is closed.
"""
from __future__ import annotations

import logging
from typing import Callable

import grpc

from minidfs import errors
from minidfs.client.namenode_client import NamenodeClient
from minidfs.rpc import client_namenode_pb2 as nn_pb
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb
from minidfs.rpc import datatransfer_pb2_grpc
from minidfs.security.datanode_tokens import token_metadata

log = logging.getLogger("minidfs.client.recovery")

# Each round drops at least one node, so a 3-node pipeline has few to give; the
# bound also stops a cycle of replacements that keep failing.
MAX_RECOVERIES_PER_BLOCK = 8
# Copying the acknowledged start of a block (at most one block) to a new node.
TRANSFER_DEADLINE_S = 120.0
# HDFS's ReplaceDatanodeOnFailure DEFAULT policy applies from this replication.
REPLACE_MIN_REPLICATION = 3


def should_replace(replication: int, survivors: int, flushed: bool = False) -> bool:
    """HDFS's default replace-datanode-on-failure policy: with replication >= 3, add
    a node when no more than half of it is left (survivors <= r / 2), or, for a block
    that was hflushed or appended to (readers rely on its bytes already), whenever
    one was lost."""
    if replication < REPLACE_MIN_REPLICATION:
        return False
    return survivors <= replication // 2 or (flushed and survivors < replication)


def recover(nn: NamenodeClient, path: str, client_name: str, replication: int, broken,
            connect: Callable[[str], grpc.Channel], make_pipeline: Callable[..., object],
            flushed: bool = False):
    """A working pipeline continuing `broken` (a failed output_stream._BlockPipeline)
    with every un-acked request resent; PipelineError when none can be built."""
    pipeline = broken
    pending = broken.pending()
    excluded: list[str] = []
    block_id = broken.block.id
    for _ in range(MAX_RECOVERIES_PER_BLOCK - broken.recoveries):
        failed = pipeline.failed_node()
        excluded.append(failed)
        survivors = [t for t in pipeline.targets if t.name != failed]
        log.warning("%s: block %d: dropping %s from the pipeline (%s); %d left",
                    path, block_id, failed, pipeline.error, len(survivors))
        if not survivors:
            raise errors.PipelineError(
                f"{path}: block {block_id}: no DataNode left in the pipeline (last failure: "
                f"{pipeline.error})")
        acked = pipeline.acked_length
        block = pipeline.block
        if should_replace(replication, len(survivors), flushed):
            survivors += _replacement(nn, path, client_name, block, survivors, excluded, acked,
                                      pipeline.chunk_size, connect, pipeline.token)
        reply = nn.call("UpdateBlockForPipeline", nn_pb.UpdateBlockForPipelineRequest(
            path=path, client_name=client_name, block=block, nodes=[t.name for t in survivors]))
        located = common.LocatedBlock(block=reply.block, locations=survivors,
                                      block_token=pipeline.token)
        pipeline = make_pipeline(path, located, pipeline.chunk_size, connect(survivors[0].address),
                                 length=broken.length, seqno=broken.seqno, acked_length=acked,
                                 recoveries=pipeline.recoveries + 1)
        queued = 0
        try:
            pipeline.setup(recovery=True)
            for sent in pending:
                queued += 1
                pipeline.resend(sent)
        except errors.PipelineError:
            pending = pipeline.pending() + pending[queued:]
            continue
        log.info("%s: block %d: pipeline recovered on %s with genstamp %d at %d bytes", path,
                 block_id, ",".join(t.name for t in survivors), reply.block.genstamp, acked)
        return pipeline
    raise errors.PipelineError(f"{path}: block {block_id}: pipeline recovery gave up after "
                               f"{MAX_RECOVERIES_PER_BLOCK} attempts (last failure: {pipeline.error})")


def _replacement(nn: NamenodeClient, path: str, client_name: str, block: common.Block,
                 survivors: list[common.DatanodeId], excluded: list[str], acked: int,
                 chunk_size: int, connect: Callable[[str], grpc.Channel],
                 token: bytes = b"") -> list[common.DatanodeId]:
    """One new DataNode holding the block's first `acked` bytes, or [] if none can be
    had (best effort: the write goes on with the survivors)."""
    try:
        added = list(nn.call("GetAdditionalDatanode", nn_pb.GetAdditionalDatanodeRequest(
            path=path, client_name=client_name, block=block,
            existing=[t.name for t in survivors], excluded=list(dict.fromkeys(excluded)),
            count=1)).nodes)
    except errors.Unavailable as e:
        log.warning("%s: block %d: no DataNode to add to the pipeline: %s", path, block.id, e)
        return []
    if not added or acked == 0:
        return added
    source = survivors[0]
    try:
        datatransfer_pb2_grpc.DataTransferStub(connect(source.address)).TransferReplica(
            pb.TransferReplicaRequest(
                block=common.Block(id=block.id, genstamp=block.genstamp, length=acked),
                targets=added, chunk_size=chunk_size),
            timeout=TRANSFER_DEADLINE_S, metadata=token_metadata(token))
    except grpc.RpcError as e:
        log.warning("%s: block %d: copying %d bytes from %s to %s failed: %s", path, block.id,
                    acked, source.name, ",".join(t.name for t in added), e.details())
        excluded.extend(t.name for t in added)
        return []
    return added
