"""The DFS side of mapreduce.fs.FileSystem, over minidfs.Client.

Used by the JobTracker (listing input, making splits from block locations, setting up
and committing output), by the Worker's task children (reading splits, writing and
committing task output) and by client-side helpers (sampling). DFS paths are
absolute; the Client validates them.
"""
from __future__ import annotations

import collections
import os
import posixpath
import threading
from typing import Any, BinaryIO, ContextManager

from mapreduce.fs import MAX_INPUT_FILES, InputFile, is_hidden
from mapreduce.splits import BlockInfo
from minidfs.errors import FileNotFound, InvalidArgument


class DfsFileSystem:
    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def from_conf(cls, conf: str | os.PathLike[str] | Any | None = None,
                  client_node: str | None = None) -> "DfsFileSystem":
        from minidfs import Client

        return cls(Client(conf, client_node=client_node))

    def input_files(self, path: str) -> list[InputFile]:
        try:
            top = self.client.info(path)
        except FileNotFound:
            raise FileNotFound(f"{path}: input does not exist") from None
        if top["type"] == "file":
            return [self._input_file(path)]
        found = []
        for entry in self.client.ls(path, recursive=True):
            relative = posixpath.relpath(entry["path"], path)
            if entry["type"] != "file" or any(is_hidden(p) for p in relative.split("/")):
                continue
            found.append(self._input_file(entry["path"]))
            if len(found) > MAX_INPUT_FILES:
                raise InvalidArgument(f"{path}: more than {MAX_INPUT_FILES} input files")
        return sorted(found, key=lambda f: f.path)

    def _input_file(self, path: str) -> InputFile:
        stat = self.client.stat(path)
        blocks = tuple(BlockInfo(b["length"], tuple(b["locations"])) for b in stat["blocks"])
        return InputFile(stat["path"], stat["length"], blocks)

    def open_read(self, path: str) -> ContextManager[BinaryIO]:
        return self.client.open(path, "rb")

    def open_write(self, path: str) -> ContextManager[BinaryIO]:
        return self.client.open(path, "wb")

    def exists(self, path: str) -> bool:
        return self.client.exists(path)

    def mkdir(self, path: str) -> None:
        self.client.mkdir(path, parents=False)

    def mkdirs(self, path: str) -> None:
        self.client.mkdir(path, parents=True)

    def rename(self, src: str, dst: str) -> None:
        self.client.rename(src, dst)

    def delete(self, path: str) -> None:
        self.client.delete(path, recursive=True)

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def close(self) -> None:
        self.client.close()


class UserFileSystems:
    """The JobTracker's DFS access, one Client per user it acts for: a job's input is
    listed and its output set up and committed with the submitter's permissions.
    Bounded: past MAX_USERS the least recently used Client is closed. Thread-safe
    (the JobTracker's DFS work runs in threads)."""

    MAX_USERS = 64

    def __init__(self, conf: Any) -> None:
        self.conf = conf
        self._lock = threading.Lock()
        self._by_user: collections.OrderedDict[str, DfsFileSystem] = collections.OrderedDict()

    def for_user(self, user: str) -> DfsFileSystem:
        from minidfs import Client

        with self._lock:
            fs = self._by_user.get(user)
            if fs is None:
                fs = self._by_user[user] = DfsFileSystem(Client(self.conf, client_node="", user=user))
                while len(self._by_user) > self.MAX_USERS:
                    self._by_user.popitem(last=False)[1].close()
            self._by_user.move_to_end(user)
            return fs

    def close(self) -> None:
        with self._lock:
            for fs in self._by_user.values():
                fs.close()
            self._by_user.clear()
