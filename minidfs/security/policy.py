"""Who may call what in secure mode: pure rules over certificate subjects.

A certificate's subject (its common name) is `kind:name`: `namenode:nn1`,
`datanode:dn3`, `worker:w2`, `user:alice`. interceptor.py asks `allowed(method,
subject)` for every gRPC call before the servicer runs; a method not listed here
is refused (fail closed), so a new service must say who may call it.

User calls take the user from the certificate (`effective_user`): the simple-mode
`minidfs-user` metadata is ignored for a user certificate, as Hadoop ignores
HADOOP_USER_NAME under Kerberos. The daemons that act for a user (the JobTracker
reading a job's input, a DataNode's WebHDFS writing through the pipeline) are
Hadoop's proxy users: their own certificate proves the daemon, the metadata names
the user it acts for.
"""
from __future__ import annotations

from dataclasses import dataclass

from minidfs import fsmode
from minidfs.errors import InvalidArgument, PermissionDeniedError

USER = "user"
# A job's tasks: `job:<job id>:<user>`, issued by the JobTracker's job CA for the
# job's life; acts as <user>, and on the MapReduce side only for that job.
JOB = "job"
DAEMON_KINDS = ("namenode", "journalnode", "datanode", "jobtracker", "worker")
KINDS = DAEMON_KINDS + (USER, JOB)
ANY = frozenset(KINDS)
# Daemons trusted to name the user they act for (Hadoop's proxy users). A Worker is
# not: the user code it runs must never act as anyone but the job's submitter.
PROXY_KINDS = frozenset({"namenode", "datanode", "jobtracker"})


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def is_user(self) -> bool:
        """A user's certificate, or a job's acting for its user."""
        return self.kind in (USER, JOB)

    @property
    def user(self) -> str:
        """The user a user or job certificate acts as ("" for daemons)."""
        if self.kind == USER:
            return self.name
        if self.kind == JOB:
            return self.name.rpartition(":")[2]
        return ""

    @property
    def job_id(self) -> str:
        return self.name.rpartition(":")[0] if self.kind == JOB else ""


def parse_subject(common_name: str) -> Subject:
    kind, sep, name = common_name.partition(":")
    if not sep or kind not in KINDS or not name:
        raise ValueError(f"subject {common_name!r} is not kind:name with kind one of "
                         f"{', '.join(KINDS)}")
    if kind == JOB:
        job, sep, user = name.rpartition(":")
        if not sep or not job or not user:
            raise ValueError(f"subject {common_name!r} is not job:<job id>:<user>")
        name_to_check = user
    else:
        name_to_check = name
    if kind in (USER, JOB):
        try:
            fsmode.check_name(name_to_check, "user")
        except InvalidArgument as e:
            raise ValueError(str(e)) from None
    return Subject(kind, name)


def _methods(service: str, names: str, kinds: frozenset[str]) -> dict[str, frozenset[str]]:
    return {f"/{service}/{n}": kinds for n in names.split()}


_RULES: dict[str, frozenset[str]] = {}
# Namespace calls: everyone with a certificate; the NameNode's permission checks
# decide what the user may do.
_RULES.update(_methods("minidfs.ClientNamenode", """
    Mkdirs Create AddBlock AbandonBlock Complete GetBlockLocations GetFileInfo ListStatus
    Delete Rename SetReplication GetContentSummary GetStats RenewLease ReportBadBlocks
    SafeMode DatanodeReport GetAdditionalDatanode UpdateBlockForPipeline Fsck
    Decommission SetPermission SetOwner GetHaStatus TransitionToStandby GetEvents
    FollowEvents SetQuota GetDatanodeBlocks GetBlockReplicas MoveReplica
    SetBalancerBandwidth Msync Append RecoverLease Fsync""", ANY))
# A DataNode's own conversation with the NameNode: only DataNodes.
_RULES.update(_methods("minidfs.DatanodeNamenode",
                       "RegisterDatanode Heartbeat BlockReport BlockReceivedAndDeleted",
                       frozenset({"datanode"})))
# Journal writes and reads: NameNodes; JournalNodes fetch segments from each other.
_RULES.update(_methods("minidfs.journal.Journal", """
    NewEpoch StartLogSegment Journal FinalizeLogSegment
    GetJournaledEdits GetSegment PrepareRecovery AcceptRecovery Purge RenewLease GetLease""",
                       frozenset({"namenode", "journalnode"})))
# Epoch, txids and the segment list (no edits): also users, for `admin ha status`'s
# JournalNode lag table (client/ha_admin.py), as HDFS's JournalNode pages show them.
_RULES.update(_methods("minidfs.journal.Journal", "GetJournalState GetEditLogManifest",
                       frozenset({"namenode", "journalnode", USER})))
# Block bytes: anyone may ask, the block token decides (block_tokens.py).
_RULES.update(_methods("minidfs.DataTransfer",
                       "WriteBlock ReadBlock GetReplicaInfo TransferReplica BlockChecksum",
                       ANY))
# Jobs are users' business; a Worker (or any daemon, or a job's tasks) submitting
# one is refused.
_RULES.update(_methods("mapreduce.JobTracker",
                       "Submit GetJob WatchJob ListJobs KillJob GetEvents FollowEvents",
                       frozenset({USER})))
# The Workers' side of the JobTracker.
_RULES.update(_methods("mapreduce.JobTracker", "Heartbeat WatchWork GetJobPackage",
                       frozenset({"worker"})))
# What a task asks during its attempt, and the shuffle: Workers, and a job's tasks
# for their own job only (the servicers check the job id: peer.check_job).
_RULES.update(_methods("mapreduce.JobTracker", "GetMapOutputs ReportFetchFailure CanCommit",
                       frozenset({"worker", JOB})))
_RULES.update(_methods("mapreduce.Shuffle", "FetchPartition", frozenset({"worker", JOB})))
# Block recovery (lease recovery of a dead writer's last block): the primary DataNode
# asks every holder to cut its replica; no user ever calls it.
_RULES.update(_methods("minidfs.DataTransfer", "RecoverReplica", frozenset({"datanode"})))
_RULES.update(_methods("grpc.health.v1.Health", "Check Watch", ANY))
_RULES.update(_methods("grpc.reflection.v1alpha.ServerReflection",
                       "ServerReflectionInfo", ANY))


def allowed(method: str, subject: Subject) -> bool:
    kinds = _RULES.get(method)
    return kinds is not None and subject.kind in kinds


def known_method(method: str) -> bool:
    return method in _RULES


def effective_user(subject: Subject, named: str | None) -> str:
    """The user a call acts as: a user certificate's own name (whatever the call
    names); a proxy daemon's named user; any other daemon's own subject name."""
    if subject.is_user:
        return subject.user
    if subject.kind in PROXY_KINDS and named:
        return fsmode.check_name(named, "user")
    if named and named != subject.name:
        raise PermissionDeniedError(f"{subject} may not act for user {named!r}")
    return subject.name
