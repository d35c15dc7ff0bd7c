"""The DataNode's conversation with its NameNode(s): register, heartbeat, block
reports, and the commands that ride on the replies.

Started by datanode/server.py. One loop per configured NameNode (with HA there
are two, and the DataNode talks to both); a NameNode that is down is retried
with capped exponential backoff (full jitter) forever while the DataNode keeps serving reads
and writes. Per NameNode: register, full block report, then heartbeats every
heartbeat_interval_s, incremental reports shortly after replicas are finalized
or deleted (batched for INCREMENTAL_BATCH_S), a full report every
block_report_interval_s. Any RPC failure restarts at "register", whose full
report covers whatever incremental news was lost. Commands (DELETE, REPLICATE,
REREGISTER) go to the `on_command` callback (datanode/commands.py).

HA: every heartbeat / report reply names the NameNode's epoch and whether it is a
standby. Only an active with the highest epoch this DataNode has seen is obeyed
(REREGISTER excepted: any NameNode may ask for a fresh registration), so a deposed
active cannot have replicas deleted. The first reply of a NameNode that is active
in a newer epoch than the last full report it got triggers a full report at once,
so a NameNode that just took over has every replica location within a heartbeat.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

import grpc

from minidfs.config import ClusterConfig, NodeConfig
from minidfs.datanode.storage import CORRUPT, RBW, Replica, Storage
from minidfs.rpc.backoff import Backoff
from minidfs.rpc import channels, client_namenode_pb2, client_namenode_pb2_grpc
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datanode_namenode_pb2 as pb
from minidfs.rpc import datanode_namenode_pb2_grpc

log = logging.getLogger("minidfs.datanode.link")

RETRY_MIN_S = 0.2
RETRY_MAX_S = 5.0
# A finalized replica is reported this soon: the writer's Complete waits for the
# report (1 ms: finalizes that come while a report is on its way go in the next).
INCREMENTAL_BATCH_S = 0.001
# Beyond this many unsent incremental events the next full report replaces them.
MAX_PENDING_INCREMENTAL = 10_000
# Full reports can be large: give them more time than a metadata call.
BLOCK_REPORT_DEADLINE_S = 60.0


def replica_report(replica: Replica) -> pb.ReplicaReport:
    # A corrupt replica is reported as held, then named in ReportBadBlocks, so the
    # NameNode knows to replace and delete it.
    return pb.ReplicaReport(
        block=common.Block(id=replica.block_id, genstamp=replica.genstamp, length=replica.length),
        finalized=replica.state != RBW)


def packed_report(name: str, replicas: list[Replica]) -> pb.BlockReportRequest:
    """A full report in the packed form (datanode_namenode.proto, BlockReportRequest).
    A corrupt replica is in it as held, like replica_report's."""
    return pb.BlockReportRequest(
        name=name, ids=[r.block_id for r in replicas], genstamps=[r.genstamp for r in replicas],
        lengths=[r.length for r in replicas], finalized=[r.state != RBW for r in replicas])


class _Reregister(Exception):
    """A NameNode asked this node to register again."""


