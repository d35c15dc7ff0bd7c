"""Worker daemon entry point: serves map outputs (the shuffle) and runs the Worker's
heartbeat loop until SIGTERM / SIGINT, then kills its running attempts.

Run by `minidfs daemon worker --conf cluster.toml --id w1` (which calls `main`) or
directly as `python -m mapreduce.worker.server --conf C --id w1`.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from mapreduce.rpc import worker_pb2_grpc
from mapreduce.worker.daemon import WorkerDaemon
from mapreduce.worker.shuffle import ShuffleServicer
from minidfs import errors
from minidfs.config import ClusterConfig, NodeConfig, load
from minidfs.rpc import channels

log = logging.getLogger("mapreduce.worker")

STOP_GRACE_S = 3.0


async def _run(conf: ClusterConfig, node: NodeConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = channels.aio_server()
    worker_pb2_grpc.add_ShuffleServicer_to_server(ShuffleServicer(node.data_dir), server)
    try:
        worker = WorkerDaemon(conf, node)
        worker.prepare()
        port = server.add_insecure_port(channels.bind_address(node.address))
    except (errors.ConfigError, OSError, RuntimeError) as e:
        print(f"minidfs worker {node.name}: {e}", file=sys.stderr)
        return 1
    if port == 0:
        print(f"minidfs worker {node.name}: cannot listen on {node.address} (port in use?)",
              file=sys.stderr)
        return 1
    await server.start()
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
        await worker.stop()
        await server.stop(STOP_GRACE_S)


def main(conf: ClusterConfig, name: str) -> int:
    """Runs Worker `name` of conf until SIGTERM / SIGINT; the exit code."""
    try:
        node = conf.node(name)
    except errors.ConfigError as e:
        print(f"minidfs worker {name}: {e}", file=sys.stderr)
        return 1
    if node.kind != "worker":
        print(f"minidfs worker {name}: node is a {node.kind}, not a worker", file=sys.stderr)
        return 1
    return asyncio.run(_run(conf, node))


if __name__ == "__main__":
    from minidfs import logs

    parser = argparse.ArgumentParser(description="minidfs MapReduce Worker")
    parser.add_argument("--conf", required=True, help="cluster.toml")
    parser.add_argument("--id", required=True, help="node name, e.g. w1")
    args = parser.parse_args()
    logs.setup(args.id)
    try:
        cluster = load(args.conf)
    except errors.ConfigError as e:
        print(f"minidfs worker {args.id}: {e}", file=sys.stderr)
        raise SystemExit(1)
    raise SystemExit(main(cluster, args.id))
