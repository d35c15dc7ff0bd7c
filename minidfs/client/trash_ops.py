"""Moving into the trash and expunging it, on the client, as HDFS's shell does.

Called through `Client.trash` / `Client.expunge` (minidfs/client/client.py) by the
shell's `rm` and `expunge` (minidfs/cli/trash_commands.py). A move is an ordinary
mkdirs + rename under the user's own permissions (and quotas), so the NameNode needs
no trash logic of its own beyond the emptier (namenode/trash_emptier.py). The layout
is minidfs/trash.py's.

Python's `Client.delete` / `rm` and WebHDFS DELETE do not use the trash, as HDFS's
FileSystem.delete and WebHDFS do not: only the shell's rm does (docs/trash.md).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from minidfs import errors, paths, trash
from minidfs.rpc import client_namenode_pb2 as pb

if TYPE_CHECKING:
    from minidfs.client.client import Client

# A name in Current taken between our look and our rename (another rm at once).
MAX_MOVE_ATTEMPTS = 3


def _now_ms() -> int:
    return int(time.time() * 1000)


def enabled(client: "Client") -> bool:
    return client.conf.settings.trash_interval_s > 0


def move_to_trash(client: "Client", path: str) -> str | None:
    """Moves the absolute `path` into its user's Current; returns where it went, or
    None when the trash is off or path is already in the trash (the caller then
    deletes it for real). Raises FileNotFound for a missing path."""
    user = client.user
    if not enabled(client) or trash.in_trash(path, user):
        return None
    if trash.contains_trash(path, user):
        raise errors.InvalidArgument(
            f'Cannot move "{path}" to the trash, as it contains the trash; '
            "consider using --skip-trash")
    client.info(path)   # FileNotFound before anything is made
    wanted = trash.target(path, user)
    try:
        _make_parent(client, wanted)
    except (errors.NotADirectory, errors.FileExists):
        # A file trashed earlier sits where a directory of this path would go (/a
        # trashed, then /a/b): as HDFS, that part of the new path gets the time.
        blocker = _file_on_the_way(client, paths.parent(wanted), trash.current(user))
        if blocker is None:
            raise
        wanted = f"{blocker}{_now_ms()}{wanted[len(blocker):]}"
        _make_parent(client, wanted)
    for attempt in range(MAX_MOVE_ATTEMPTS):
        dst = trash.unique_target(wanted, client.exists, _now_ms())
        try:
            client.rename(path, dst)
            return dst
        except errors.FileExists:
            if attempt == MAX_MOVE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _make_parent(client: "Client", wanted: str) -> None:
    client.namenode.call("Mkdirs", pb.MkdirsRequest(path=paths.parent(wanted), parents=True,
                                                    mode=trash.TRASH_DIR_MODE))


def _file_on_the_way(client: "Client", directory: str, top: str) -> str | None:
    """The first file on the way from top down to directory, if any."""
    path = top
    for name in paths.components(directory)[len(paths.components(top)):]:
        path = paths.join(path, name)
        if not client.exists(path):
            return None
        if client.info(path)["type"] == "file":
            return path
    return None


def expunge(client: "Client", immediate: bool = False) -> list[str]:
    """HDFS's -expunge for the caller's trash: deletes the checkpoints older than the
    trash interval, then makes Current a checkpoint (with immediate: deletes every
    checkpoint and Current too). Returns what it did, one line per step."""
    root = trash.root(client.user)
    if not client.exists(root):
        return []
    done: list[str] = []
    now = _now_ms()
    names = [paths.basename(e["path"]) for e in client.ls(root)]
    interval_ms = 0 if immediate else int(client.conf.settings.trash_interval_s * 1000)
    for name in trash.expired(names, now, interval_ms):
        client.delete(f"{root}/{name}", recursive=True)
        done.append(f"Deleted trash checkpoint: {root}/{name}")
    if trash.CURRENT in names:
        if immediate:
            client.delete(trash.current(client.user), recursive=True)
            done.append(f"Deleted trash: {trash.current(client.user)}")
        else:
            left = [paths.basename(e["path"]) for e in client.ls(root)]
            checkpoint = f"{root}/{trash.new_checkpoint(left, now)}"
            client.rename(trash.current(client.user), checkpoint)
            done.append(f"Created trash checkpoint: {checkpoint}")
    return done