class NamenodeLink:
    def __init__(self, conf: ClusterConfig, node: NodeConfig, storage: Storage,
                 on_command: Callable[[pb.DatanodeCommand], None],
                 active_transfers: Callable[[], int],
                 on_bandwidth: Callable[[int], None] = lambda bytes_per_s: None) -> None:
        self.conf = conf
        self.on_bandwidth = on_bandwidth
        self.node = node
        self.storage = storage
        self.on_command = on_command
        self.active_transfers = active_transfers
        self._sessions = [_NamenodeSession(self, nn.address) for nn in conf.namenodes]
        self._tasks: list[asyncio.Task] = []
        self.highest_epoch = 0
        # Secure mode: where the block keys of registration / heartbeat replies go.
        self.on_block_keys: Callable[[list], None] | None = None

    def block_keys(self, reply) -> None:
        if self.on_block_keys is not None and reply.block_keys:
            self.on_block_keys(list(reply.block_keys))

    def obeys(self, epoch: int, standby: bool) -> bool:
        """Whether commands from a NameNode in this role and epoch are carried out."""
        if standby or epoch < self.highest_epoch:
            return False
        self.highest_epoch = epoch
        return True

    def registered_with_active(self) -> bool:
        """Some NameNode that answered as active has this node's full block report."""
        return any(s.registered and s.reported_epoch >= 0 for s in self._sessions)

    @property
    def datanode_id(self) -> common.DatanodeId:
        return common.DatanodeId(name=self.node.name, address=self.node.address, rack=self.node.rack)

    def start(self) -> None:
        self._tasks = [asyncio.get_running_loop().create_task(s.run()) for s in self._sessions]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self._sessions:
            await session.channel.close()

    async def flush(self, timeout_s: float) -> None:
        """Sends every NameNode the replica news not sent yet, waiting at most
        timeout_s (best effort: a stopping node's last word)."""
        sends = [s.flush() for s in self._sessions]
        try:
            await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), timeout_s)
        except asyncio.TimeoutError:
            log.warning("could not send the last replica reports within %gs", timeout_s)

    def replica_received(self, replica: Replica) -> None:
        for session in self._sessions:
            session.queue_event(received=replica_report(replica))

    def replica_deleted(self, replica: Replica) -> None:
        block = common.Block(id=replica.block_id, genstamp=replica.genstamp, length=replica.length)
        for session in self._sessions:
            session.queue_event(deleted=block)

    def replicas_lost(self, replicas: list[Replica]) -> None:
        """Replicas whose files are gone (storage.on_lost): the NameNodes drop them
        from their block maps and have the blocks copied again."""
        for replica in replicas:
            block = common.Block(id=replica.block_id, genstamp=replica.genstamp, length=replica.length)
            for session in self._sessions:
                session.queue_event(lost=block)

    def copy_failed(self, block: common.Block) -> None:
        for session in self._sessions:
            session.queue_event(copy_failed=block)

    async def report_bad(self, replicas: list[Replica]) -> None:
        """Tells every reachable NameNode that these replicas here are corrupt (best effort:
        the next full report and scan repeat it)."""
        if replicas:
            await asyncio.gather(*(s.report_bad(replicas) for s in self._sessions))

    def storage_report(self) -> pb.StorageReport:
        capacity, used, remaining = self.storage.capacity()
        return pb.StorageReport(capacity=capacity, used=used, remaining=remaining,
                                volumes=[common.VolumeReport(**v) for v in self.storage.volume_reports()])


