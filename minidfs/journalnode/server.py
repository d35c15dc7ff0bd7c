"""The JournalNode daemon: `python -m minidfs.journalnode.server --conf cluster.toml --id jn1`.

Started by the launcher (`minidfs daemon journalnode`) or directly by tests. Opens
every journal under the node's data_dir (damage stops start-up with one line on
stderr, exit 1), serves the Journal service on the node's address until SIGTERM /
SIGINT, then stops gracefully. Before serving it takes its peers' epoch promise,
and while serving it copies the finalized segments it lacks from them (peer_sync.py).
"""
from __future__ import annotations

import asyncio
import logging

from minidfs.config import ClusterConfig
from minidfs.journalnode.journal_service import JournalService
from minidfs.journalnode.peer_sync import PeerSync
from minidfs import daemon_entry
from minidfs.rpc import channels, journal_pb2_grpc
from minidfs.observe import Observability
from minidfs.web import observe_daemons
from minidfs.web.face import HttpFace

log = logging.getLogger("minidfs.journalnode")
# In-flight RPCs get this long to finish after SIGTERM.
STOP_GRACE_S = 2.0


async def serve(conf: ClusterConfig, name: str) -> None:
    node = daemon_entry.node_of_kind(conf, name, "journalnode")
    service = JournalService(conf, name, node.data_dir)
    service.load_existing()
    obs = Observability("journalnode")
    server = channels.aio_server(interceptors=obs.interceptors)
    journal_pb2_grpc.add_JournalServicer_to_server(service, server)
    try:
        channels.add_port(server, node.address)
    except RuntimeError as e:
        raise daemon_entry.StartupError(f"cannot listen on {node.address}: {e}") from None
    face = HttpFace(node, "journalnode")
    face.ready = lambda: ((True, "journal formatted") if service.formatted()
                          else (False, "journal not formatted yet"))
    observe_daemons.mount_journalnode(face, obs, server, service)
    stop = daemon_entry.stop_event()
    sync = PeerSync(service, conf, name)
    await sync.adopt_epochs()      # before answering anyone: a lost disk lost its promise
    await server.start()
    log.info("serving on %s, data in %s", node.address, node.data_dir)
    sync_task = asyncio.get_running_loop().create_task(sync.run())
    try:
        await face.start()
        await stop.wait()
        log.info("stopping")
    finally:
        sync_task.cancel()
        await asyncio.gather(sync_task, return_exceptions=True)
        await face.stop()
        await server.stop(STOP_GRACE_S)
        service.close()


def main(conf: ClusterConfig, name: str) -> int:
    """Runs JournalNode `name` of conf until SIGTERM / SIGINT; the exit code."""
    return daemon_entry.run("journalnode", name, lambda: serve(conf, name), conf=conf)


if __name__ == "__main__":
    daemon_entry.standalone("journalnode", main)
