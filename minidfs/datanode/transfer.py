"""Copies a replica to other DataNodes: a whole finalized one for a NameNode
REPLICATE command (datanode/commands.py), or the acknowledged start of one being
written when pipeline recovery adds a node (TransferReplica, datanode/service.py).

The copy is an ordinary WriteBlock pipeline with stage TRANSFER: the targets form
the pipeline, this node is its client. A whole copy ends with `last` (the targets
finalize); a partial one does not, so the targets keep it in rbw/ for the
recovery stream. The data is re-verified against the stored checksums as it is
read, so a corrupt local replica is never spread; it raises ChecksumError instead.
"""
from __future__ import annotations

import asyncio
import logging

import grpc

from minidfs import errors
from minidfs.checksum import chunk_count, first_bad_chunk
from minidfs.metrics.traffic import TRAFFIC
from minidfs.datanode.peers import Peers
from minidfs.datanode.storage import Storage
from minidfs.rpc import channels
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb
from minidfs.throttle import TokenBucket

log = logging.getLogger("minidfs.datanode.transfer")

# Same framing as a client: several chunks per message.
TRANSFER_REQUEST_BYTES = 1024 * 1024


async def send_block(storage: Storage, peers: Peers, block_id: int, genstamp: int,
                     targets: list[common.DatanodeId], prefix_bytes: int | None = None,
                     throttle: TokenBucket | None = None) -> None:
    """Streams the finalized replica to targets, or with prefix_bytes only its first
    prefix_bytes (any replica state; left unfinalized on the targets);
    PipelineError if any target failed. With a throttle, each message waits for
    its bytes (re-replication and balancing; pipeline recovery is not throttled,
    a writer waits on it)."""
    reader = storage.open_reader(block_id, genstamp)
    replica = reader.replica
    whole = prefix_bytes is None
    if (whole and not replica.finalized) or (not whole and prefix_bytes > replica.length):
        reader.close()
        raise errors.PreconditionFailed(
            f"block {block_id}: replica is not finalized" if whole else
            f"block {block_id}: replica has {replica.length} bytes, not {prefix_bytes}")
    length = replica.length if whole else prefix_bytes
    header = pb.WriteHeader(
        block=common.Block(id=block_id, genstamp=replica.genstamp, length=length),
        downstream=targets[1:], client_name="", stage=pb.WriteHeader.TRANSFER,
        chunk_size=reader.chunk_size)
    call = peers.stub(targets[0].address).WriteBlock(timeout=channels.DATA_STREAM_DEADLINE_S)
    step = max(reader.chunk_size, TRANSFER_REQUEST_BYTES - TRANSFER_REQUEST_BYTES % reader.chunk_size)

    async def send() -> int:
        offset, seqno = 0, 0
        while True:
            size = min(step, length - offset)
            if throttle is not None:
                wait_s = throttle.reserve(size, asyncio.get_running_loop().time())
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
            data, checksums = await asyncio.to_thread(reader.read, offset, size)
            bad = first_bad_chunk(data, checksums, reader.chunk_size)
            if bad is not None or len(data) != size:
                TRAFFIC.checksum_errors += 1
                raise errors.ChecksumError(f"block {block_id}: local replica is corrupt at chunk "
                                           f"{offset // reader.chunk_size + (bad or 0)}")
            seqno += max(1, chunk_count(size, reader.chunk_size))
            end = offset + size >= length
            try:
                await call.write(pb.WriteBlockRequest(header=header if offset == 0 else None, seqno=seqno,
                                                      offset=offset, data=data, checksums=checksums,
                                                      last=end and whole))
            except asyncio.InvalidStateError:
                # The target already ended the call (it refused the block: a replica
                # of it is still there, or no space): its ack says why, and the
                # copy fails as a PipelineError the caller reports, instead of an
                # error nobody handles (seen once reads from the disk took longer
                # than that refusal to come back).
                return -1

            TRAFFIC.bytes_read += size
            offset += size
            if end:
                await call.done_writing()
                return seqno

    async def read_acks() -> int:
        acked = -1
        async for ack in call:
            failed = [i for i, s in enumerate(ack.statuses) if s != pb.WriteBlockAck.SUCCESS]
            if failed or len(ack.statuses) != len(targets):
                where = targets[failed[0]].name if failed else "?"
                raise errors.PipelineError(f"block {block_id}: transfer to {where} failed: {ack.message}")
            acked = ack.seqno
        return acked

    sender = asyncio.create_task(send())
    acks = asyncio.create_task(read_acks())
    try:
        await asyncio.wait({sender, acks}, return_when=asyncio.FIRST_EXCEPTION)
        if sender.done() and sender.exception() is not None:
            raise sender.exception()
        last_seqno = await sender
        if await acks != last_seqno:
            raise errors.PipelineError(f"block {block_id}: transfer ended before the last ack")
    except grpc.RpcError as e:
        peers.forget(targets[0].address)
        raise errors.PipelineError(f"block {block_id}: transfer to {targets[0].name} failed: "
                                   f"{e.code().name.lower()}: {e.details()}") from None
    finally:
        for task in (sender, acks):
            task.cancel()
        await asyncio.gather(sender, acks, return_exceptions=True)
        call.cancel()
        reader.close()
