"""The file system a job reads its input from and writes its output to.

Two implementations with one interface: LocalFileSystem (here; the inline runner) and
DfsFileSystem (mapreduce/dfs.py; the JobTracker and the Worker task children, over
minidfs.Client). Splitting, the record reader, the committer and the task code only
see this interface, so the inline runner exercises the same code as the cluster.

Input listing follows Hadoop: a file is itself; a directory means every file below
it, recursively, in path order, skipping names that start with "_" or "." (so one
job's output, with its _SUCCESS and _temporary, can be the next job's input).
"""
from __future__ import annotations

import os
import pathlib
import shutil
from dataclasses import dataclass
from typing import BinaryIO, ContextManager, Protocol

from mapreduce.splits import BlockInfo, Split, block_splits, fixed_splits
from minidfs.errors import FileNotFound, InvalidArgument

# The inline runner splits local files like a DFS with the default block size would.
DEFAULT_LOCAL_SPLIT_BYTES = 64 * 1024 * 1024
# A job over more input files than this is refused rather than planned.
MAX_INPUT_FILES = 100_000


@dataclass(frozen=True)
class InputFile:
    path: str
    length: int
    blocks: tuple[BlockInfo, ...] = ()


class FileSystem(Protocol):
    def input_files(self, path: str) -> list[InputFile]: ...
    def open_read(self, path: str) -> ContextManager[BinaryIO]: ...
    def open_write(self, path: str) -> ContextManager[BinaryIO]: ...
    def exists(self, path: str) -> bool: ...
    def mkdir(self, path: str) -> None: ...
    def mkdirs(self, path: str) -> None: ...
    def rename(self, src: str, dst: str) -> None: ...
    def delete(self, path: str) -> None: ...
    def join(self, *parts: str) -> str: ...


def is_hidden(name: str) -> bool:
    return name.startswith("_") or name.startswith(".")


def plan_splits(fs: FileSystem, input_path: str, split_size_bytes: int | None = None) -> list[Split]:
    """The map tasks of a job: one split per block, or per split_size_bytes if given."""
    splits: list[Split] = []
    for f in fs.input_files(input_path):
        if f.blocks and split_size_bytes is None:
            splits.extend(block_splits(f.path, f.blocks))
        else:
            splits.extend(fixed_splits(f.path, f.length, split_size_bytes or DEFAULT_LOCAL_SPLIT_BYTES))
    return splits


class LocalFileSystem:
    """Local files for the inline runner; paths are ordinary OS paths."""

    def input_files(self, path: str) -> list[InputFile]:
        root = pathlib.Path(path)
        if not root.exists():
            raise FileNotFound(f"{path}: input does not exist")
        if root.is_file():
            return [InputFile(str(root), root.stat().st_size)]
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
            for name in sorted(filenames):
                if not is_hidden(name):
                    full = os.path.join(dirpath, name)
                    found.append(InputFile(full, os.path.getsize(full)))
                    if len(found) > MAX_INPUT_FILES:
                        raise InvalidArgument(f"{path}: more than {MAX_INPUT_FILES} input files")
        return sorted(found, key=lambda f: f.path)

    def open_read(self, path: str) -> ContextManager[BinaryIO]:
        return open(path, "rb", buffering=0)

    def open_write(self, path: str) -> ContextManager[BinaryIO]:
        return _DurableFile(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def mkdir(self, path: str) -> None:
        os.mkdir(path)

    def mkdirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)
        _fsync_dir(os.path.dirname(os.path.abspath(dst)))

    def delete(self, path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)


class _DurableFile:
    """A local output file that is fsynced when closed, like a DFS file after close."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "wb")

    def __enter__(self) -> BinaryIO:
        return self._file

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
        finally:
            self._file.close()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
