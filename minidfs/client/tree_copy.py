"""Directory copies for `Client.put` / `Client.get` (`minidfs put DIR /dst`, `get /dir DIR`).

HDFS's `-put` / `-get` semantics: copying a directory into an existing directory
makes a child of the same name there (`put photos /data` -> /data/photos); onto a
name that does not exist yet, the copy takes that name (its parent must exist).
Everything is checked before the first byte moves: the source tree is listed in
full, every name must be valid on the other side, and without `overwrite` no file
of the copy may exist yet, so a refused copy changes nothing. Each file is then
copied the way single files are (a DFS file whole or removed; a local file written
aside and renamed), so a copy that fails midway leaves whole files only, never a
torn one. Symlinks are followed (a loop is refused); FIFOs, sockets and devices are
refused rather than blocking the copy.

Files are copied `threads` at a time (settings.client_copy_threads, the shell's
--threads; HDFS's `-put -t N`): a small file is mostly waiting on round trips, so
several in flight multiply the files per second. The first failure stops the copy:
files not started are skipped, those in flight finish or are removed, and the
error is raised. Ctrl-C does the same and raises CopyInterrupted, which says how
many files were copied whole and which ones in flight were removed.

Used by minidfs/client/client.py only.
"""
from __future__ import annotations

import concurrent.futures
import os
import pathlib
import stat as stat_mode
import threading
from typing import TYPE_CHECKING, Callable

from minidfs import errors, paths

if TYPE_CHECKING:
    from minidfs.client.client import Client

ProgressFn = Callable[[int], None]
# Called after each file with (files done, files in the copy).
FilesProgressFn = Callable[[int, int], None]
# Removed files named in CopyInterrupted's message; the rest are counted.
NAMED_REMOVED_MAX = 5


class CopyInterrupted(KeyboardInterrupt):
    """A tree copy stopped by Ctrl-C: `copied` files are whole at their names,
    `removed` were in flight and are gone, the rest were never started."""

    def __init__(self, copied: list[str], removed: list[str], total: int) -> None:
        self.copied, self.removed, self.total = copied, removed, total
        named = ", ".join(removed[:NAMED_REMOVED_MAX])
        more = f" and {len(removed) - NAMED_REMOVED_MAX} more" if len(removed) > NAMED_REMOVED_MAX else ""
        gone = f"; {len(removed)} in flight removed ({named}{more})" if removed else ""
        super().__init__(f"interrupted: {len(copied)} of {total} files copied whole{gone}; "
                         f"{total - len(copied) - len(removed)} not started")


class _Stopped(Exception):
    """Raised inside a file copy once the tree copy is stopping."""


def copy_files(jobs: list[tuple[str, Callable[[ProgressFn], None]]], threads: int,
               progress: ProgressFn | None, files_progress: FilesProgressFn | None) -> None:
    """Runs jobs (name, copy(progress)) `threads` at a time. Each copy leaves its file
    whole or removes it when it raises (Client._upload / Client.get do)."""
    stop = threading.Event()
    lock = threading.Lock()
    copied: list[str] = []
    removed: list[str] = []

    def counted(n: int) -> None:
        if stop.is_set():
            raise _Stopped()
        if progress is not None:
            with lock:
                progress(n)

    def run(name: str, copy: Callable[[ProgressFn], None]) -> None:
        if stop.is_set():
            return
        try:
            copy(counted)
        except _Stopped:
            with lock:
                removed.append(name)
            return
        with lock:
            copied.append(name)
            if files_progress is not None:
                files_progress(len(copied), len(jobs))

    pool = concurrent.futures.ThreadPoolExecutor(max(1, threads), thread_name_prefix="tree-copy")
    try:
        futures = [pool.submit(run, name, copy) for name, copy in jobs]
        for future in concurrent.futures.as_completed(futures):
            future.result()
    except KeyboardInterrupt:
        _stop(pool, stop)
        raise CopyInterrupted(copied, removed, len(jobs)) from None
    except BaseException:
        _stop(pool, stop)
        raise
    pool.shutdown()


def _stop(pool: concurrent.futures.ThreadPoolExecutor, stop: threading.Event) -> None:
    """Skips what has not started and waits for the copies in flight to end."""
    stop.set()
    pool.shutdown(wait=True, cancel_futures=True)


