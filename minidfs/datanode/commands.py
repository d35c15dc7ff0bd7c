"""Carries out the commands a NameNode sends in heartbeat / report replies.

Called by namenode_link.py for every DatanodeCommand. DELETE removes the replica
(any genstamp <= the given one) and queues an incremental "deleted" report;
REPLICATE copies a finalized replica to the targets (transfer.py) with at most
`replication_streams_per_node` copies at once, and ignores a copy of the same
block that is already running. A copy that finds the local replica corrupt marks
it and reports it to the NameNode(s); one whose files fail (gone, unreadable, a
failing volume) leaves the verdict to storage.io_failed, which reports the replica
lost or corrupt. A copy that fails for any reason is reported
as failed (`on_copy_failed`), so the NameNode can choose again within seconds
rather than after its pending-copy timeout. Every REPLICATE (re-replication and
balancer moves alike) draws on one token bucket per node (`bandwidth`,
minidfs/throttle.py), at balance_bandwidth_bytes_per_s or what `admin
set-bandwidth` sent on a heartbeat reply (`set_bandwidth`). RECOVER makes this
node the primary of a lease recovery (block_recovery.py).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from minidfs import errors
from minidfs.datanode import block_recovery, transfer
from minidfs.datanode.peers import Peers
from minidfs.datanode.storage import Replica, Storage
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datanode_namenode_pb2 as pb
from minidfs.throttle import TokenBucket

log = logging.getLogger("minidfs.datanode.commands")

# Queued copies beyond the running ones; the NameNode re-sends what is dropped.
MAX_QUEUED_TRANSFERS = 256


class CommandRunner:
    def __init__(self, storage: Storage, peers: Peers, *, streams: int,
                 on_deleted: Callable[[Replica], None],
                 on_corrupt: Callable[[list[Replica]], Awaitable[None]],
                 on_copy_failed: Callable[[common.Block], None] = lambda block: None,
                 bandwidth_bytes_per_s: int = 100 * 1024 * 1024) -> None:
        self.storage = storage
        self.peers = peers
        self.on_deleted = on_deleted
        self.on_corrupt = on_corrupt
        self.on_copy_failed = on_copy_failed
        self._slots = asyncio.Semaphore(max(1, streams))
        self._running: dict[int, asyncio.Task] = {}
        self.bandwidth = TokenBucket(bandwidth_bytes_per_s)

    def set_bandwidth(self, bytes_per_s: int) -> None:
        """A NameNode's `admin set-bandwidth`, from a heartbeat reply."""
        if bytes_per_s > 0 and bytes_per_s != self.bandwidth.rate_bytes_per_s:
            log.info("re-replication / balancing bandwidth set to %d bytes/s", bytes_per_s)
            self.bandwidth.set_rate(bytes_per_s, asyncio.get_running_loop().time())

    @property
    def active_transfers(self) -> int:
        return len(self._running)

    def run(self, command: pb.DatanodeCommand) -> None:
        block = command.block
        if command.action == pb.DatanodeCommand.DELETE:
            try:
                replica = self.storage.delete(block.id, block.genstamp)
            except errors.InvalidArgument as e:
                log.warning("ignored DELETE: %s", e)
                return
            if replica is not None:
                log.info("block %d: deleted on namenode command", block.id)
                self.on_deleted(replica)
        elif command.action == pb.DatanodeCommand.REPLICATE:
            if block.id in self._running or not command.targets:
                return
            if len(self._running) >= MAX_QUEUED_TRANSFERS:
                log.warning("block %d: too many queued copies, REPLICATE dropped", block.id)
                return
            task = asyncio.get_running_loop().create_task(self._replicate(block, list(command.targets)))
            self._running[block.id] = task
            task.add_done_callback(lambda _t, block_id=block.id: self._running.pop(block_id, None))
        elif command.action == pb.DatanodeCommand.RECOVER:
            key = -block.id   # beside a copy of the same block, never instead of it
            if key in self._running or not command.targets or command.recovery_genstamp <= block.genstamp:
                return
            task = asyncio.get_running_loop().create_task(block_recovery.recover_block(
                self.peers, block, command.recovery_genstamp, list(command.targets)))
            self._running[key] = task
            task.add_done_callback(lambda _t, key=key: self._running.pop(key, None))
        else:
            log.warning("ignored unknown command action %d", command.action)

    async def _replicate(self, block, targets) -> None:
        names = ",".join(t.name for t in targets)
        async with self._slots:
            try:
                await transfer.send_block(self.storage, self.peers, block.id, block.genstamp,
                                          targets, throttle=self.bandwidth)
                log.info("block %d: copied to %s", block.id, names)
            except OSError as e:
                # Its files unreadable or gone, or its volume failing: storage.io_failed
                # finds out which and reports the replica corrupt or lost.
                replica = self.storage.get(block.id)
                if replica is not None:
                    await asyncio.to_thread(self.storage.io_failed, replica, e)
                log.warning("block %d: not copied to %s: %s", block.id, names, e)
                self.on_copy_failed(block)
            except errors.ChecksumError as e:
                # Corrupt: this replica cannot serve, the NameNode must copy from another.
                replica = self.storage.mark_corrupt(block.id, str(e))
                if replica is not None:
                    await self.on_corrupt([replica])
                log.warning("block %d: not copied to %s: %s", block.id, names, e)
                self.on_copy_failed(block)
            except errors.MinidfsError as e:
                log.warning("block %d: not copied to %s: %s", block.id, names, e)
                self.on_copy_failed(block)

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
