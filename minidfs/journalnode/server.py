"""The JournalNode daemon: `python -m minidfs.journalnode.server --conf cluster.toml --id jn1`.

Started by the launcher (`minidfs daemon journalnode`) or directly by tests. Opens
every journal under the node's data_dir (damage stops start-up with one line on
stderr, exit 1), serves the Journal service on the node's address until SIGTERM /
SIGINT, then stops gracefully.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from minidfs import config, logs
from minidfs.config import ClusterConfig
from minidfs.errors import MinidfsError
from minidfs.journalnode.journal_service import JournalService
from minidfs.rpc import channels, journal_pb2_grpc

log = logging.getLogger("minidfs.journalnode")
# In-flight RPCs get this long to finish after SIGTERM.
STOP_GRACE_S = 2.0


class StartupError(Exception):
    pass


async def serve(conf: ClusterConfig, name: str) -> None:
    node = conf.node(name)
    if node.kind != "journalnode":
        raise StartupError(f"{name} is a {node.kind}, not a journalnode")
    service = JournalService(conf, name, node.data_dir)
    service.load_existing()
    server = channels.aio_server()
    journal_pb2_grpc.add_JournalServicer_to_server(service, server)
    try:
        server.add_insecure_port(channels.bind_address(node.address))
    except RuntimeError as e:
        raise StartupError(f"cannot listen on {node.address}: {e}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    log.info("serving on %s, data in %s", node.address, node.data_dir)
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        await server.stop(STOP_GRACE_S)
        service.close()


def main(conf: ClusterConfig, name: str) -> int:
    try:
        asyncio.run(serve(conf, name))
    except (StartupError, MinidfsError, OSError) as e:
        print(f"minidfs journalnode {name}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="minidfs JournalNode")
    parser.add_argument("--conf", required=True)
    parser.add_argument("--id", required=True)
    args = parser.parse_args()
    logs.setup(args.id)
    try:
        loaded = config.load(args.conf)
    except MinidfsError as e:
        print(f"minidfs journalnode {args.id}: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    raise SystemExit(main(loaded, args.id))
