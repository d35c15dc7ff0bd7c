"""gRPC ClientNamenode service: protobuf in, ClientOperations call, protobuf out.

Registered by server.py. Thin on purpose: argument checks and semantics live in
client_ops.py and the pure cores; errors become statuses through @rpc_errors.
"""
from __future__ import annotations

from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.views import FileView, LocatedBlockView, NodeRef
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc import client_namenode_pb2_grpc as pb_grpc
from minidfs.rpc import common_pb2
from minidfs.rpc.status import rpc_errors


def file_status(view: FileView) -> common_pb2.FileStatus:
    return common_pb2.FileStatus(
        path=view.path, is_dir=view.is_dir, length=view.length, replication=view.replication,
        block_size=view.block_size, modified_ms=view.mtime_ms,
        under_construction=view.under_construction)


def datanode_id(ref: NodeRef) -> common_pb2.DatanodeId:
    return common_pb2.DatanodeId(name=ref.name, address=ref.address, rack=ref.rack)


def located_block(view: LocatedBlockView) -> common_pb2.LocatedBlock:
    return common_pb2.LocatedBlock(
        block=common_pb2.Block(id=view.block_id, genstamp=view.genstamp, length=view.length),
        offset=view.offset, locations=[datanode_id(r) for r in view.locations],
        corrupt=view.corrupt)


def block_tuple(block: common_pb2.Block, present: bool) -> tuple[int, int, int] | None:
    return (block.id, block.genstamp, block.length) if present else None


class ClientNamenodeServicer(pb_grpc.ClientNamenodeServicer):
    def __init__(self, ops: ClientOperations) -> None:
        self.ops = ops

    @rpc_errors
    async def Mkdirs(self, request, context):
        await self.ops.mkdirs(request.path, request.parents)
        return pb.MkdirsResponse()

    @rpc_errors
    async def Create(self, request, context):
        view = await self.ops.create(
            request.path, request.overwrite, request.replication, request.block_size,
            request.client_name, request.client_node, request.create_parent)
        return pb.CreateResponse(status=file_status(view))

    @rpc_errors
    async def AddBlock(self, request, context):
        view = await self.ops.add_block(
            request.path, request.client_name,
            block_tuple(request.previous, request.HasField("previous")),
            list(request.excluded_nodes))
        return located_block(view)

    @rpc_errors
    async def AbandonBlock(self, request, context):
        await self.ops.abandon_block(request.path, request.client_name, request.block.id)
        return pb.AbandonBlockResponse()

    @rpc_errors
    async def Complete(self, request, context):
        done = await self.ops.complete(request.path, request.client_name,
                                       block_tuple(request.last, request.HasField("last")))
        return pb.CompleteResponse(done=done)

    @rpc_errors
    async def GetBlockLocations(self, request, context):
        view = self.ops.get_block_locations(request.path, request.offset, request.length,
                                            request.client_node)
        return pb.LocatedBlocks(file_length=view.file_length,
                                blocks=[located_block(b) for b in view.blocks],
                                under_construction=view.under_construction)

    @rpc_errors
    async def GetFileInfo(self, request, context):
        return file_status(self.ops.get_file_info(request.path))

    @rpc_errors
    async def ListStatus(self, request, context):
        entries, more = self.ops.list_status(request.path, request.start_after, request.limit)
        return pb.ListStatusResponse(entries=[file_status(e) for e in entries], has_more=more)

    @rpc_errors
    async def Delete(self, request, context):
        return pb.DeleteResponse(deleted=await self.ops.delete(request.path, request.recursive))

    @rpc_errors
    async def Rename(self, request, context):
        await self.ops.rename(request.src, request.dst)
        return pb.RenameResponse()

    @rpc_errors
    async def SetReplication(self, request, context):
        await self.ops.set_replication(request.path, request.replication)
        return pb.SetReplicationResponse()

    @rpc_errors
    async def GetContentSummary(self, request, context):
        s = self.ops.content_summary(request.path)
        return pb.ContentSummary(length=s.length, file_count=s.file_count,
                                 directory_count=s.directory_count,
                                 space_consumed=s.space_consumed)

    @rpc_errors
    async def GetStats(self, request, context):
        return pb.FsStats(**self.ops.stats()._asdict())

    @rpc_errors
    async def RenewLease(self, request, context):
        self.ops.renew_lease(request.client_name)
        return pb.RenewLeaseResponse()

    @rpc_errors
    async def ReportBadBlocks(self, request, context):
        self.ops.report_bad_blocks([(r.block.id, r.block.genstamp, r.datanode)
                                    for r in request.replicas])
        return pb.ReportBadBlocksResponse()

    @rpc_errors
    async def SafeMode(self, request, context):
        actions = pb.SafeModeRequest.Action
        action = actions.Name(request.action) if request.action in actions.values() else str(request.action)
        on, reason = self.ops.safe_mode(action)
        return pb.SafeModeResponse(on=on, reason=reason)

    @rpc_errors
    async def DatanodeReport(self, request, context):
        return pb.DatanodeReportResponse(nodes=[
            pb.DatanodeInfo(id=datanode_id(n.node), state=n.state, capacity=n.capacity,
                            used=n.used, remaining=n.remaining, last_contact_ms=n.last_contact_ms,
                            blocks=n.blocks, active_transfers=n.active_transfers)
            for n in self.ops.datanode_report()])
