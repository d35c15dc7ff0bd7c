"""/metrics and gRPC health for the DataNode, JournalNode, JobTracker and Worker,
each mounted from its daemon's serve code in one call (the NameNode's is
observe_namenode.py; the JobTracker's pages are pages_jobtracker.py)."""
from __future__ import annotations

from minidfs.metrics.datanode import DatanodeCollector
from minidfs.metrics.mapreduce import JobtrackerCollector, WorkerCollector
from minidfs.observe import Observability
from minidfs.web.face import HttpFace


def mount_datanode(face: HttpFace, obs: Observability, server, datanode) -> None:
    obs.attach(server, face, DatanodeCollector(datanode),
               lambda: {"minidfs.DataTransfer": True})


def mount_journalnode(face: HttpFace, obs: Observability, server, service) -> None:
    obs.attach(server, face, None, lambda: {"minidfs.journal.Journal": service.formatted()})


def mount_jobtracker(face: HttpFace, obs: Observability, server, tracker, conf) -> None:
    from minidfs.web import pages_jobtracker

    obs.attach(server, face, JobtrackerCollector(tracker),
               lambda: {"mapreduce.JobTracker": True})
    pages_jobtracker.mount(face, tracker, conf)


def mount_worker(face: HttpFace, obs: Observability, server, worker) -> None:
    obs.attach(server, face, WorkerCollector(worker),
               lambda: {"mapreduce.Shuffle": True})
