"""The NameNode daemon: `python -m minidfs.namenode.server --conf cluster.toml --id nn1`.

`main(conf, name)` is what `minidfs daemon namenode` calls. It takes the data
folder's lock, binds the node's address from cluster.toml, loads the newest
checkpoint and replays the edit log (a torn tail is cut; corruption anywhere else
refuses to start), serves ClientNamenode and DatanodeNamenode until SIGTERM or
SIGINT, then stops taking calls, checkpoints and finalizes the journal. A fatal
start-up problem prints one line `minidfs namenode <name>: <what>` to stderr and
returns 1. A journal that cannot write also stops the daemon with exit code 1:
answering clients about edits that may be lost is worse than stopping.

With `ha = true` the journal is the quorum journal on the JournalNodes and the HA
controller (ha_controller.py) drives the role: the NameNode starts as a standby,
tails the journal, takes over when the active's lease lapses and steps down (rather
than exiting) when its journal fails or a newer epoch fences it. An interceptor
(active_guard.py) refuses every client call while it is not the serving active.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pathlib
import sys

from minidfs.config import ClusterConfig, NodeConfig, is_observer
from minidfs import daemon_entry
from minidfs.daemon_entry import StartupError
from minidfs.namenode import audit
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.datanode_ops import DatanodeOperations
from minidfs.namenode.datanode_servicer import DatanodeNamenodeServicer
from minidfs.namenode.active_guard import ActiveGuard
from minidfs.namenode.ha_controller import HaController
from minidfs.namenode.events_servicer import NamenodeClientServicer
from minidfs.namenode.ha_state import HaState
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.namenode.state_guard import StateGuard
from minidfs.namenode.string_bound import StringBound
from minidfs.namenode.throttle import UserThrottle
from minidfs.namenode.throttle_interceptor import ThrottleInterceptor
from minidfs.rpc import channels, client_namenode_pb2_grpc, datanode_namenode_pb2_grpc
from minidfs.observe import Observability
from minidfs.web import observe_namenode
from minidfs.web import image_transfer, webhdfs_namenode
from minidfs.web.face import HttpFace

log = logging.getLogger("minidfs.namenode")

STOP_GRACE_S = 5.0
LOCK_NAME = "in_use.lock"


def _lock_data_dir(data_dir: pathlib.Path) -> int:
    """Holds an exclusive lock on the data folder for the life of the process, so a
    second NameNode pointed at the same folder cannot corrupt the log."""
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StartupError(f"{data_dir}: in use by another NameNode process") from None
    return fd


async def serve(conf: ClusterConfig, node: NodeConfig) -> int:
    node.data_dir.mkdir(parents=True, exist_ok=True)
    lock_fd = _lock_data_dir(node.data_dir)
    try:
        if is_observer(node) and not conf.settings.ha:
            raise StartupError(f"{node.name}: an observer namenode needs ha = true "
                               "(it tails the JournalNodes)")
        ha = HaState(node.name, enabled=conf.settings.ha, observer=is_observer(node))
        fs = Namesystem(conf.settings, node.data_dir, ha=ha, groups=conf.groups, freeze_heap=True)
        controller = HaController(fs, conf, node) if ha.enabled else None
        obs = Observability("namenode")
        throttle = UserThrottle(conf.settings.throttle_user_requests_per_s,
                                conf.settings.throttle_user_burst,
                                conf.settings.throttle_user_concurrent_calls)
        guards = [ThrottleInterceptor(throttle), StringBound(conf.settings.max_string_field_bytes),
                  audit.OriginInterceptor()]
        # Client state ids (docs/observers.md): after the active guard, so a standby's
        # refusal comes first; an observer's reads wait here until caught up.
        state = StateGuard(fs, conf.settings.cluster_id,
                           controller.wait_applied if controller is not None else None,
                           conf.settings.observer_read_wait_s)
        server = channels.aio_server(
            interceptors=obs.interceptors + guards + ([ActiveGuard(ha)] if ha.enabled else [])
            + [state])
        audit_log = audit.AuditLog(audit.audit_path(conf.path, node.data_dir, node.name),
                                   conf.settings.audit_log_max_bytes,
                                   conf.settings.audit_log_backups, node.name,
                                   "CERTIFICATE" if conf.settings.security == "tls" else "SIMPLE") \
            if conf.settings.audit_log_enabled else None
        client_servicer = NamenodeClientServicer(audit.audited(ClientOperations(fs), audit_log),
                                                 node.name, controller)
        datanode_servicer = DatanodeNamenodeServicer(DatanodeOperations(fs), node.name)
        if conf.settings.security == "tls":
            from minidfs.security.namenode_tokens import BlockTokenIssuer

            client_servicer.block_tokens = datanode_servicer.block_tokens = \
                BlockTokenIssuer.for_node(conf, node)
        client_namenode_pb2_grpc.add_ClientNamenodeServicer_to_server(client_servicer, server)
        datanode_namenode_pb2_grpc.add_DatanodeNamenodeServicer_to_server(datanode_servicer, server)
        try:
            port = channels.add_port(server, node.address)
        except RuntimeError as e:
            raise StartupError(f"cannot listen on {node.address}: {e}") from None
        if port == 0:
            raise StartupError(f"cannot listen on {node.address}: address in use or unavailable")
        face = HttpFace(node, "namenode")
        face.ready = lambda: _namenode_ready(fs)
        observe_namenode.mount(face, obs, server, fs, conf)
        webhdfs_namenode.mount(face, fs, conf, throttle, audit_log)
        image_transfer.mount(face, fs)
        if controller is not None:
            return await _serve_ha(server, face, fs, controller, node)
        await fs.start()
        try:
            await server.start()
            await face.start()
            log.info("namenode %s serving on %s", node.name, node.address)
            stopped = await _wait_for_stop(fs)
            log.info("namenode %s stopping (%s)", node.name, stopped)
            await face.stop()
            await server.stop(STOP_GRACE_S)
        finally:
            await face.stop()
            await fs.stop()
        return 1 if fs.failed.is_set() else 0
    finally:
        os.close(lock_fd)


def _namenode_ready(fs: Namesystem) -> tuple[bool, str]:
    """/readyz: ready means active and out of safe mode (a standby is alive, not ready);
    an observer is ready once it has applied every edit the JournalNodes committed."""
    if fs.ha.observer:
        return (True, "observer, in sync") if fs.ha.in_sync else (False, "observer catching up")
    if not fs.ha.serving(mono_ms()):
        return False, f"not active ({fs.ha.role}, {fs.ha.word})"
    if fs.safemode.on:
        return False, "in safe mode"
    return True, "active"


async def _serve_ha(server, face: HttpFace, fs: Namesystem, controller: HaController,
                    node: NodeConfig) -> int:
    """HA: a journal failure steps down instead of stopping; only a signal or a dead
    controller (e.g. corrupt edits read from the JournalNodes) ends the daemon."""
    await controller.start()
    try:
        await server.start()
        await face.start()
        log.info("namenode %s serving on %s (HA, starting as standby)", node.name, node.address)
        loop = asyncio.get_running_loop()
        stop = daemon_entry.stop_event()
        waiter = loop.create_task(stop.wait())
        await asyncio.wait([waiter, controller.task], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        crashed = controller.task.done() and not controller.task.cancelled()
        error = controller.task.exception() if crashed else None
        if error is not None:
            print(f"minidfs namenode {node.name}: {error}", file=sys.stderr)
        log.info("namenode %s stopping (%s)", node.name, "controller failed" if crashed else "signal")
        await face.stop()
        await server.stop(STOP_GRACE_S)
    finally:
        await face.stop()
        await controller.stop()
    return 1 if crashed else 0


async def _wait_for_stop(fs: Namesystem) -> str:
    loop = asyncio.get_running_loop()
    stop = daemon_entry.stop_event()
    waiters = [loop.create_task(stop.wait()), loop.create_task(fs.failed.wait())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    return "edit log failure" if fs.failed.is_set() else "signal"


def main(conf: ClusterConfig, name: str) -> int:
    """Runs NameNode `name` of conf until SIGTERM / SIGINT; the exit code."""
    return daemon_entry.run(
        "namenode", name,
        lambda: serve(conf, daemon_entry.node_of_kind(conf, name, "namenode")),
        conf=conf)


if __name__ == "__main__":
    daemon_entry.standalone("namenode", main)
