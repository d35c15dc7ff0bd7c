"""The caller's identity in simple mode (as Hadoop's simple auth: taken on trust).

Used by Client and the shells to pick the user, and by the NameNode's servicer to
read it back: the user travels as the METADATA_KEY call metadata of every
ClientNamenode RPC. Order: an explicit `--user` / `Client(user=...)`, else
$MINIDFS_USER, else the OS user running the process.
"""
from __future__ import annotations

import getpass
import os
import pwd

from minidfs import fsmode
from minidfs.errors import InvalidArgument

METADATA_KEY = "minidfs-user"
ENV_USER = "MINIDFS_USER"


def current_user(explicit: str | None = None) -> str:
    """The user this process acts as; InvalidArgument for an unusable name."""
    if explicit is not None:
        return fsmode.check_name(explicit, "user")
    from_env = os.environ.get(ENV_USER)
    if from_env is not None:
        try:
            return fsmode.check_name(from_env, "user")
        except InvalidArgument as e:
            raise InvalidArgument(f"${ENV_USER}: {e}") from None
    return fsmode.check_name(getpass.getuser(), "user")


def process_user() -> str:
    """The OS user this process runs as (a NameNode's superuser is its process user)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def known_on_host(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except (KeyError, UnicodeError, ValueError):
        return False
    return True


def home_directory(user: str) -> str:
    """Where a user's relative paths start (HDFS's /user/<user>)."""
    return f"/user/{user}"


def caller_user(context: object) -> str | None:
    """The user a gRPC call acts as. Simple mode: the METADATA_KEY metadata (None
    when absent). Secure mode: the certificate's user, or the user a proxy daemon
    names (minidfs/security/policy.py); the metadata of a user certificate is ignored."""
    named = from_metadata(context.invocation_metadata())  # type: ignore[attr-defined]
    from minidfs.security import credentials

    if credentials.current() is None:
        return named
    from minidfs.errors import Unauthenticated
    from minidfs.security import peer, policy

    subject = peer.grpc_subject(context)
    if subject is None:
        raise Unauthenticated("secure mode: the call carries no minidfs client certificate")
    return policy.effective_user(subject, named)


def from_metadata(metadata: object) -> str | None:
    """The user named in a call's invocation metadata, None when absent."""
    for key, value in metadata or ():
        if key == METADATA_KEY:
            return value if isinstance(value, str) else None
    return None
