"""The DatanodeNamenode operations: registration, heartbeats, block reports.

Called by datanode_servicer.py with plain values. A heartbeat or report from a
node the NameNode does not know (or declared dead) is answered with REREGISTER:
the node registers again and sends a full block report. Replies carry the node's
pending commands from the block manager, with target names resolved to
addresses.
"""
from __future__ import annotations

import logging
from typing import Iterable

from minidfs import errors
from minidfs.namenode import block_manager, loop_slices
from minidfs.namenode.datanode_registry import VolumeInfo
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.namenode.views import CommandView, NodeRef

log = logging.getLogger("minidfs.namenode.datanodes")

MAX_NODE_NAME_CHARS = 64
MAX_ADDRESS_CHARS = 256
MAX_VOLUMES = 64
MAX_VOLUME_TEXT_CHARS = 1024
REREGISTER = [CommandView(block_manager.REREGISTER, 0, 0, 0, [])]


def check_name(name: str) -> str:
    if not name or len(name) > MAX_NODE_NAME_CHARS:
        raise errors.InvalidArgument(f"datanode name must be 1 to {MAX_NODE_NAME_CHARS} characters")
    return name


def check_address(name: str, address: str) -> str:
    host, _, port = address.rpartition(":")
    if (len(address) > MAX_ADDRESS_CHARS or not host or not port.isdigit()
            or not 0 < int(port) < 65536):
        raise errors.InvalidArgument(f"{name}: address must be host:port, got {address!r}")
    return address


def check_volumes(name: str, volumes: list[VolumeInfo]) -> tuple[VolumeInfo, ...]:
    if len(volumes) > MAX_VOLUMES:
        raise errors.InvalidArgument(f"{name}: at most {MAX_VOLUMES} volumes, got {len(volumes)}")
    if any(len(v.path) > MAX_VOLUME_TEXT_CHARS or len(v.failure) > MAX_VOLUME_TEXT_CHARS
           for v in volumes):
        raise errors.InvalidArgument(f"{name}: volume path or failure over {MAX_VOLUME_TEXT_CHARS} characters")
    return tuple(volumes)


class DatanodeOperations:
    def __init__(self, fs: Namesystem) -> None:
        self.fs = fs

    def register(self, name: str, address: str, rack: str, capacity: int, used: int,
                 remaining: int, volumes: list[VolumeInfo] = ()) -> None:
        check_name(name)
        check_address(name, address)
        self.fs.registry.register(name, address, rack or "/default", capacity, used, remaining,
                                  mono_ms(), check_volumes(name, list(volumes)))
        self.fs.bm.node_registered(name)

    def heartbeat(self, name: str, capacity: int, used: int, remaining: int,
                  active_transfers: int, volumes: list[VolumeInfo] = ()) -> list[CommandView]:
        check_name(name)
        node = self.fs.registry.heartbeat(name, capacity, used, remaining, active_transfers,
                                          mono_ms(), check_volumes(name, list(volumes)))
        if node is None:
            return REREGISTER
        return self._commands(name)

    def block_report(self, name: str, replicas: Iterable[tuple[int, int, int, bool]]) -> list[CommandView]:
        check_name(name)
        if not self.fs.registry.is_live(name):
            return REREGISTER
        self.fs.bm.full_report(name, replicas)
        self._after_report()
        return self._commands(name)

    async def block_report_sliced(self, name: str,
                                  replicas: Iterable[tuple[int, int, int, bool]]) -> list[CommandView]:
        """block_report for the server: applied in slices of time with the event loop
        free in between (loop_slices.py), so a million-block report never stalls
        heartbeats and clients."""
        check_name(name)
        if not self.fs.registry.is_live(name):
            return REREGISTER
        await loop_slices.run_sliced(self.fs.bm.full_report_slices(name, replicas))
        self._after_report()
        return self._commands(name)

    def block_received_and_deleted(self, name: str, received: list[tuple[int, int, int, bool]],
                                   deleted: list[tuple[int, int]],
                                   copy_failed: list[int] = (),
                                   lost: list[tuple[int, int]] = ()) -> None:
        """`deleted` and `lost` as (block id, genstamp of the replica)."""
        check_name(name)
        if not self.fs.registry.is_live(name):
            return  # its next heartbeat tells it to register and report in full
        for block_id, genstamp, length, finalized in received:
            self.fs.bm.block_received(name, block_id, genstamp, length, finalized)
        for block_id, genstamp in deleted:
            self.fs.bm.block_deleted(name, block_id, genstamp)
        for block_id in copy_failed:
            self.fs.bm.copy_failed(name, block_id)
        if lost:
            log.warning("%s lost %d replicas (files gone from its disk or a failed volume): "
                        "copying them again", name, len(lost))
        for block_id, genstamp in lost:
            self.fs.bm.replica_lost(name, block_id, genstamp)
        if received:
            self.fs.replicas_reported()
        self._after_report()

    def _after_report(self) -> None:
        # Re-check now rather than at the next tick, so start-up leaves safe mode
        # as soon as the last needed report arrives.
        self.fs.update_safemode()

    def _commands(self, name: str) -> list[CommandView]:
        nodes = self.fs.registry.nodes
        return [CommandView(c.action, c.block_id, c.genstamp, c.length,
                            [NodeRef(t, nodes[t].address, nodes[t].rack) for t in c.targets
                             if t in nodes], getattr(c, "recovery_genstamp", 0))
                for c in self.fs.bm.take_commands(name)]

