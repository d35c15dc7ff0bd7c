"""`minidfs://` for fsspec (and through it pandas, dask, pyarrow), over the native client.

Registered through the `fsspec.specs` entry point in pyproject.toml, so
`fsspec.open("minidfs:///data/x.csv")` and `pandas.read_csv("minidfs:///data/x.csv")`
work with no HTTP in between: namespace calls are `minidfs.Client` calls, reads the
verified block read path, writes the 3-replica pipeline. Which cluster: the
`conf=` / `home=` storage options, else $MINIDFS_HOME or ./.minidfs (as the shell).
URLs are `minidfs:///abs/path` (the host part is ignored: the cluster file names the
NameNodes).

minidfs errors become the builtin ones fsspec and its users expect (FileNotFoundError,
FileExistsError, IsADirectoryError, NotADirectoryError, ValueError, OSError). Writes
are streamed: the file is created when it is opened (so mode "xb" fails at once if it
exists) and its bytes go out block by block; it is complete once close() returns.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import os
from typing import Any, Iterator

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from minidfs import errors, paths

COPY_CHUNK_BYTES = 4 * 1024 * 1024
# Reads ask the block stream for at least this much at a time (fsspec's readahead).
READ_BLOCK_BYTES = 4 * 1024 * 1024


@contextlib.contextmanager
def builtin_errors(path: str = "") -> Iterator[None]:
    """minidfs errors as the OSError subclasses Python file APIs raise."""
    try:
        yield
    except errors.FileNotFound as e:
        raise FileNotFoundError(errno.ENOENT, str(e), path) from None
    except errors.FileExists as e:
        raise FileExistsError(errno.EEXIST, str(e), path) from None
    except errors.IsADirectory as e:
        raise IsADirectoryError(errno.EISDIR, str(e), path) from None
    except errors.NotADirectory as e:
        raise NotADirectoryError(errno.ENOTDIR, str(e), path) from None
    except errors.DirectoryNotEmpty as e:
        raise OSError(errno.ENOTEMPTY, str(e), path) from None
    except errors.InvalidArgument as e:
        raise ValueError(str(e)) from None
    except errors.MinidfsError as e:
        raise OSError(errno.EIO, str(e), path) from None


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": entry["path"],
        "size": entry["length"],
        "type": entry["type"],
        "mtime": entry["modified"] / 1000.0,
        "replication": entry["replication"],
        "block_size": entry["block_size"],
        "under_construction": entry["under_construction"],
    }


class MinidfsFileSystem(AbstractFileSystem):
    protocol = "minidfs"
    root_marker = "/"

    def __init__(self, conf: str | None = None, home: str | None = None, **kwargs: Any) -> None:
        super().__init__(conf=conf, home=home, **kwargs)
        from minidfs.client.client import Client

        with builtin_errors():
            self.client = Client(conf, home=home)

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path)
        if path.startswith("minidfs://"):
            path = path[len("minidfs://"):]
            path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        elif path.startswith("minidfs::"):
            path = path[len("minidfs::"):]
        path = "/" + path.lstrip("/")
        return path.rstrip("/") or "/"

    def unstrip_protocol(self, name: str) -> str:
        return name if name.startswith("minidfs://") else "minidfs://" + name

    # ---- namespace ----------------------------------------------------------------

    def info(self, path, **kwargs):
        path = self._strip_protocol(path)
        with builtin_errors(path):
            return _entry(self.client.info(path))

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        with builtin_errors(path):
            entries = [_entry(e) for e in self.client.ls(path)]
        return entries if detail else [e["name"] for e in entries]

    def mkdir(self, path, create_parents=True, **kwargs):
        path = self._strip_protocol(path)
        if self.exists(path):
            raise FileExistsError(errno.EEXIST, "file exists", path)
        with builtin_errors(path):
            self.client.mkdir(path, parents=create_parents)

    def makedirs(self, path, exist_ok=False):
        path = self._strip_protocol(path)
        if not exist_ok and self.exists(path):
            raise FileExistsError(errno.EEXIST, "file exists", path)
        with builtin_errors(path):
            self.client.mkdir(path, parents=True)

    def rmdir(self, path):
        path = self._strip_protocol(path)
        if not self.isdir(path):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
        with builtin_errors(path):
            self.client.delete(path, recursive=False)

    def rm_file(self, path):
        path = self._strip_protocol(path)
        with builtin_errors(path):
            if not self.client.delete(path):
                raise FileNotFoundError(errno.ENOENT, "no such file or directory", path)

    _rm = rm_file

    def rm(self, path, recursive=False, maxdepth=None):
        if maxdepth is not None:
            return super().rm(path, recursive=recursive, maxdepth=maxdepth)
        # One NameNode call per named path: a recursive delete is one edit, as in HDFS.
        for p in self.expand_path(path, recursive=False):
            with builtin_errors(p):
                self.client.delete(p, recursive=recursive)
        self.invalidate_cache()

    def mv(self, path1, path2, recursive=False, maxdepth=None, **kwargs):
        single = isinstance(path1, str) and isinstance(path2, str) and not any(
            c in path1 for c in "*?[")
        if not single or maxdepth is not None:
            return super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        if src == dst:
            return None
        with builtin_errors(src):
            if self.client.info(src)["type"] == "directory" and not recursive:
                # fsspec's mv without recursive moves files only, never a directory.
                return super().mv(path1, path2, recursive=recursive, **kwargs)
            self.client.rename(src, dst)
        return None

    def cp_file(self, path1, path2, **kwargs):
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        with builtin_errors(src):
            if self.client.info(src)["type"] == "directory":
                self.makedirs(dst, exist_ok=True)
                return
            with self.client.open(src, "rb") as source, \
                    self.client.open(dst, "wb", overwrite=True) as sink:
                _copy(source, sink)

    def modified(self, path):
        return datetime.datetime.fromtimestamp(self.info(path)["mtime"], datetime.timezone.utc)

    # ---- bytes ----------------------------------------------------------------------

    def cat_file(self, path, start=None, end=None, **kwargs):
        path = self._strip_protocol(path)
        with builtin_errors(path):
            with self.client.open(path, "rb") as f:
                size = f.raw.length
                start = 0 if start is None else (max(size + start, 0) if start < 0 else start)
                end = size if end is None else (max(size + end, 0) if end < 0 else min(end, size))
                if start >= end:
                    return b""
                f.seek(start)
                return f.read(end - start)

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        path = self._strip_protocol(path)
        with builtin_errors(path):
            with self.client.open(path, "wb", overwrite=mode != "create") as f:
                f.write(value)

    def put_file(self, lpath, rpath, callback=None, mode="overwrite", **kwargs):
        rpath = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        with builtin_errors(rpath), open(lpath, "rb") as source:
            if callback is not None:
                callback.set_size(os.fstat(source.fileno()).st_size)
            with self.client.open(rpath, "wb", overwrite=mode != "create") as sink:
                _copy(source, sink, callback)

    def get_file(self, rpath, lpath, callback=None, outfile=None, **kwargs):
        rpath = self._strip_protocol(rpath)
        if outfile is None and hasattr(lpath, "write"):
            outfile = lpath
        if outfile is None and self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        with builtin_errors(rpath), self.client.open(rpath, "rb") as source:
            if callback is not None:
                callback.set_size(source.raw.length)
            if outfile is not None:
                _copy(source, outfile, callback)
                return
            os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
            with open(lpath, "wb") as sink:
                _copy(source, sink, callback)

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None,
              **kwargs):
        return MinidfsFile(self, self._strip_protocol(path), mode, block_size, autocommit,
                           cache_options=cache_options, **kwargs)


class MinidfsFile(AbstractBufferedFile):
    """Reads: ranges fetched through one seekable block stream kept open. Writes: the
    DFS file is created at open (mode "xb" refuses an existing one then), every
    flushed buffer is written to the pipeline, close() completes the file. Without
    autocommit the bytes go to a hidden temporary name, renamed on commit()."""

    DEFAULT_BLOCK_SIZE = READ_BLOCK_BYTES

    def __init__(self, fs: MinidfsFileSystem, path, mode="rb", block_size="default",
                 autocommit=True, cache_options=None, **kwargs):
        self._reader = None
        self._writer = None
        super().__init__(fs, path, mode, block_size, autocommit,
                         cache_options=cache_options, **kwargs)
        if mode == "ab":
            self.target = path
            try:
                with builtin_errors(path):
                    self._writer = fs.client.open(path, "ab")
            except BaseException:
                self.closed = True
                raise
        elif mode in ("wb", "xb"):
            self.target = path
            if not autocommit:
                self.path = paths.join(paths.parent(path),
                                       f".{paths.basename(path)}.{os.urandom(6).hex()}._COPYING_")
            try:
                with builtin_errors(path):
                    self._writer = fs.client.open(
                        self.path, "wb", overwrite=mode == "wb",
                        replication=kwargs.get("replication"),
                        block_size=kwargs.get("dfs_block_size"))
            except BaseException:
                self.closed = True   # nothing to flush when the object is collected
                raise

    def _fetch_range(self, start, end):
        with builtin_errors(self.path):
            if self._reader is None:
                self._reader = self.fs.client.open(self.path, "rb")
            self._reader.seek(start)
            return self._reader.read(end - start)

    def _initiate_upload(self):
        pass  # the DFS file was created at open

    def _upload_chunk(self, final=False):
        with builtin_errors(self.path):
            self._writer.write(self.buffer.getbuffer())
            if final:
                self._writer.close()
        return True

    def commit(self):
        with builtin_errors(self.target):
            if self.fs.exists(self.target):
                self.fs.client.delete(self.target)
            self.fs.client.rename(self.path, self.target)

    def discard(self):
        with builtin_errors(self.path):
            self.fs.client.delete(self.path)

    def close(self):
        try:
            super().close()
        finally:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


def _copy(source, sink, callback=None) -> None:
    while True:
        data = source.read(COPY_CHUNK_BYTES)
        if not data:
            return
        sink.write(data)
        if callback is not None:
            callback.relative_update(len(data))
