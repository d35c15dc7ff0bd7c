"""Small durable-file helpers: the NameNode's edit log and checkpoints, the
JournalNodes' segments and epochs, the DataNodes' replicas.

Blocking calls: callers on an event loop run them in an executor thread where it matters.
A rename is only durable once the directory holding it is fsynced, so every
helper that renames or creates a name fsyncs the directory too.
"""
from __future__ import annotations

import os
import pathlib


def fsync_dir(directory: pathlib.Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def write_atomic(path: pathlib.Path, data: bytes) -> None:
    """Writes data to path via a temporary name: whole or not at all after a crash."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def rename_durably(src: pathlib.Path, dst: pathlib.Path) -> None:
    os.replace(src, dst)
    fsync_dir(dst.parent)


def create_exclusive(path: pathlib.Path) -> int:
    """Creates a new empty file for appending and makes its name durable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
    fsync_dir(path.parent)
    return fd
