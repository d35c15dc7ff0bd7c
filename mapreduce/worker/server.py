"""Worker daemon entry point: serves map outputs (the shuffle) and runs the Worker's
heartbeat loop until SIGTERM / SIGINT, then kills its running attempts.

Run by `minidfs daemon worker --conf cluster.toml --id w1` (which calls `main`) or
directly as `python -m mapreduce.worker.server --conf C --id w1`.
"""
from __future__ import annotations

import asyncio
import logging
import sys

from mapreduce.rpc import worker_pb2_grpc
from mapreduce.worker.daemon import WorkerDaemon
from mapreduce.worker.shuffle import ShuffleServicer
from minidfs import errors
from minidfs.config import ClusterConfig, NodeConfig
from minidfs import daemon_entry
from minidfs.rpc import channels
from minidfs.observe import Observability
from minidfs.web import observe_daemons
from minidfs.web.face import HttpFace

log = logging.getLogger("mapreduce.worker")

STOP_GRACE_S = 3.0


async def _run(conf: ClusterConfig, node: NodeConfig) -> int:
    stop = daemon_entry.stop_event()
    loop = asyncio.get_running_loop()
    obs = Observability("worker")
    server = channels.aio_server(interceptors=obs.interceptors)
    worker_pb2_grpc.add_ShuffleServicer_to_server(ShuffleServicer(node.data_dir), server)
    try:
        worker = WorkerDaemon(conf, node)
        worker.prepare()
        port = channels.add_port(server, node.address)
    except (errors.ConfigError, OSError, RuntimeError) as e:
        print(f"minidfs worker {node.name}: {e}", file=sys.stderr)
        return 1
    if port == 0:
        print(f"minidfs worker {node.name}: cannot listen on {node.address} (port in use?)",
              file=sys.stderr)
        return 1
    face = HttpFace(node, "worker")
    face.ready = lambda: ((True, "known to the jobtracker") if worker.known_to_jobtracker()
                          else (False, "not yet known to the jobtracker"))
    observe_daemons.mount_worker(face, obs, server, worker)
    await server.start()
    try:
        await face.start()
    except OSError as e:
        await server.stop(0)
        print(f"minidfs worker {node.name}: {e}", file=sys.stderr)
        return 1
    heartbeats = loop.create_task(worker.run())
    log.info("serving on %s with %d slots beside %s", node.address, worker.slots,
             worker.datanode or "no DataNode")
    try:
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        heartbeats.cancel()
        await asyncio.gather(heartbeats, return_exceptions=True)
        await face.stop()
        await worker.stop()
        await server.stop(STOP_GRACE_S)


def main(conf: ClusterConfig, name: str) -> int:
    """Runs worker `name` of conf until SIGTERM / SIGINT; the exit code."""
    return daemon_entry.run(
        "worker", name, lambda: _run(conf, daemon_entry.node_of_kind(conf, name, "worker")),
        conf=conf)


if __name__ == "__main__":
    daemon_entry.standalone("worker", main)
