"""gRPC DatanodeNamenode service: protobuf in, DatanodeOperations call, protobuf out.

Registered by server.py. Commands from the block manager ride on the replies.
"""
from __future__ import annotations

from itertools import chain
from typing import Iterator

from minidfs.errors import InvalidArgument
from minidfs.namenode.client_servicer import datanode_id
from minidfs.namenode.datanode_ops import DatanodeOperations
from minidfs.namenode.datanode_registry import VolumeInfo
from minidfs.namenode.views import CommandView
from minidfs.rpc import common_pb2
from minidfs.rpc import datanode_namenode_pb2 as pb
from minidfs.rpc import datanode_namenode_pb2_grpc as pb_grpc
from minidfs.rpc.status import rpc_errors


def command(view: CommandView) -> pb.DatanodeCommand:
    return pb.DatanodeCommand(
        action=pb.DatanodeCommand.Action.Value(view.action),
        block=common_pb2.Block(id=view.block_id, genstamp=view.genstamp, length=view.length),
        targets=[datanode_id(t) for t in view.targets],
        recovery_genstamp=view.recovery_genstamp)


def volumes(storage: pb.StorageReport) -> list[VolumeInfo]:
    return [VolumeInfo(v.path, v.failure, v.replicas, v.capacity, v.remaining)
            for v in storage.volumes]


def reported_replicas(request: pb.BlockReportRequest) -> Iterator[tuple[int, int, int, bool]]:
    """(id, genstamp, length, finalized) of every replica of a full report: the
    packed arrays (what DataNodes send) and any one-message-per-replica entries.
    Lazy: the report is applied in slices of time as this is consumed."""
    count = len(request.ids)
    if not len(request.genstamps) == len(request.lengths) == len(request.finalized) == count:
        raise InvalidArgument(
            f"block report: packed arrays of unequal lengths (ids {count}, genstamps "
            f"{len(request.genstamps)}, lengths {len(request.lengths)}, finalized "
            f"{len(request.finalized)})")
    nested = ((r.block.id, r.block.genstamp, r.block.length, r.finalized) for r in request.replicas)
    packed = zip(request.ids, request.genstamps, request.lengths, request.finalized)
    return chain(nested, packed) if request.replicas else packed


class DatanodeNamenodeServicer(pb_grpc.DatanodeNamenodeServicer):
    # Secure mode: the BlockTokenIssuer whose live keys every registration and
    # heartbeat reply carries (set by server.py; None in simple mode).
    block_tokens = None

    def __init__(self, ops: DatanodeOperations, namenode_name: str) -> None:
        self.ops = ops
        self.namenode_name = namenode_name

    def _keys(self) -> dict:
        return {} if self.block_tokens is None else {"block_keys": self.block_tokens.keys()}

    def _ha(self) -> dict:
        """Epoch and role for the reply: a DataNode obeys only the newest active."""
        ha = self.ops.fs.ha
        return {"epoch": ha.epoch, "standby": not ha.active}

    @rpc_errors
    async def RegisterDatanode(self, request, context):
        s = request.storage
        self.ops.register(request.id.name, request.id.address, request.id.rack,
                          s.capacity, s.used, s.remaining, volumes(s))
        return pb.RegisterResponse(namenode=self.namenode_name, **self._keys())

    @rpc_errors
    async def Heartbeat(self, request, context):
        s = request.storage
        commands = self.ops.heartbeat(request.name, s.capacity, s.used, s.remaining,
                                      request.active_transfers, volumes(s))
        return pb.HeartbeatResponse(
            commands=[command(c) for c in commands], **self._ha(), **self._keys(),
            balance_bandwidth_bytes_per_s=self.ops.fs.balance_bandwidth_bytes_per_s)

    @rpc_errors
    async def BlockReport(self, request, context):
        commands = await self.ops.block_report_sliced(request.name, reported_replicas(request))
        return pb.BlockReportResponse(commands=[command(c) for c in commands], **self._ha())

    @rpc_errors
    async def BlockReceivedAndDeleted(self, request, context):
        self.ops.block_received_and_deleted(
            request.name,
            [(r.block.id, r.block.genstamp, r.block.length, r.finalized) for r in request.received],
            [(b.id, b.genstamp) for b in request.deleted],
            [b.id for b in request.copy_failed],
            [(b.id, b.genstamp) for b in request.lost])
        return pb.IncrementalBlockReportResponse()
