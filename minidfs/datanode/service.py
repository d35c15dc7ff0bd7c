"""The DataTransfer gRPC servicer: a thin translator between protobuf and the
DataNode's storage and write pipeline.

Registered by datanode/server.py. WriteBlock is delegated to write_pipeline.py;
ReadBlock streams a replica range (widened to chunk boundaries) in responses of
up to READ_RESPONSE_BYTES with the stored checksums, which the reader verifies;
TransferReplica (pipeline recovery) is delegated to transfer.py; BlockChecksum hashes
a replica's stored chunk checksums (`minidfs checksum`).
"""
from __future__ import annotations

import asyncio
import collections
import hashlib

import grpc

from minidfs import errors
from minidfs.datanode import meta_format, transfer, wire, write_pipeline
from minidfs.metrics.traffic import TRAFFIC
from minidfs.datanode.storage import FINALIZED, RBW, Storage, check_block_id, check_genstamp
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb
from minidfs.rpc import datatransfer_pb2_grpc
from minidfs.rpc.status import rpc_errors

# Several chunks per response: Python gRPC pays per message, not per byte.
READ_RESPONSE_BYTES = 1024 * 1024
# Responses read ahead of the one being sent: a direct read waits ~1 ms for the
# device, so one alone left the stream waiting on it (get 450-550 MB/s).
READ_AHEAD = 2
SERVICE_NAME = "minidfs.DataTransfer"
READ_DATA_FIELD = pb.ReadBlockResponse.DESCRIPTOR.fields_by_name["data"].number


def _close_soon(stream) -> None:
    """Closes an async generator the finished call left suspended (see WriteBlock)."""
    async def close() -> None:
        try:
            await stream.aclose()
        except (RuntimeError, GeneratorExit):   # still running: it ends by itself
            pass
        except Exception:  # noqa: BLE001 - its own cleanup failed; nothing to tell
            pass
    try:
        asyncio.get_running_loop().create_task(close())
    except RuntimeError:
        pass


