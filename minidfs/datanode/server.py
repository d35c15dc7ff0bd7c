"""DataNode daemon entry point: wires storage, the DataTransfer service, the
NameNode link, the command runner and the two scanners, then serves until
SIGTERM / SIGINT, or until more volumes failed than failed_volumes_tolerated
(then it stops the same clean way, logs one line saying so, and exits 1).

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
from minidfs.datanode.directory_scanner import DirectoryScanner
from minidfs.datanode.namenode_link import NamenodeLink
from minidfs.datanode.peers import Peers
from minidfs.datanode.service import DataTransferService, add_to_server
from minidfs.datanode.storage import Storage
from minidfs.datanode.write_pipeline import PipelineContext
from minidfs import daemon_entry
from minidfs.observe import Observability
from minidfs.web import observe_daemons
from minidfs.web import webhdfs_datanode
from minidfs.web.face import HttpFace
from minidfs.rpc import channels

log = logging.getLogger("minidfs.datanode")

# On SIGTERM running calls get this long to finish before they are cancelled.
STOP_GRACE_S = 5.0
# A node stopping for failed volumes first tells the NameNodes what it lost, so
# they copy it at once instead of after the dead-node interval.
LAST_REPORT_TIMEOUT_S = 2.0
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
    def __init__(self, conf: ClusterConfig, node: NodeConfig, stop: asyncio.Event) -> None:
        self.conf = conf
        self.node = node
        self.stop_requested = stop
        self.fatal = ""               # why the node stopped by itself
        self.storage = Storage(node.volume_dirs, block_size_bytes=conf.settings.block_size_bytes,
                               capacity_bytes=node.capacity_bytes,
                               failed_volumes_tolerated=conf.settings.failed_volumes_tolerated,
                               direct_io=conf.settings.datanode_direct_io)
        self.peers = Peers()
        self.server: object = None
        self.face = HttpFace(node, "datanode")
        self.face.ready = self._ready
        webhdfs_datanode.mount(self.face, conf, node)
        self.tasks: list[asyncio.Task] = []
        self._reports: set[asyncio.Task] = set()   # ReportBadBlocks calls storage asked for

    def _report_bad_soon(self, replicas: list) -> None:
        task = asyncio.get_running_loop().create_task(self.link.report_bad(replicas))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    def _too_many_failed_volumes(self, why: str) -> None:
        if not self.fatal:
            self.fatal = why
            log.critical("shutting down: too many failed volumes: %s", why)
            task = asyncio.get_running_loop().create_task(self._last_reports_then_stop())
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)

    async def _last_reports_then_stop(self) -> None:
        try:
            await self.link.flush(LAST_REPORT_TIMEOUT_S)
        finally:
            self.stop_requested.set()

    async def start(self) -> None:
        """Opens storage and binds the port: the fatal start-up errors happen here."""
        self.storage.open()
        loop = asyncio.get_running_loop()
        # Storage finds losses in threads too: hop onto the loop before touching the link.
        self.storage.on_lost = lambda replicas, why: loop.call_soon_threadsafe(
            self.link.replicas_lost, replicas)
        self.storage.on_corrupt = lambda replicas: loop.call_soon_threadsafe(
            self._report_bad_soon, replicas)
        self.storage.on_too_many_failed = lambda why: loop.call_soon_threadsafe(
            self._too_many_failed_volumes, why)
        self.commands = CommandRunner(
            self.storage, self.peers, streams=self.conf.settings.replication_streams_per_node,
            on_deleted=lambda r: self.link.replica_deleted(r), on_corrupt=lambda rs: self.link.report_bad(rs),
            on_copy_failed=lambda block: self.link.copy_failed(block),
            bandwidth_bytes_per_s=self.conf.settings.balance_bandwidth_bytes_per_s)
        self.ctx = PipelineContext(self.node.name, self.storage, self.peers,
                                   on_finalized=lambda r: self.link.replica_received(r))
        self.service = DataTransferService(self.ctx)
        self.link = NamenodeLink(self.conf, self.node, self.storage, self.commands.run,
                                 active_transfers=self.active_transfers,
                                 on_bandwidth=self.commands.set_bandwidth)
        if self.conf.settings.security == "tls":
            from minidfs.security.datanode_tokens import BlockAccess

            self.service.access = BlockAccess()
            self.link.on_block_keys = self.service.access.update
            self.face.app[webhdfs_datanode.BLOCK_ACCESS_KEY] = self.service.access
        self.scanner = BlockScanner(self.storage, self.conf.settings.block_scanner_bytes_per_s,
                                    self.link.report_bad)
        self.directory_scanner = DirectoryScanner(
            self.storage, self.conf.settings.directory_scan_interval_s, self.link.report_bad,
            self.link.replica_received)
        obs = Observability("datanode")
        server = channels.aio_server(interceptors=obs.interceptors)
        add_to_server(self.service, server)
        observe_daemons.mount_datanode(self.face, obs, server, self)
        try:
            port = channels.add_port(server, self.node.address)
        except RuntimeError:
            port = 0
        if port == 0:
            raise errors.ConfigError(f"cannot listen on {self.node.address} (port in use?)")
        await server.start()
        self.server = server
        await self.face.start()
        self.link.start()
        self.tasks.append(loop.create_task(self.scanner.run()))
        self.tasks.append(loop.create_task(self.directory_scanner.run()))
        replicas = self.storage.replicas()
        log.info("serving on %s with %d replicas in %s (%d of %d volumes failed)", self.node.address,
                 len(replicas), ", ".join(str(v.root) for v in self.storage.volumes),
                 len(self.storage.failed_volumes()), len(self.storage.volumes))

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
    stop = daemon_entry.stop_event()
    datanode = DataNode(conf, node, stop)
    try:
        try:
            await datanode.start()
        except (errors.ConfigError, OSError) as e:
            print(f"minidfs datanode {node.name}: {e}", file=sys.stderr)
            return 1
        await stop.wait()
        log.info("stopping")
        return 1 if datanode.fatal else 0
    finally:
        await datanode.stop()


def main(conf: ClusterConfig, name: str) -> int:
    """Runs datanode `name` of conf until SIGTERM / SIGINT; the exit code."""
    _keep_large_buffers_in_heap()
    return daemon_entry.run(
        "datanode", name, lambda: _run(conf, daemon_entry.node_of_kind(conf, name, "datanode")),
        conf=conf)


if __name__ == "__main__":
    daemon_entry.standalone("datanode", main)