def local_tree(root: pathlib.Path) -> tuple[list[str], list[tuple[str, int]]]:
    """(directories, (file, size)) under root as relative POSIX paths, parents before
    children, sorted. Raises on a symlink loop or a file that is not a regular file."""
    dirs: list[str] = []
    files: list[tuple[str, int]] = []
    seen: set[tuple[int, int]] = set()
    for top, subdirs, names in os.walk(root, followlinks=True, onerror=_raise):
        info = os.stat(top)
        if (info.st_dev, info.st_ino) in seen:
            raise errors.InvalidArgument(f"{top}: directory loop (through a symlink)")
        seen.add((info.st_dev, info.st_ino))
        subdirs.sort()
        rel_top = pathlib.Path(top).relative_to(root)
        for name in subdirs:
            dirs.append((rel_top / name).as_posix())
        for name in sorted(names):
            path = pathlib.Path(top) / name
            try:
                info = os.stat(path)
            except FileNotFoundError:
                raise errors.FileNotFound(f"{path}: no such file (a dangling symlink?)") from None
            if not stat_mode.S_ISREG(info.st_mode):
                raise errors.InvalidArgument(f"{path}: not a regular file")
            files.append(((rel_top / name).as_posix(), info.st_size))
    return dirs, files


def _raise(error: OSError) -> None:
    raise error


def _dfs_path(base: str, rel: str) -> str:
    target = base
    for name in rel.split("/"):
        target = paths.join(target, name)
    return paths.validate(target)


def put_tree(client: "Client", source: pathlib.Path, remote: str, overwrite: bool,
             replication: int | None, block_size: int | None,
             progress: ProgressFn | None, threads: int,
             files_progress: FilesProgressFn | None = None) -> str:
    dirs, files = local_tree(source)    # the local side first: its errors cost no round trip
    status = client._info_or_none(remote)
    if status is not None and not status.is_dir:
        raise errors.FileExists(f"{remote}: file exists (and is not a directory)")
    name = pathlib.Path(os.path.abspath(source)).name      # "put . /data" names the copy too
    target = paths.validate(paths.join(remote, name)) if status is not None else remote
    dir_targets = [_dfs_path(target, rel) for rel in dirs]
    file_targets = [(source / rel, _dfs_path(target, rel)) for rel, _ in files]
    top = status if target == remote else client._info_or_none(target)
    if top is not None and not top.is_dir:
        raise errors.FileExists(f"{target}: file exists (and is not a directory)")
    if top is not None:
        # One listing of what is there already, not a round trip per file.
        kinds = {e["path"]: e["type"] for e in client.ls(target, recursive=True)}
        for path in dir_targets:
            if kinds.get(path) == "file":
                raise errors.FileExists(f"{path}: file exists (and is not a directory)")
        for _, dfs in file_targets:
            if kinds.get(dfs) == "directory":
                raise errors.IsADirectory(f"{dfs}: is a directory")
            if dfs in kinds and not overwrite:
                raise errors.FileExists(f"{dfs}: file exists")
    if top is None:
        client.mkdir(target)            # its parent must exist, as for a single file
    for path in dir_targets:
        client.mkdir(path, parents=True)
    def upload(local: pathlib.Path, dfs: str) -> Callable[[ProgressFn], None]:
        def copy(counted: ProgressFn) -> None:
            with open(local, "rb") as stream:
                client._upload(stream, dfs, overwrite, replication, block_size, counted)
        return copy

    copy_files([(dfs, upload(local, dfs)) for local, dfs in file_targets], threads, progress,
               files_progress)
    return target


def get_tree(client: "Client", remote: str, local: pathlib.Path, overwrite: bool,
             progress: ProgressFn | None, verify: bool, threads: int,
             files_progress: FilesProgressFn | None = None) -> str:
    target = local / paths.basename(remote) if local.is_dir() and remote != "/" else local
    if target.exists() and not target.is_dir():
        raise errors.FileExists(f"{target}: local file exists (and is not a directory)")
    if not target.parent.is_dir():
        raise errors.FileNotFound(f"{target.parent}: no such local directory")
    # With every file's block locations (one listing, not a round trip per file).
    listed = list(client._walk(remote, recursive=True, need_locations=True))
    prefix = len(remote) + (0 if remote == "/" else 1)
    plan = [(e, target / e["path"][prefix:]) for e, _ in listed]
    located = {e["path"]: blocks for e, blocks in listed}
    for entry, dest in plan:
        if entry["type"] == "file" and dest.is_dir():
            raise errors.FileExists(f"{dest}: is a local directory")
        if entry["type"] == "directory" and dest.exists() and not dest.is_dir():
            raise errors.FileExists(f"{dest}: local file exists (and is not a directory)")
        if entry["type"] == "file" and dest.exists() and not overwrite:
            raise errors.FileExists(f"{dest}: local file exists")
    target.mkdir(exist_ok=True)
    for entry, dest in plan:            # a directory comes before its contents
        if entry["type"] == "directory":
            dest.mkdir(exist_ok=True)

    def download(remote_path: str, dest: pathlib.Path) -> Callable[[ProgressFn], None]:
        def copy(counted: ProgressFn) -> None:
            client._download(remote_path, dest, overwrite, counted, verify, located[remote_path])
        return copy

    copy_files([(str(dest), download(e["path"], dest)) for e, dest in plan if e["type"] == "file"],
               threads, progress, files_progress)
    return str(target)
