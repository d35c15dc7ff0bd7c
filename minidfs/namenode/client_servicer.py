"""gRPC ClientNamenode service: protobuf in, ClientOperations call, protobuf out.

Registered by server.py. Thin on purpose: argument checks and semantics live in
client_ops.py and the pure cores; errors become statuses through @rpc_errors.
Every call a user makes carries its user name in the call metadata
(minidfs/identity.py); `_caller` turns it into the Caller the checks use.
"""
from __future__ import annotations

from minidfs import errors, fsmode, identity
from minidfs.namenode.balancer_ops import BalancerBlockView, BalancerOperations
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.permission_checker import Caller
from minidfs.namenode.fsck import FsckReport
from minidfs.namenode.retry_cache import RpcKey, rpc_key
from minidfs.namenode.views import FileView, LocatedBlocksView, LocatedBlockView, NodeRef
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc import client_namenode_pb2_grpc as pb_grpc
from minidfs.rpc import common_pb2
from minidfs.rpc.status import rpc_errors


def file_status(view: FileView) -> common_pb2.FileStatus:
    return common_pb2.FileStatus(
        path=view.path, is_dir=view.is_dir, length=view.length, replication=view.replication,
        block_size=view.block_size, modified_ms=view.mtime_ms,
        under_construction=view.under_construction, owner=view.owner, group=view.group,
        permission=view.mode)


def datanode_id(ref: NodeRef) -> common_pb2.DatanodeId:
    return common_pb2.DatanodeId(name=ref.name, address=ref.address, rack=ref.rack)


def located_block(view: LocatedBlockView) -> common_pb2.LocatedBlock:
    return common_pb2.LocatedBlock(
        block=common_pb2.Block(id=view.block_id, genstamp=view.genstamp, length=view.length),
        offset=view.offset, locations=[datanode_id(r) for r in view.locations],
        corrupt=view.corrupt)


def located_blocks(view: LocatedBlocksView) -> pb.LocatedBlocks:
    return pb.LocatedBlocks(file_length=view.file_length,
                            blocks=[located_block(b) for b in view.blocks],
                            under_construction=view.under_construction)


def fsck_response(report: FsckReport) -> pb.FsckResponse:
    files = [pb.FsckFile(
        path=f.path, length=f.length, replication=f.replication,
        under_construction=f.under_construction,
        blocks=[pb.FsckBlock(
            block=common_pb2.Block(id=b.block_id, genstamp=b.genstamp, length=b.length),
            expected=b.expected, live=b.live, problems=b.problems,
            replicas=[pb.FsckReplica(datanode=n, state=w, rack=r) for n, w, r in b.replicas])
            for b in f.blocks])
        for f in report.file_details]
    return pb.FsckResponse(
        path=report.path, status=report.status, healthy=report.healthy, files=report.files,
        directories=report.directories, blocks=report.blocks, total_bytes=report.total_bytes,
        under_replicated=report.under_replicated, over_replicated=report.over_replicated,
        mis_replicated=report.mis_replicated, missing=report.missing, corrupt=report.corrupt,
        open_files=report.open_files, live_datanodes=report.live_datanodes,
        dead_datanodes=report.dead_datanodes, racks=report.racks, file_details=files,
        truncated=report.truncated, notes=report.notes,
        open_file_details=[pb.FsckOpenFile(path=f.path, client=f.client, since_ms=f.since_ms)
                           for f in report.open_file_details])


def balancer_block(view: BalancerBlockView) -> pb.BalancerBlock:
    return pb.BalancerBlock(
        block=common_pb2.Block(id=view.block_id, genstamp=view.genstamp, length=view.length),
        locations=view.locations, replication=view.replication, moving=view.moving,
        holders=view.holders)


def rpc_id(request) -> RpcKey | None:
    """The retry-cache key of a mutating request (None when the client sent no id)."""
    return rpc_key(request.rpc_id.client_id, request.rpc_id.call_id)


def block_tuple(block: common_pb2.Block, present: bool) -> tuple[int, int, int] | None:
    return (block.id, block.genstamp, block.length) if present else None


