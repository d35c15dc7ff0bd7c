"""The JobTracker gRPC service: protobuf in, JobTracker call, protobuf out.

Registered by mapreduce/jobtracker/server.py. Every method is wrapped with
@rpc_errors, so a malformed request gets INVALID_ARGUMENT and the server goes on.
Client calls name their user in the call metadata (minidfs/identity.py).
"""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

from mapreduce import ids, jobstatus
from mapreduce.jobtracker.tracker import JobTracker
from mapreduce.rpc import jobtracker_pb2 as pb
from mapreduce.rpc import jobtracker_pb2_grpc
from minidfs import errors, fsmode, identity
from minidfs.rpc.events_calls import EventCalls
from minidfs.rpc.status import rpc_errors
from minidfs.security import peer

# A watch looks at the job whenever the JobTracker signals a change, and at least
# this often (for changes nothing signals).
WATCH_INTERVAL_S = 1.0
# A Worker's doorbell stream is ended after this long; the Worker opens a new one.
WORK_WATCH_MAX_S = 300.0
# A watch that outlives this is ended; the client simply watches again.
WATCH_MAX_S = 300.0
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


class JobTrackerServicer(EventCalls, jobtracker_pb2_grpc.JobTrackerServicer):
    # Secure mode: issues each job's task certificate (minidfs/security/job_credentials.py),
    # set by server.py; None in simple mode.
    job_credentials = None

    def __init__(self, tracker: JobTracker) -> None:
        self.tracker = tracker
        self.event_feed = tracker.events

    def _user(self, context) -> str:
        user = identity.caller_user(context)
        if user is None:
            raise errors.InvalidArgument(
                f"no user identity: the call lacks the {identity.METADATA_KEY} metadata")
        return fsmode.check_name(user, "user")

    def _job_for(self, request: pb.JobRequest, context) -> str:
        """The request's job id, once the caller may see that job."""
        job_id = ids.validate_job_id(request.job_id)
        self.tracker.check_access(job_id, self._user(context))
        return job_id

    @rpc_errors
    async def Submit(self, request: pb.SubmitRequest, context) -> pb.SubmitReply:
        return pb.SubmitReply(job_id=await self.tracker.submit(request, self._user(context)))

    @rpc_errors
    async def GetJob(self, request: pb.JobRequest, context) -> pb.JobStatus:
        return jobstatus.to_pb(self.tracker.status(self._job_for(request, context)))

    @rpc_errors
    async def WatchJob(self, request: pb.JobRequest, context) -> AsyncIterator[pb.JobStatus]:
        job_id = self._job_for(request, context)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WATCH_MAX_S
        last = None
        seen = self.tracker.status_signal.sequence
        while True:
            status = self.tracker.status(job_id)
            if status != last:
                yield jobstatus.to_pb(status)
                last = status
            if status["state"] in jobstatus.FINISHED_STATES or loop.time() > deadline:
                return
            seen = await self.tracker.status_signal.wait(seen, WATCH_INTERVAL_S)

    @rpc_errors
    async def ListJobs(self, request: pb.ListJobsRequest, context) -> pb.JobList:
        self._user(context)
        limit = min(request.limit or DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
        return pb.JobList(jobs=[jobstatus.to_pb(s) for s in self.tracker.list_jobs(limit)])

    @rpc_errors
    async def KillJob(self, request: pb.JobRequest, context) -> pb.JobStatus:
        return jobstatus.to_pb(await self.tracker.kill(self._job_for(request, context)))

    @rpc_errors
    async def Heartbeat(self, request: pb.HeartbeatRequest, context) -> pb.HeartbeatReply:
        return self.tracker.heartbeat(request)

    @rpc_errors
    async def WatchWork(self, request: pb.WorkRequest, context) -> AsyncIterator[pb.WorkNudge]:
        signal = self.tracker.work_signal
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WORK_WATCH_MAX_S
        seen = signal.sequence
        while loop.time() < deadline:
            sequence = await signal.wait(seen, max(0.0, deadline - loop.time()))
            if sequence != seen:
                seen = sequence
                yield pb.WorkNudge(sequence=sequence)

    @rpc_errors
    async def GetJobPackage(self, request: pb.JobRequest, context) -> pb.JobPackage:
        package = self.tracker.package(request.job_id)
        if self.job_credentials is not None:
            owner = self.tracker.status(request.job_id).get("user") or ""
            cert_pem, key_pem = self.job_credentials.for_job(request.job_id, owner)
            package = pb.JobPackage.FromString(package.SerializeToString())
            package.job_cert_pem, package.job_key_pem = cert_pem, key_pem
        return package

    @rpc_errors
    async def GetMapOutputs(self, request: pb.MapOutputsRequest, context) -> pb.MapOutputs:
        peer.check_job(context, request.job_id)
        return self.tracker.map_outputs(request.job_id, request.reduce_attempt_id)

    @rpc_errors
    async def ReportFetchFailure(self, request: pb.FetchFailure, context) -> pb.Ack:
        peer.check_job(context, request.job_id)
        self.tracker.fetch_failure(request)
        return pb.Ack()

    @rpc_errors
    async def CanCommit(self, request: pb.CommitRequest, context) -> pb.CommitReply:
        peer.check_job(context, ids.parse_attempt(request.attempt_id).job_id)
        return pb.CommitReply(allowed=self.tracker.can_commit(request.attempt_id))
