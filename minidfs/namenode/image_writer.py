"""Writes a checkpoint image without stopping the NameNode's event loop.

Used by the namesystem's checkpoint (namesystem.py). Serializing the namespace is
pure Python over every inode: about a second of blocked loop at 200k files, many
seconds at millions, long enough for DataNodes to miss heartbeats. So the namesystem
forks: the child gets a copy-on-write snapshot of the namespace at this instant
(the cut is exact: the fork happens between two event-loop steps), serializes it
and writes `<image>.tmp` (fsynced), then exits; the parent goes on serving and,
once the edits up to the image's txid are durable, renames the file into place.
Fork costs the page tables of the heap (tens of ms at a million files), and the
parent's writes during the child's life copy the pages they touch, so memory can
grow by up to the namespace's size while a checkpoint runs.

The child touches only the snapshot, msgpack and its own file: no gRPC, no logging,
no imports (gRPC's fork support is off, so it registers no fork handlers), and it
leaves with os._exit, so nothing of the parent's state is flushed or torn down
twice. Where fork does not exist the image is serialized on the loop, as before.
"""
from __future__ import annotations

import os
import pathlib

from minidfs import durable
from minidfs.namenode import checkpoint
from minidfs.namenode.namespace import Namespace

CAN_FORK = hasattr(os, "fork")


def fork_serializer(ns: Namespace, txid: int, tmp_path: pathlib.Path) -> int:
    """Forks a child that writes the image of (ns, txid) to tmp_path; its pid."""
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        write_synced(tmp_path, checkpoint.serialize(ns, txid))
        code = 0
    except BaseException as e:  # noqa: BLE001 - reported by the exit code and stderr
        try:
            os.write(2, f"checkpoint child: {type(e).__name__}: {e}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def wait_serializer(pid: int) -> None:
    """Blocks until the child exits (run it in a thread); raises if it failed."""
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise OSError(f"checkpoint child {pid} exited with {code}")


def write_synced(path: pathlib.Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        durable.write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
