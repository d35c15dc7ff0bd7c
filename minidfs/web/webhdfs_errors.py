"""minidfs errors as WebHDFS RemoteExceptions: the one place for the HTTP mapping.

Pure. Apache's WebHDFS answers an error with
  {"RemoteException": {"exception", "javaClassName", "message"}}
and a status from the exception's Java class (Hadoop's web ExceptionHandler):
IllegalArgument / UnsupportedOperation 400, Security / AccessControl 403,
FileNotFound 404, every other IOException 403, anything else 500. Clients key on the
exception name: HdfsCLI moves to the next NameNode on StandbyException and
RetriableException, fsspec turns FileNotFoundException into FileNotFoundError and
IllegalArgumentException into ValueError, Hadoop rebuilds the Java class.
"""
from __future__ import annotations

from typing import NamedTuple

from minidfs import errors


class RemoteException(NamedTuple):
    status: int
    exception: str
    java_class: str
    message: str

    def body(self) -> dict:
        return {"RemoteException": {"exception": self.exception,
                                    "javaClassName": self.java_class,
                                    "message": self.message}}


# Most specific class first: the first entry the error is an instance of wins.
_TABLE: list[tuple[type[errors.MinidfsError], int, str]] = [
    # Before StandbyError, its base: the edit may have been applied, so no client may
    # take it for a refusal and resend it elsewhere (docs/outcomes.md).
    (errors.EditNotDurable, 403, "java.io.IOException"),
    # The user is over their rate (namenode/throttle.py): 429 Too Many Requests with a
    # Retry-After header (webhdfs_reply.py), named as Hadoop's retry-later exception.
    (errors.Throttled, 429, "org.apache.hadoop.ipc.RetriableException"),
    (errors.StandbyError, 403, "org.apache.hadoop.ipc.StandbyException"),
    (errors.SafeModeStarting, 403, "org.apache.hadoop.ipc.RetriableException"),
    (errors.SafeModeError, 403, "org.apache.hadoop.hdfs.server.namenode.SafeModeException"),
    (errors.Unavailable, 403, "org.apache.hadoop.ipc.RetriableException"),
    (errors.PermissionDeniedError, 403, "org.apache.hadoop.security.AccessControlException"),
    (errors.InvalidArgument, 400, "java.lang.IllegalArgumentException"),
    (errors.FileNotFound, 404, "java.io.FileNotFoundException"),
    (errors.FileExists, 403, "org.apache.hadoop.fs.FileAlreadyExistsException"),
    # HDFS: creating over a directory is "already exists as a directory".
    (errors.IsADirectory, 403, "org.apache.hadoop.fs.FileAlreadyExistsException"),
    (errors.NotADirectory, 403, "org.apache.hadoop.fs.ParentNotDirectoryException"),
    (errors.DirectoryNotEmpty, 403, "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"),
    (errors.RecoveryInProgressError, 403,
     "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"),
    (errors.LeaseError, 403, "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"),
    (errors.ChecksumError, 403, "org.apache.hadoop.fs.ChecksumException"),
    (errors.BlockMissingError, 403, "org.apache.hadoop.hdfs.BlockMissingException"),
    (errors.QuotaExceededError, 403, "org.apache.hadoop.hdfs.protocol.QuotaExceededException"),
    (errors.DiskFull, 403, "org.apache.hadoop.util.DiskChecker$DiskOutOfSpaceException"),
    (errors.MinidfsError, 403, "java.io.IOException"),
]


def _short(java_class: str) -> str:
    return java_class.rsplit(".", 1)[-1].rsplit("$", 1)[-1]


def remote_exception(exc: BaseException) -> RemoteException:
    """The RemoteException for any error; a non-minidfs one is an internal 500."""
    for cls, status, java_class in _TABLE:
        if isinstance(exc, cls):
            return RemoteException(status, _short(java_class), java_class, str(exc))
    return RemoteException(500, "RuntimeException", "java.lang.RuntimeException",
                           f"internal error: {type(exc).__name__}: {exc}")
