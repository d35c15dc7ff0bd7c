"""JobTracker daemon entry point: loads history and resumes journaled jobs, serves the JobTracker service and
runs the scheduler's tick loop until SIGTERM / SIGINT.

Run by `minidfs daemon jobtracker --conf cluster.toml --id jt` (which calls `main`)
or directly as `python -m mapreduce.jobtracker.server --conf C --id jt`.
"""
from __future__ import annotations

import asyncio
import logging
import sys

from mapreduce.dfs import UserFileSystems
from mapreduce.jobtracker.history import History
from mapreduce.jobtracker.journal import JobJournal
from mapreduce.jobtracker.servicer import JobTrackerServicer
from mapreduce.jobtracker.tracker import JobTracker
from mapreduce.rpc import jobtracker_pb2_grpc
from minidfs.config import ClusterConfig, NodeConfig
from minidfs.errors import MinidfsError
from minidfs import daemon_entry
from minidfs.rpc import channels
from minidfs.observe import Observability
from minidfs.web import observe_daemons
from minidfs.web.face import HttpFace

log = logging.getLogger("mapreduce.jobtracker")

STOP_GRACE_S = 3.0


async def _run(conf: ClusterConfig, node: NodeConfig) -> int:
    stop = daemon_entry.stop_event()
    loop = asyncio.get_running_loop()
    filesystems = UserFileSystems(conf)
    tracker = JobTracker(conf, filesystems, History(node.data_dir / "history"),
                         JobJournal(node.data_dir / "journal"))
    obs = Observability("jobtracker")
    server = channels.aio_server(interceptors=obs.interceptors)
    servicer = JobTrackerServicer(tracker)
    if conf.settings.security == "tls":
        from minidfs.security.job_credentials import JobCredentials

        servicer.job_credentials = JobCredentials.for_node(conf, node)
    jobtracker_pb2_grpc.add_JobTrackerServicer_to_server(servicer, server)
    face = HttpFace(node, "jobtracker")
    observe_daemons.mount_jobtracker(face, obs, server, tracker, conf)
    ticker = None
    try:
        try:
            tracker.load_history()
            port = channels.add_port(server, node.address)
        except (OSError, RuntimeError, MinidfsError) as e:
            print(f"minidfs jobtracker {node.name}: {e}", file=sys.stderr)
            return 1
        if port == 0:
            print(f"minidfs jobtracker {node.name}: cannot listen on {node.address} "
                  f"(port in use?)", file=sys.stderr)
            return 1
        await server.start()
        await face.start()
        ticker = loop.create_task(tracker.run())
        log.info("serving on %s with %d workers configured", node.address, len(conf.workers))
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        await face.stop()
        await server.stop(STOP_GRACE_S)
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        await tracker.stop()
        filesystems.close()


def main(conf: ClusterConfig, name: str) -> int:
    """Runs jobtracker `name` of conf until SIGTERM / SIGINT; the exit code."""
    return daemon_entry.run(
        "jobtracker", name, lambda: _run(conf, daemon_entry.node_of_kind(conf, name, "jobtracker")),
        conf=conf)


if __name__ == "__main__":
    daemon_entry.standalone("jobtracker", main)