class ClientNamenodeServicer(pb_grpc.ClientNamenodeServicer):
    # Secure mode: a BlockTokenIssuer (minidfs/security/namenode_tokens.py) set by
    # server.py; None in simple mode, where located blocks carry no token.
    block_tokens = None

    def __init__(self, ops: ClientOperations) -> None:
        self.ops = ops
        self.balancer = BalancerOperations(ops.fs)

    def _stamp(self, context, blocks, write: bool, read_back: bool = False) -> None:
        """read_back: an appender also reads the last block's short chunk back
        from the reopened pipeline (docs/append.md), so its token carries READ too."""
        if self.block_tokens is not None:
            from minidfs.security import namenode_tokens as nt

            modes = nt.WRITE_MODES if write else nt.READ_MODES
            if read_back:
                modes = modes | nt.READ_MODES
            self.block_tokens.stamp(blocks, identity.caller_user(context) or "", modes)

    def _caller(self, context) -> Caller:
        user = identity.caller_user(context)
        if user is None:
            raise errors.InvalidArgument(
                f"no user identity: the call lacks the {identity.METADATA_KEY} metadata")
        return self.ops.fs.users.caller(fsmode.check_name(user, "user"))

    @rpc_errors
    async def Mkdirs(self, request, context):
        await self.ops.mkdirs(request.path, request.parents, rpc_id(request),
                              self._caller(context),
                              request.mode if request.HasField("mode") else None)
        return pb.MkdirsResponse()

    @rpc_errors
    async def Create(self, request, context):
        view = await self.ops.create(
            request.path, request.overwrite, request.replication, request.block_size,
            request.client_name, request.client_node, request.create_parent, rpc_id(request),
            self._caller(context), request.mode if request.HasField("mode") else None)
        response = pb.CreateResponse(status=file_status(view))
        if request.add_block:
            first = await self.ops.first_block(request.path, request.client_name)
            if first is not None:
                response.first_block.CopyFrom(located_block(first))
                self._stamp(context, [response.first_block], write=True)
        return response

    @rpc_errors
    async def AddBlock(self, request, context):
        view = await self.ops.add_block(
            request.path, request.client_name,
            block_tuple(request.previous, request.HasField("previous")),
            list(request.excluded_nodes))
        located = located_block(view)
        self._stamp(context, [located], write=True)
        return located

    @rpc_errors
    async def Append(self, request, context):
        view, last, reopened = await self.ops.append(
            request.path, request.client_name, request.client_node, rpc_id(request),
            self._caller(context))
        response = pb.AppendResponse(status=file_status(view), reopened=reopened)
        if last is not None:
            response.last_block.CopyFrom(located_block(last))
            self._stamp(context, [response.last_block], write=True, read_back=True)
        return response

    @rpc_errors
    async def Fsync(self, request, context):
        await self.ops.fsync(request.path, request.client_name,
                             (request.last_block.id, request.last_block.genstamp,
                              request.last_block.length))
        return pb.FsyncResponse()

    @rpc_errors
    async def RecoverLease(self, request, context):
        closed = await self.ops.recover_lease(request.path, self._caller(context))
        return pb.RecoverLeaseResponse(closed=closed)

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
        located = located_blocks(self.ops.get_block_locations(
            request.path, request.offset, request.length, request.client_node,
            self._caller(context)))
        self._stamp(context, located.blocks, write=False)
        return located

    @rpc_errors
    async def GetFileInfo(self, request, context):
        return file_status(self.ops.get_file_info(request.path, self._caller(context)))

    @rpc_errors
    async def ListStatus(self, request, context):
        caller = self._caller(context)
        entries, more = self.ops.list_status(request.path, request.start_after, request.limit,
                                             caller)
        response = pb.ListStatusResponse(entries=[file_status(e) for e in entries], has_more=more)
        if request.need_locations:
            # Each file as its own GetBlockLocations would be: read permission checked.
            for entry in entries:
                response.locations.append(pb.LocatedBlocks() if entry.is_dir else located_blocks(
                    self.ops.get_block_locations(entry.path, 0, 0, request.client_node, caller)))
            for located in response.locations:
                self._stamp(context, located.blocks, write=False)
        return response

    @rpc_errors
    async def Delete(self, request, context):
        return pb.DeleteResponse(deleted=await self.ops.delete(
            request.path, request.recursive, rpc_id(request), self._caller(context)))

    @rpc_errors
    async def Rename(self, request, context):
        await self.ops.rename(request.src, request.dst, rpc_id(request), self._caller(context))
        return pb.RenameResponse()

    @rpc_errors
    async def SetReplication(self, request, context):
        await self.ops.set_replication(request.path, request.replication, self._caller(context))
        return pb.SetReplicationResponse()

    @rpc_errors
    async def SetPermission(self, request, context):
        changed = await self.ops.set_permission(request.path, request.mode, request.recursive,
                                                self._caller(context))
        return pb.SetPermissionResponse(changed=changed)

    @rpc_errors
    async def SetOwner(self, request, context):
        changed = await self.ops.set_owner(request.path, request.owner or None,
                                           request.group or None, request.recursive,
                                           self._caller(context))
        return pb.SetOwnerResponse(changed=changed)

    @rpc_errors
    async def GetContentSummary(self, request, context):
        caller = self._caller(context)
        s = self.ops.content_summary(request.path, caller)
        names_quota, space_quota = self.ops.quotas(request.path, caller)
        return pb.ContentSummary(length=s.length, file_count=s.file_count,
                                 directory_count=s.directory_count,
                                 space_consumed=s.space_consumed, quota=names_quota,
                                 space_quota=space_quota)

    @rpc_errors
    async def SetQuota(self, request, context):
        # 0 (unset in proto3) keeps a quota as it is, as HDFS's QUOTA_DONT_SET.
        await self.ops.set_quota(request.path, request.quota or None,
                                 request.space_quota or None, self._caller(context))
        return pb.SetQuotaResponse()

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
        on, reason = self.ops.safe_mode(action, self._caller(context))
        return pb.SafeModeResponse(on=on, reason=reason)

    @rpc_errors
    async def DatanodeReport(self, request, context):
        return pb.DatanodeReportResponse(nodes=[
            pb.DatanodeInfo(id=datanode_id(n.node), state=n.state, capacity=n.capacity,
                            used=n.used, remaining=n.remaining, last_contact_ms=n.last_contact_ms,
                            blocks=n.blocks, active_transfers=n.active_transfers,
                            replica_states=n.replica_states or {},
                            volumes=[common_pb2.VolumeReport(**v._asdict()) for v in n.volumes])
            for n in self.ops.datanode_report()])

    @rpc_errors
    async def GetAdditionalDatanode(self, request, context):
        refs = await self.ops.get_additional_datanodes(
            request.path, request.client_name, (request.block.id, request.block.genstamp),
            list(request.existing), list(request.excluded), request.count)
        return pb.GetAdditionalDatanodeResponse(nodes=[datanode_id(r) for r in refs])

    @rpc_errors
    async def UpdateBlockForPipeline(self, request, context):
        block_id, genstamp = await self.ops.update_block_for_pipeline(
            request.path, request.client_name, (request.block.id, request.block.genstamp),
            list(request.nodes))
        return pb.UpdateBlockForPipelineResponse(block=common_pb2.Block(id=block_id, genstamp=genstamp))

    @rpc_errors
    async def Fsck(self, request, context):
        return fsck_response(self.ops.fsck(request.path, request.list_files, request.max_files,
                                           self._caller(context)))

    @rpc_errors
    async def Decommission(self, request, context):
        return pb.DecommissionResponse(state=await self.ops.decommission(
            request.name, request.cancel, self._caller(context)))

    # ---- the balancer (balancer_ops.py)

    @rpc_errors
    async def GetDatanodeBlocks(self, request, context):
        views = self.balancer.datanode_blocks(request.name, request.max_blocks,
                                              self._caller(context))
        return pb.GetDatanodeBlocksResponse(blocks=[balancer_block(v) for v in views])

    @rpc_errors
    async def GetBlockReplicas(self, request, context):
        views = self.balancer.block_replicas(list(request.block_ids), self._caller(context))
        return pb.GetBlockReplicasResponse(blocks=[balancer_block(v) for v in views])

    @rpc_errors
    async def MoveReplica(self, request, context):
        self.balancer.move_replica(request.block_id, request.source, request.target,
                                   self._caller(context))
        return pb.MoveReplicaResponse()

    @rpc_errors
    async def SetBalancerBandwidth(self, request, context):
        self.balancer.set_bandwidth(request.bytes_per_s, self._caller(context))
        return pb.SetBalancerBandwidthResponse()