def add_to_server(service: "DataTransferService", server) -> None:
    """Registers the service like the generated add_DataTransferServicer_to_server,
    except that WriteBlock requests arrive as write_pipeline.Received: the parsed
    message plus its wire bytes, which the pipeline forwards without re-encoding,
    and ReadBlock yields ready wire bytes (wire.encode_with_data: one copy of the
    payload instead of protobuf's two)."""
    handlers = {
        "WriteBlock": grpc.stream_stream_rpc_method_handler(
            service.WriteBlock, request_deserializer=write_pipeline.Received.parse,
            response_serializer=pb.WriteBlockAck.SerializeToString),
        "ReadBlock": grpc.unary_stream_rpc_method_handler(
            service.ReadBlock, request_deserializer=pb.ReadBlockRequest.FromString,
            response_serializer=None),
        "GetReplicaInfo": grpc.unary_unary_rpc_method_handler(
            service.GetReplicaInfo, request_deserializer=pb.ReplicaInfoRequest.FromString,
            response_serializer=pb.ReplicaInfo.SerializeToString),
        "TransferReplica": grpc.unary_unary_rpc_method_handler(
            service.TransferReplica, request_deserializer=pb.TransferReplicaRequest.FromString,
            response_serializer=pb.TransferReplicaResponse.SerializeToString),
        "RecoverReplica": grpc.unary_unary_rpc_method_handler(
            service.RecoverReplica, request_deserializer=pb.RecoverReplicaRequest.FromString,
            response_serializer=pb.RecoverReplicaResponse.SerializeToString),
        "BlockChecksum": grpc.unary_unary_rpc_method_handler(
            service.BlockChecksum, request_deserializer=pb.BlockChecksumRequest.FromString,
            response_serializer=pb.BlockChecksumResponse.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


class DataTransferService(datatransfer_pb2_grpc.DataTransferServicer):
    # Secure mode: the block-token check (minidfs/security/datanode_tokens.py), set
    # by server.py; None in simple mode, where any caller may move bytes.
    access = None

    def __init__(self, ctx: write_pipeline.PipelineContext) -> None:
        self.ctx = ctx
        self.storage: Storage = ctx.storage
        self.active_reads = 0

    def _check(self, context, block_id: int, *modes: str) -> None:
        if self.access is not None:
            self.access.check(context, block_id, modes)

    @rpc_errors
    async def WriteBlock(self, request_iterator, context):
        authorize = None
        if self.access is not None:
            def authorize(header):
                copy = header.stage == pb.WriteHeader.TRANSFER
                self._check(context, header.block_id, "COPY" if copy else "WRITE")
        stream = write_pipeline.serve(self.ctx, request_iterator,
                                      lambda: context.send_initial_metadata(()),
                                      authorize=authorize)
        # A call that ends while this generator waits at a yield (the client has its
        # last ack and goes) is never resumed: close the pipeline's generator then,
        # or its session stays counted as a transfer in flight (and its replica
        # writer open) until garbage collection - and placement avoids busy nodes.
        context.add_done_callback(lambda _: _close_soon(stream))
        async for ack in stream:
            yield ack

    @rpc_errors
    async def ReadBlock(self, request: pb.ReadBlockRequest, context):
        block_id = check_block_id(request.block.id)
        check_genstamp(request.block.genstamp)
        self._check(context, block_id, "READ")
        reader = self.storage.open_reader(block_id, request.block.genstamp)
        self.active_reads += 1
        counted = True

        def uncount(_context=None) -> None:
            # Once, from whichever comes first: the generator's end, or the call's end
            # while the generator waits at a yield (a reader that has its bytes cancels
            # and the generator is never resumed). Replica choice and placement weigh
            # this count. The replica is closed only by the generator itself: a read
            # may still be running in a worker thread when the call ends.
            nonlocal counted
            if counted:
                counted = False
                self.active_reads -= 1
        context.add_done_callback(uncount)
        ahead: collections.deque[asyncio.Future] = collections.deque()
        try:
            length = reader.length
            if request.offset > length:
                raise errors.InvalidArgument(
                    f"block {block_id}: offset {request.offset} beyond replica length {length}")
            chunk = reader.chunk_size
            end = length
            if request.length:
                wanted_end = request.offset + request.length
                end = min(length, wanted_end + (-wanted_end) % chunk)  # whole chunks only
            position = request.offset - request.offset % chunk
            step = max(chunk, READ_RESPONSE_BYTES - READ_RESPONSE_BYTES % chunk)

            def read_at(offset: int) -> asyncio.Future:
                # Cold reads block on the disk (replicas are written past the page
                # cache, direct_io.py): in a thread, keeping the event loop serving.
                return asyncio.ensure_future(
                    asyncio.to_thread(reader.read, offset, min(step, end - offset)))
            # READ_AHEAD responses are read from the disk while earlier ones are sent.
            next_read = position
            while next_read < end or not ahead:
                ahead.append(read_at(next_read))
                next_read += step
                if len(ahead) >= READ_AHEAD:
                    break
            while True:
                size = min(step, end - position)
                try:
                    # Shielded: a cancelled call must not cancel the wrapper of a read
                    # still running in its thread, which `finally` waits for.
                    data, checksums = await asyncio.shield(ahead[0])
                    ahead.popleft()
                except OSError as e:
                    raise await asyncio.to_thread(self.storage.io_failed, reader.replica, e) from None
                if len(data) != size:
                    raise errors.ChecksumError(
                        f"block {block_id}: replica shorter than its length ({position + len(data)} < {end})")
                if next_read < end:
                    ahead.append(read_at(next_read))
                    next_read += step
                small = pb.ReadBlockResponse(offset=position, checksums=checksums, chunk_size=chunk,
                                             replica_length=length).SerializeToString()
                # Counted before the yield: a reader that has what it wants cancels the
                # stream, and code after the last yield would never run.
                TRAFFIC.bytes_read += size
                yield wire.encode_with_data(small, READ_DATA_FIELD, data)
                position += size
                if position >= end:
                    break
        finally:
            uncount()
            if ahead:
                # Reads ahead may still run in their threads: close after them, never
                # under them (a descriptor number could be reused meanwhile). Their
                # results or errors are of no interest any more.
                pending = asyncio.gather(*ahead, return_exceptions=True)
                pending.add_done_callback(lambda _: reader.close())
            else:
                reader.close()

    @rpc_errors
    async def GetReplicaInfo(self, request: pb.ReplicaInfoRequest, context) -> pb.ReplicaInfo:
        self._check(context, check_block_id(request.block_id), "READ", "WRITE", "COPY")
        replica = self.storage.get(check_block_id(request.block_id))
        if replica is None or replica.state not in (FINALIZED, RBW):
            return pb.ReplicaInfo(exists=False)
        return pb.ReplicaInfo(
            exists=True, finalized=replica.finalized,
            block=common.Block(id=replica.block_id, genstamp=replica.genstamp, length=replica.length),
            visible_length=self.storage.visible_length(replica))

    @rpc_errors
    async def RecoverReplica(self, request: pb.RecoverReplicaRequest, context):
        """Lease recovery (block_recovery.py): cut to the agreed length, finalize
        under the recovery genstamp, report it like any finalized replica."""
        block = request.block
        block_id = check_block_id(block.id)
        check_genstamp(block.genstamp)
        check_genstamp(request.old_genstamp)
        if request.old_genstamp >= block.genstamp:
            raise errors.InvalidArgument(
                f"block {block_id}: recovery genstamp {block.genstamp} is not newer than "
                f"{request.old_genstamp}")
        replica = await asyncio.to_thread(self.storage.finalize_recovery, block_id,
                                          request.old_genstamp, block.genstamp, block.length)
        self.ctx.on_finalized(replica)
        return pb.RecoverReplicaResponse(block=common.Block(
            id=replica.block_id, genstamp=replica.genstamp, length=replica.length))

    @rpc_errors
    async def BlockChecksum(self, request: pb.BlockChecksumRequest, context):
        block_id = check_block_id(request.block.id)
        check_genstamp(request.block.genstamp)
        self._check(context, block_id, "READ")
        reader = self.storage.open_reader(block_id, request.block.genstamp)
        try:
            if not reader.replica.finalized:
                raise errors.PreconditionFailed(f"block {block_id}: replica is not finalized")
            try:
                checksums = await asyncio.to_thread(reader.checksums)
            except OSError as e:
                raise await asyncio.to_thread(self.storage.io_failed, reader.replica, e) from None
        finally:
            reader.close()
        return pb.BlockChecksumResponse(
            md5=hashlib.md5(meta_format.encode_checksums(checksums)).digest(),
            chunk_size=reader.chunk_size, chunks=len(checksums), length=reader.length)

    @rpc_errors
    async def TransferReplica(self, request: pb.TransferReplicaRequest, context):
        """Pipeline recovery: copies the acknowledged start of a replica to a node
        joining the pipeline (transfer.send_block with prefix_bytes)."""
        block_id = check_block_id(request.block.id)
        check_genstamp(request.block.genstamp)
        self._check(context, block_id, "COPY")
        targets = list(request.targets)
        if not 0 < len(targets) <= write_pipeline.MAX_PIPELINE_NODES:
            raise errors.InvalidArgument(
                f"block {block_id}: 1 to {write_pipeline.MAX_PIPELINE_NODES} targets, got {len(targets)}")
        for node in targets:
            write_pipeline.check_address(block_id, node.address)
        replica = self.storage.get(block_id)
        if replica is not None and replica.chunk_size != request.chunk_size:
            raise errors.PreconditionFailed(
                f"block {block_id}: replica chunk size {replica.chunk_size}, not {request.chunk_size}")
        await transfer.send_block(self.storage, self.ctx.peers, block_id, request.block.genstamp,
                                  targets, prefix_bytes=request.block.length)
        return pb.TransferReplicaResponse()
