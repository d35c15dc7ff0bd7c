"""The minidfs exception types, shared by servers, the client and the shells.

Pure: no gRPC here. minidfs/rpc/status.py maps each class to a gRPC status code
on the server and back to the same class in the client, so a caller can catch
`FileExists` whether it happened locally or three processes away. The message is
what the shell prints after "minidfs: CMD: ", e.g. "/a: file exists".
"""
from __future__ import annotations


class MinidfsError(Exception):
    """Base of every error minidfs raises on purpose."""

    grpc_code = "INTERNAL"


class InvalidArgument(MinidfsError):
    grpc_code = "INVALID_ARGUMENT"


class InvalidPath(InvalidArgument):
    pass


class FileNotFound(MinidfsError):
    grpc_code = "NOT_FOUND"


class FileExists(MinidfsError):
    grpc_code = "ALREADY_EXISTS"


class PermissionDeniedError(MinidfsError):
    """The caller's user may not do this (HDFS's AccessControlException)."""

    grpc_code = "PERMISSION_DENIED"


class Unauthenticated(MinidfsError):
    """Secure mode: the call carries no identity the server can verify."""

    grpc_code = "UNAUTHENTICATED"


class PreconditionFailed(MinidfsError):
    grpc_code = "FAILED_PRECONDITION"


class NotADirectory(PreconditionFailed):
    pass


class IsADirectory(PreconditionFailed):
    pass


class DirectoryNotEmpty(PreconditionFailed):
    pass


class SafeModeError(PreconditionFailed):
    pass


class LeaseError(PreconditionFailed):
    """The caller does not hold the lease on a file under construction."""


class AlreadyBeingCreatedError(LeaseError):
    """Another client holds the file's lease (HDFS's AlreadyBeingCreatedException):
    one writer per file (docs/append.md)."""


class RecoveryInProgressError(LeaseError):
    """The file's lease is being recovered: try again once it is closed (HDFS's
    RecoveryInProgressException)."""


class Unavailable(MinidfsError):
    """Try again, or try another server (standby NameNode, node not ready)."""

    grpc_code = "UNAVAILABLE"


class StandbyError(Unavailable):
    pass


class ObserverRetryOnActive(StandbyError):
    """An observer NameNode will not answer this call: a write, a read it does not
    serve, or a read whose client has seen a txid the observer has not applied
    within its wait (HDFS's ObserverRetryOnActiveException). Ask the active."""


class StateIdError(InvalidArgument):
    """A client's state id cannot belong to this cluster: from another cluster, or a
    txid this cluster never committed (from the future). docs/observers.md."""


class EditNotDurable(StandbyError):
    """The NameNode applied the change and sent its edit to the journal, but the
    journal failed before a quorum acknowledged it (quorum lost, lease lost mid-
    commit): the edit may still survive - a JournalNode kept it and the next active's
    segment recovery adopts it - or vanish. The client retries with the same call id
    and reports the outcome unknown when no retry can tell (docs/outcomes.md)."""


class SafeModeStarting(SafeModeError, Unavailable):
    """Automatic safe mode of a NameNode that is starting or has just become active:
    it leaves by itself once block reports arrive, so clients back off and retry
    (HDFS's RetriableException for start-up safe mode). Manual safe mode is a plain
    SafeModeError and is not retried."""

    grpc_code = "UNAVAILABLE"


class OutcomeUnknownError(MinidfsError):
    """A change reached a NameNode that may have applied it, and no retry could tell
    (Jepsen's indeterminate result): it may or may not have happened. Read the path
    to see. Raised only by clients; a definite failure - nothing changed - keeps its
    own class (docs/outcomes.md)."""

    grpc_code = "UNAVAILABLE"


class ChecksumError(MinidfsError):
    grpc_code = "DATA_LOSS"


class BlockMissingError(MinidfsError):
    """No live, uncorrupted replica of a block could be read."""

    grpc_code = "DATA_LOSS"


class LimitExceeded(MinidfsError):
    """A request would take the namespace past one of the NameNode's limits (a full
    directory, a file with its maximum of blocks): namenode/limits.py."""

    grpc_code = "RESOURCE_EXHAUSTED"


class DiskFull(MinidfsError):
    grpc_code = "RESOURCE_EXHAUSTED"


class QuotaExceededError(MinidfsError):
    """A change would take a directory past its namespace or space quota
    (namenode/quota.py); the message is HDFS's NSQuotaExceededException's or
    DSQuotaExceededException's."""

    grpc_code = "RESOURCE_EXHAUSTED"


class ReplicaNotFound(MinidfsError):
    grpc_code = "NOT_FOUND"


class PipelineError(MinidfsError):
    """A write pipeline failed and could not be recovered."""

    grpc_code = "ABORTED"


class EditLogCorrupt(MinidfsError):
    """The edit log or a checkpoint is damaged before its tail: refuse to start."""


class ConfigError(MinidfsError):
    pass


class ClusterError(MinidfsError):
    """The local cluster launcher could not do what was asked."""


class JobError(MinidfsError):
    """A MapReduce job failed; the message carries the user's traceback."""

    grpc_code = "ABORTED"


ALL_ERRORS: dict[str, type[MinidfsError]] = {
    cls.__name__: cls
    for cls in [
        MinidfsError, InvalidArgument, InvalidPath, FileNotFound, FileExists, PermissionDeniedError,
        PreconditionFailed, NotADirectory, IsADirectory, DirectoryNotEmpty,
        SafeModeError, SafeModeStarting, LeaseError, Unavailable, StandbyError, EditNotDurable,
        ObserverRetryOnActive, StateIdError,
        OutcomeUnknownError, ChecksumError,
        BlockMissingError, LimitExceeded, DiskFull, QuotaExceededError, ReplicaNotFound, PipelineError,
        EditLogCorrupt, ConfigError, ClusterError, JobError, AlreadyBeingCreatedError,
        RecoveryInProgressError,
    ]
}


class FencedError(PreconditionFailed):
    """A newer writer took the journal (a higher epoch): this NameNode must step down."""


ALL_ERRORS[FencedError.__name__] = FencedError


class Throttled(MinidfsError):
    """The NameNode refused the call before doing anything: its user is over their
    request rate or has too many calls in flight (namenode/throttle.py). Retriable:
    clients wait at least `retry_after_s` (the server's hint, carried in trailing
    metadata) with backoff and jitter, within the operation's deadline."""

    grpc_code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str = "throttled", retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


ALL_ERRORS[Throttled.__name__] = Throttled
