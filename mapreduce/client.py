"""Talking to the JobTracker from a client: submit, status, watch, list, kill.

Used by the cluster runner (`Job.run(runner="cluster")`) and the `mapreduce` shell.
Every call has a deadline and comes back as a minidfs exception on failure, and
carries the caller's user (minidfs/identity.py): a job runs as its submitter.

A JobTracker that restarts resumes its jobs (docs/mapreduce.md), so a watch, and a
status call asked to, wait for it to come back instead of failing at once; a Submit
is never retried (it is not idempotent: the first may have been journaled).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterator

import grpc

from mapreduce import jobstatus
from mapreduce.rpc import jobtracker_pb2 as pb
from mapreduce.rpc import jobtracker_pb2_grpc
from minidfs import config, identity
from minidfs.errors import ConfigError, OutcomeUnknownError, Unavailable
from minidfs.rpc import channels, status
from minidfs.rpc.status import translate

# How long a watcher keeps trying to reach a JobTracker that stopped answering: long
# enough for a restart (a new process, its journal replayed) on a loaded machine.
WATCH_RECONNECT_S = 60.0
WATCH_RECONNECT_PAUSE_S = 1.0
# The server ends a watch after a while; the client then simply watches again.
WATCH_DEADLINE_S = 600.0


class JobTrackerClient:
    def __init__(self, conf: str | os.PathLike[str] | config.ClusterConfig | None = None,
                 user: str | None = None) -> None:
        cluster = (conf if isinstance(conf, config.ClusterConfig)
                   else config.load(config.find_conf(conf)))
        from minidfs.security import credentials

        # Secure mode: the certificate (--cert-dir, $MINIDFS_CERT_DIR or the home's
        # superuser's) is who submits; --user is ignored, as on the NameNode.
        creds = credentials.for_client(cluster)
        if creds is not None and creds.subject.is_user:
            user = creds.subject.user
        self.user = identity.current_user(user)
        self._metadata = ((identity.METADATA_KEY, self.user),)
        if cluster.jobtracker is None:
            raise ConfigError(f"{cluster.path}: the cluster has no JobTracker "
                              f"(start it with workers, e.g. `minidfs cluster up --workers 2`)")
        self.address = cluster.jobtracker.address
        self.http_address = cluster.jobtracker.http_address
        self._channel = channels.sync_channel(self.address)
        self._stub = jobtracker_pb2_grpc.JobTrackerStub(self._channel)

    def page_url(self, job_id: str) -> str:
        """The job's status page on the JobTracker's HTTP face ("" without one)."""
        if not self.http_address:
            return ""
        from minidfs.security import http_tls

        return f"{http_tls.scheme(self.http_address)}://{self.http_address}/job/{job_id}"

    def submit(self, request: pb.SubmitRequest) -> str:
        """The new job's id. A submission is journaled before it is answered and is
        never retried (it is not idempotent), so a call that may have reached the
        JobTracker and got no answer (it died mid-call, a deadline passed) is
        OutcomeUnknownError: the job may be running (docs/outcomes.md)."""
        try:
            return self._stub.Submit(request, timeout=channels.METADATA_DEADLINE_S,
                                     metadata=self._metadata).job_id
        except grpc.RpcError as e:
            if status.may_have_applied(e):
                raise OutcomeUnknownError(
                    f"outcome unknown: the job may have been submitted: "
                    f"{status.from_rpc_error(e)}; see `mapreduce list`") from None
            status.raise_from_rpc(e)
            raise

    def status(self, job_id: str, reconnect_s: float = 0.0) -> dict[str, Any]:
        """The job's status; reconnect_s: how long to keep trying a JobTracker that
        does not answer (restarting)."""
        give_up_at = time.monotonic() + reconnect_s
        while True:
            try:
                with translate():
                    return jobstatus.from_pb(self._stub.GetJob(
                        pb.JobRequest(job_id=job_id), timeout=channels.METADATA_DEADLINE_S,
                        metadata=self._metadata))
            except Unavailable:
                if time.monotonic() >= give_up_at:
                    raise
                time.sleep(WATCH_RECONNECT_PAUSE_S)

    def list(self, limit: int = 0) -> list[dict[str, Any]]:
        with translate():
            reply = self._stub.ListJobs(pb.ListJobsRequest(limit=limit),
                                        timeout=channels.METADATA_DEADLINE_S,
                                        metadata=self._metadata)
        return [jobstatus.from_pb(s) for s in reply.jobs]

    def kill(self, job_id: str) -> dict[str, Any]:
        with translate():
            return jobstatus.from_pb(self._stub.KillJob(pb.JobRequest(job_id=job_id),
                                                        timeout=channels.METADATA_DEADLINE_S,
                                                        metadata=self._metadata))

    def watch(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Status updates until the job has finished; the last one is final."""
        give_up_at = None
        while True:
            try:
                for msg in self._stub.WatchJob(pb.JobRequest(job_id=job_id), timeout=WATCH_DEADLINE_S,
                                               metadata=self._metadata):
                    give_up_at = None
                    status = jobstatus.from_pb(msg)
                    yield status
                    if status["state"] in jobstatus.FINISHED_STATES:
                        return
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    with translate():
                        raise
                give_up_at = give_up_at or time.monotonic() + WATCH_RECONNECT_S
                if time.monotonic() > give_up_at:
                    raise Unavailable(f"JobTracker at {self.address} stopped answering "
                                      f"while {job_id} ran") from None
                time.sleep(WATCH_RECONNECT_PAUSE_S)

    def wait(self, job_id: str, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        status: dict[str, Any] = {}
        for status in self.watch(job_id):
            if progress is not None:
                progress(status)
        return status

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "JobTrackerClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