class _NamenodeSession:
    def __init__(self, link: NamenodeLink, address: str) -> None:
        self.link = link
        self.address = address
        self.channel = channels.aio_channel(address)
        self.stub = datanode_namenode_pb2_grpc.DatanodeNamenodeStub(self.channel)
        self.client_stub = client_namenode_pb2_grpc.ClientNamenodeStub(self.channel)
        # Replica news not sent yet, block id -> ("received", ReplicaReport) or
        # ("deleted" / "lost", Block): only the latest per block, so a replica deleted
        # and received again within one batch cannot be read back in the wrong order.
        self.events: dict[int, tuple[str, pb.ReplicaReport | common.Block]] = {}
        self.copy_failed: dict[int, common.Block] = {}
        self.wake = asyncio.Event()
        self.registered = False
        self.reported_epoch = -1   # epoch of the last full report an active NameNode got

    def queue_event(self, received: pb.ReplicaReport | None = None, deleted: common.Block | None = None,
                    copy_failed: common.Block | None = None, lost: common.Block | None = None) -> None:
        if not self.registered:
            return  # the full report after registering will carry it
        if len(self.events) + len(self.copy_failed) >= MAX_PENDING_INCREMENTAL:
            self.registered = False  # forces register + full report
            self._clear_events()
        elif received is not None:
            self.events.pop(received.block.id, None)
            self.events[received.block.id] = ("received", received)
        elif deleted is not None:
            self.events.pop(deleted.id, None)
            self.events[deleted.id] = ("deleted", deleted)
        elif lost is not None:
            self.events.pop(lost.id, None)
            self.events[lost.id] = ("lost", lost)
        elif copy_failed is not None:
            self.copy_failed[copy_failed.id] = copy_failed
        self.wake.set()

    def _clear_events(self) -> None:
        self.events.clear()
        self.copy_failed.clear()

    async def run(self) -> None:
        # Full jitter (rpc/backoff.py): DataNodes that lost the same NameNode come back
        # spread out, not all at once when it restarts.
        backoff = Backoff(RETRY_MIN_S, RETRY_MAX_S)
        failures = 0
        while True:
            try:
                await self._register()
                failures = 0
                await self._serve()
            except _Reregister:
                log.info("namenode %s asked to re-register", self.address)
            except (grpc.RpcError, asyncio.TimeoutError) as e:
                self.registered = False
                failures += 1
                # Log the first failure and then rarely: a NameNode can be down for long.
                if failures == 1 or failures % 50 == 0:
                    log.warning("namenode %s unreachable (%s), retrying", self.address, _short(e))
                await asyncio.sleep(backoff.pause_s(failures - 1))

    async def _register(self) -> None:
        self.registered = False
        request = pb.RegisterRequest(id=self.link.datanode_id, storage=self.link.storage_report())
        reply = await self.stub.RegisterDatanode(request, timeout=channels.METADATA_DEADLINE_S)
        self.link.block_keys(reply)
        self._clear_events()
        self.registered = True
        log.info("registered with namenode %s", self.address)
        await self._full_report()

    async def _full_report(self) -> None:
        replicas = self.link.storage.replicas()
        request = packed_report(self.link.node.name, replicas)
        reply = await self.stub.BlockReport(request, timeout=BLOCK_REPORT_DEADLINE_S)
        if not reply.standby:
            self.reported_epoch = max(self.reported_epoch, reply.epoch)
        corrupt = [r for r in replicas if r.state == CORRUPT]
        if corrupt:
            await self.report_bad(corrupt)
        self._obey(reply)

    async def _serve(self) -> None:
        settings = self.link.conf.settings
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time()
        next_report = loop.time() + settings.block_report_interval_s
        while True:
            timeout = max(0.0, min(next_heartbeat, next_report) - loop.time())
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
                await asyncio.sleep(INCREMENTAL_BATCH_S)  # let a burst of finalizes batch up
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            if not self.registered:
                raise _Reregister()
            if self.events or self.copy_failed:
                await self._incremental()
            now = loop.time()
            if now >= next_heartbeat:
                next_heartbeat = now + settings.heartbeat_interval_s
                reply = await self.stub.Heartbeat(
                    pb.HeartbeatRequest(name=self.link.node.name, storage=self.link.storage_report(),
                                        active_transfers=self.link.active_transfers()),
                    timeout=channels.METADATA_DEADLINE_S)
                self.link.block_keys(reply)
                self._obey(reply)
                if not reply.standby and reply.epoch > self.reported_epoch:
                    log.info("namenode %s is active in epoch %d: sending a full block report",
                             self.address, reply.epoch)
                    await self._full_report()
            if now >= next_report:
                next_report = now + settings.block_report_interval_s
                await self._full_report()

    async def flush(self) -> None:
        if self.registered and (self.events or self.copy_failed):
            await self._incremental()

    async def _incremental(self) -> None:
        events, copy_failed = self.events, self.copy_failed
        self.events, self.copy_failed = {}, {}
        request = pb.IncrementalBlockReportRequest(name=self.link.node.name,
                                                   copy_failed=list(copy_failed.values()))
        lists = {"received": request.received, "deleted": request.deleted, "lost": request.lost}
        for kind, message in events.values():
            lists[kind].append(message)
        await self.stub.BlockReceivedAndDeleted(request, timeout=channels.METADATA_DEADLINE_S)

    def _obey(self, reply: pb.HeartbeatResponse | pb.BlockReportResponse) -> None:
        if any(c.action == pb.DatanodeCommand.REREGISTER for c in reply.commands):
            raise _Reregister()
        # Asked on every reply, so a newer active's epoch is known before its first command.
        if not self.link.obeys(reply.epoch, reply.standby):
            if reply.commands:
                log.debug("ignored %d commands of namenode %s (epoch %d, standby %s)",
                          len(reply.commands), self.address, reply.epoch, reply.standby)
            return
        if isinstance(reply, pb.HeartbeatResponse) and reply.balance_bandwidth_bytes_per_s:
            self.link.on_bandwidth(reply.balance_bandwidth_bytes_per_s)
        for command in reply.commands:
            self.link.on_command(command)

    async def report_bad(self, replicas: list[Replica]) -> None:
        request = client_namenode_pb2.ReportBadBlocksRequest(replicas=[
            client_namenode_pb2.BadReplica(
                block=common.Block(id=r.block_id, genstamp=r.genstamp, length=r.length),
                datanode=self.link.node.name)
            for r in replicas])
        try:
            await self.client_stub.ReportBadBlocks(request, timeout=channels.METADATA_DEADLINE_S)
        except grpc.RpcError as e:
            log.warning("namenode %s: could not report bad blocks: %s", self.address, _short(e))


def _short(e: BaseException) -> str:
    if isinstance(e, grpc.RpcError) and hasattr(e, "code"):
        return f"{e.code().name.lower()}: {e.details()}"
    return type(e).__name__
