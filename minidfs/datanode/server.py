"""DataNode daemon entry point: wires storage, the DataTransfer service, the
NameNode link, the command runner and the block scanner, then serves until
SIGTERM / SIGINT.

Run by `minidfs daemon datanode --conf cluster.toml --id dn1` (which calls
`main`) or directly as `python -m minidfs.datanode.server --conf C --id dn1`.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import sys

from minidfs import errors
from minidfs.config import ClusterConfig, NodeConfig
from minidfs.datanode.block_scanner import BlockScanner
from minidfs.datanode.commands import CommandRunner
from minidfs.datanode.namenode_link import NamenodeLink
from minidfs.datanode.peers import Peers
from minidfs.datanode.service import DataTransferService, add_to_server
from minidfs.datanode.storage import Storage
from minidfs.datanode.write_pipeline import PipelineContext
from minidfs import daemon_entry
from minidfs.web.face import HttpFace
from minidfs.rpc import channels

log = logging.getLogger("minidfs.datanode")

# On SIGTERM running calls get this long to finish before they are cancelled.
STOP_GRACE_S = 5.0
# glibc serves allocations above 128 KiB with mmap and unmaps them on free, so every
# 1 MiB message costs hundreds of page faults; keeping such buffers in the heap
# saves ~15% CPU per node on the write pipeline (measured, see docs/datanode.md).
MALLOC_MMAP_THRESHOLD_BYTES = 64 * 1024 * 1024
MALLOC_TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _keep_large_buffers_in_heap() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: nothing to tune
    libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES)
    libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES)


class DataNode:
    def __init__(self, conf: ClusterConfig, node: NodeConfig) -> None:
        self.conf = conf
        self.node = node
        self.storage = Storage(node.data_dir, block_size_bytes=conf.settings.block_size_bytes,
                               capacity_bytes=node.capacity_bytes)
        self.peers = Peers()
        self.server: object = None
        self.face = HttpFace(node, "datanode")
        self.face.ready = self._ready
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Opens storage and binds the port: the fatal start-up errors happen here."""
        self.storage.open()
        self.commands = CommandRunner(
            self.storage, self.peers, streams=self.conf.settings.replication_streams_per_node,
            on_deleted=lambda r: self.link.replica_deleted(r), on_corrupt=lambda rs: self.link.report_bad(rs),
            on_copy_failed=lambda block: self.link.copy_failed(block))
        self.ctx = PipelineContext(self.node.name, self.storage, self.peers,
                                   on_finalized=lambda r: self.link.replica_received(r))
        self.service = DataTransferService(self.ctx)
        self.link = NamenodeLink(self.conf, self.node, self.storage, self.commands.run,
                                 active_transfers=self.active_transfers)
        self.scanner = BlockScanner(self.storage, self.conf.settings.block_scanner_bytes_per_s,
                                    self.link.report_bad)
        server = channels.aio_server()
        add_to_server(self.service, server)
        try:
            port = server.add_insecure_port(channels.bind_address(self.node.address))
        except RuntimeError:
            port = 0
        if port == 0:
            raise errors.ConfigError(f"cannot listen on {self.node.address} (port in use?)")
        await server.start()
        self.server = server
        await self.face.start()
        self.link.start()
        self.tasks.append(asyncio.get_running_loop().create_task(self.scanner.run()))
        replicas = self.storage.replicas()
        log.info("serving on %s with %d replicas in %s", self.node.address, len(replicas), self.node.data_dir)

    def active_transfers(self) -> int:
        return len(self.ctx.active) + self.service.active_reads + self.commands.active_transfers

    def _ready(self) -> tuple[bool, str]:
        """/readyz: registered with the active NameNode."""
        if self.link.registered_with_active():
            return True, "registered with the active namenode"
        return False, "not registered with an active namenode"

    async def stop(self) -> None:
        await self.face.stop()
        if self.server is not None:
            await self.server.stop(STOP_GRACE_S)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            await self.commands.stop()
            await self.link.stop()
        await self.peers.close()
        self.storage.close()


async def _run(conf: ClusterConfig, node: NodeConfig) -> int:
    datanode = DataNode(conf, node)
    stop = daemon_entry.stop_event()
    try:
        try:
            await datanode.start()
        except (errors.ConfigError, OSError) as e:
            print(f"minidfs datanode {node.name}: {e}", file=sys.stderr)
            return 1
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        await datanode.stop()


def main(conf: ClusterConfig, name: str) -> int:
    """Runs datanode `name` of conf until SIGTERM / SIGINT; the exit code."""
    _keep_large_buffers_in_heap()
    return daemon_entry.run(
        "datanode", name, lambda: _run(conf, daemon_entry.node_of_kind(conf, name, "datanode")))


if __name__ == "__main__":
    daemon_entry.standalone("datanode", main)
