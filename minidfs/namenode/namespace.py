"""The directory tree: files, directories and the block lists of files. Pure.

Owned by the namesystem (namesystem.py). Every mutating operation is split in two
so that replay and live operation cannot drift apart:

  records = ns.mkdirs("/a/b", parents=True, now_ms=...)   # validate, raise, no change
  effects = ns.apply(record)                             # the only mutation

Live: validate -> apply -> log. Restart: load a checkpoint -> apply each logged
record. `apply` returns Effects (blocks added / removed / to re-check, files whose
lease begins or ends) that the namesystem forwards to the block manager and the
lease manager. Read operations (`get`, `list`, `content_summary`) never change
anything. Semantics follow HDFS: mkdir -p, create with create_parent, rename onto
a directory moves inside it, delete of "/" is refused. How much a request may ask
for (block size, replication, directory items, path depth) is limits.py's, checked
before these: the tree itself only knows what is consistent.
"""
from __future__ import annotations

import heapq
import sys
from typing import Iterator, NamedTuple

from minidfs import errors, fsmode, paths
from minidfs.namenode import edits
from minidfs.namenode import quota as dir_quota
from minidfs.namenode.edits import Record
from minidfs.namenode.inode import (
    COMMITTED, COMPLETE, UNDER_CONSTRUCTION, BlockInfo, INode, INodeDirectory, INodeFile,
)

LIST_LIMIT_MAX = 1000            # ListStatus page cap (and the default)
MAX_DATANODE_NAME_CHARS = 64         # as datanode_ops.MAX_NODE_NAME_CHARS
MAX_TIME_MS = 253402300799999        # 9999-12-31T23:59:59.999Z: any later time is a typo
MAX_RECURSIVE_INODES = 100_000       # chmod / chown -R: inodes changed by one call
DEFAULT_DIR_MODE = 0o755             # what records and images without modes mean
DEFAULT_FILE_MODE = 0o644


class Effects:
    """What one applied record means for the block manager and the lease manager."""

    __slots__ = ("added", "removed", "recheck", "bumped", "opened", "closed", "datanodes",
                 "unlinked")

    def __init__(self) -> None:
        self.added: list[BlockInfo] = []
        self.removed: list[BlockInfo] = []
        self.recheck: list[BlockInfo] = []     # replication target or state changed
        self.bumped: list[BlockInfo] = []      # genstamp changed: old replicas are stale
        self.opened: list[tuple[str, INodeFile]] = []
        self.closed: list[tuple[str, INodeFile]] = []
        self.datanodes: list[str] = []         # DataNodes whose exclusion changed
        self.unlinked: list[INode] = []        # subtrees no longer in the tree (detach)


class Summary(NamedTuple):
    length: int
    file_count: int
    directory_count: int
    space_consumed: int


class Namespace:
    """`owner` / `group`: the root's, and those of every inode a record or image
    written before permissions existed creates (the NameNode's user and the
    superuser group, as HDFS does on upgrade)."""

    def __init__(self, root_mtime_ms: int = 0, owner: str = "", group: str = "") -> None:
        self.default_owner = sys.intern(owner)
        self.default_group = sys.intern(group)
        self.root = INodeDirectory("", None, root_mtime_ms, self.default_owner,
                                   self.default_group, DEFAULT_DIR_MODE)
        self.last_block_id = 0
        self.last_genstamp = 0
        # DataNodes an admin is decommissioning (or has): see edits.SET_DATANODE_EXCLUDED.
        self.excluded_datanodes: set[str] = set()
        self.files = 0
        self.directories = 1
        self.quota = dir_quota.QuotaTable()

    # ---------------------------------------------------------------- lookups

    def get(self, path: str) -> INode | None:
        """The inode at a valid path, None when it (or a parent directory) is missing."""
        node: INode = self.root
        for name in paths.components(path):
            if not isinstance(node, INodeDirectory):
                return None
            child = node.children.get(name)
            if child is None:
                return None
            node = child
        return node

    def get_file(self, path: str) -> INodeFile:
        node = self.get(paths.validate(path))
        if node is None:
            raise errors.FileNotFound(f"{path}: no such file")
        if not isinstance(node, INodeFile):
            raise errors.IsADirectory(f"{path}: is a directory")
        return node

    def file_for_write(self, path: str, client: str) -> INodeFile:
        """The file under construction at path, if client holds its lease."""
        node = self.get_file(path)
        if node.client is None:
            raise errors.LeaseError(f"{path}: file is not open for writing")
        if node.client != client:
            raise errors.LeaseError(f"{path}: lease is held by another client ({node.client})")
        return node

    def _existing_parent(self, path: str, create_parent: bool) -> INodeDirectory | None:
        """The parent directory of path; None if missing and create_parent allows
        creating it. Raises NotADirectory when a file sits on the way."""
        node: INode = self.root
        for name in paths.components(paths.parent(path)):
            child = node.children.get(name)  # type: ignore[attr-defined]
            if child is None:
                if create_parent:
                    return None
                raise errors.FileNotFound(f"{paths.parent(path)}: no such directory")
            if not isinstance(child, INodeDirectory):
                raise errors.NotADirectory(f"{child.path()}: not a directory")
            node = child
        return node  # type: ignore[return-value]

    # ------------------------------------------------------ validating operations

    def mkdirs(self, path: str, parents: bool, now_ms: int, owner: str | None = None,
               mode: int = DEFAULT_DIR_MODE, parent_mode: int = DEFAULT_DIR_MODE) -> list[Record]:
        """`mode` for the directory, `parent_mode` for ancestors made on the way."""
        paths.validate(path)
        node = self.get(path)
        if node is not None:
            if node.is_dir and parents:
                return []
            # Without -p an existing directory is an error too, as `hdfs dfs -mkdir`.
            raise errors.FileExists(f"{path}: file exists")
        self._existing_parent(path, create_parent=parents)
        self._check_new_names(path, 0)
        return [edits.mkdirs(path, now_ms, owner or self.default_owner, mode, parent_mode)]

    def create(self, path: str, replication: int, block_size: int, client: str,
               overwrite: bool, create_parent: bool, now_ms: int, owner: str | None = None,
               mode: int = DEFAULT_FILE_MODE, parent_mode: int = DEFAULT_DIR_MODE) -> list[Record]:
        paths.validate(path)
        if path == "/":
            raise errors.IsADirectory("/: is a directory")
        self._existing_parent(path, create_parent)
        node = self.get(path)
        if node is not None:
            if node.is_dir:
                raise errors.IsADirectory(f"{path}: is a directory")
            if not overwrite:
                raise errors.FileExists(f"{path}: file exists")
        self._check_new_names(path, 0 if node is not None else 1)
        return [edits.create(path, replication, block_size, client, now_ms,
                             owner or self.default_owner, mode, parent_mode)]

    def add_block(self, path: str, client: str,
                  previous: tuple[int, int, int] | None) -> tuple[list[Record], BlockInfo | None]:
        """Records committing `previous` (id, genstamp, length) and allocating the next
        block. A retried call (previous is the block before an unwritten last block)
        returns ([], that last block) so the client gets the same block again."""
        file = self.file_for_write(path, client)
        blocks = file.blocks
        if previous is None:
            if blocks:
                if len(blocks) == 1 and not blocks[0].committed:
                    return [], blocks[0]
                raise errors.InvalidArgument(
                    f"{path}: previous block missing, the file has {len(blocks)} block(s)")
            return self._allocate(path, file), None
        prev_id, prev_gs, prev_len = previous
        if not blocks:
            raise errors.InvalidArgument(f"{path}: previous block {prev_id} but the file has none")
        last = blocks[-1]
        if (len(blocks) >= 2 and blocks[-2].id == prev_id and not last.committed):
            return [], last
        records = self._commit(path, file, last, prev_id, prev_gs, prev_len)
        return records + self._allocate(path, file, prev_len), None

    def _allocate(self, path: str, file: INodeFile, committing_bytes: int = 0) -> list[Record]:
        # The new block is charged as a whole block; the one it follows (committed in
        # the same call) shrinks from a whole block to its length.
        space = file.block_size
        if file.blocks and not file.blocks[-1].committed:
            space -= file.block_size - committing_bytes
        self.quota.check(file.parent, 0, space * file.replication)
        return [edits.add_block(path, self.last_block_id + 1, self.last_genstamp + 1)]

    def _commit(self, path: str, file: INodeFile, last: BlockInfo, block_id: int,
                genstamp: int, length: int) -> list[Record]:
        if block_id != last.id:
            raise errors.InvalidArgument(
                f"{path}: block {block_id} is not the last block of the file ({last.id})")
        if genstamp != last.genstamp:
            raise errors.InvalidArgument(
                f"{path}: block {block_id} has genstamp {last.genstamp}, not {genstamp}")
        if length > file.block_size:
            raise errors.InvalidArgument(
                f"{path}: block {block_id} length {length} exceeds the block size {file.block_size}")
        if last.committed and last.length == length:
            return []
        if last.committed:
            raise errors.InvalidArgument(
                f"{path}: block {block_id} was committed with length {last.length}, not {length}")
        return [edits.commit_block(path, block_id, genstamp, length)]

    def commit_last(self, path: str, client: str,
                    last: tuple[int, int, int] | None) -> list[Record]:
        """Complete's first half: commit the last block with its final length."""
        file = self.file_for_write(path, client)
        if last is None:
            if file.blocks:
                raise errors.InvalidArgument(
                    f"{path}: last block missing, the file has {len(file.blocks)} block(s)")
            return []
        if not file.blocks:
            raise errors.InvalidArgument(f"{path}: block {last[0]} but the file has no blocks")
        return self._commit(path, file, file.blocks[-1], *last)

    def close(self, path: str, now_ms: int) -> list[Record]:
        """Complete's second half, once every block is committed."""
        file = self.get_file(path)
        if any(not b.committed for b in file.blocks):
            raise errors.InvalidArgument(f"{path}: not every block is committed")
        return [edits.close(path, [b.length for b in file.blocks], now_ms)]

    def recover_lease(self, path: str, last_length: int | None, now_ms: int) -> list[Record]:
        """Lease recovery: close a file whose writer vanished. An unwritten last block
        (no finalized replica reported, so last_length is None) is dropped; otherwise
        it keeps the shortest length a DataNode reported finalized."""
        file = self.get_file(path)
        if file.client is None:
            return []
        blocks = file.blocks
        if blocks and not blocks[-1].committed:
            if last_length is None:
                return [edits.abandon_block(path, blocks[-1].id),
                        edits.close(path, [b.length for b in blocks[:-1]], now_ms)]
            return [edits.close(path, [b.length for b in blocks[:-1]] + [last_length], now_ms)]
        return [edits.close(path, [b.length for b in blocks], now_ms)]

    def append(self, path: str, client: str) -> list[Record]:
        """Reopens a closed file for `client` (HDFS append): its last block, if not
        full, under the next genstamp. One writer per file: a file under
        construction is refused (the caller first deals with a lapsed lease)."""
        file = self.get_file(path)
        if file.client == client:
            raise errors.AlreadyBeingCreatedError(
                f"{path}: already open for writing by this client ({client})")
        if file.client is not None:
            raise errors.AlreadyBeingCreatedError(
                f"{path}: file is being written by another client ({file.client})")
        last = file.blocks[-1] if file.blocks else None
        reopen = last is not None and last.length < file.block_size
        self.quota.check_reopen(file)   # a reopened last block is a whole block again
        return [edits.append(path, client, self.last_genstamp + 1 if reopen else 0)]

    def update_length(self, path: str, client: str, block_id: int, genstamp: int,
                      length: int) -> list[Record]:
        """hflush: the block being written holds at least `length` acknowledged bytes."""
        file = self.file_for_write(path, client)
        last = file.blocks[-1] if file.blocks else None
        if last is None or last.id != block_id or last.committed:
            raise errors.InvalidArgument(f"{path}: block {block_id} is not the block being written")
        if last.genstamp != genstamp:
            raise errors.InvalidArgument(
                f"{path}: block {block_id} has genstamp {last.genstamp}, not {genstamp}")
        if length > file.block_size:
            raise errors.InvalidArgument(
                f"{path}: block {block_id} length {length} exceeds the block size {file.block_size}")
        if length <= last.length:
            return []
        return [edits.update_length(path, block_id, length)]

    def abandon_block(self, path: str, client: str, block_id: int) -> list[Record]:
        file = self.file_for_write(path, client)
        if not any(b.id == block_id for b in file.blocks):
            return []  # already abandoned: a retried call is harmless
        last = file.blocks[-1]
        if last.id != block_id or last.committed:
            raise errors.InvalidArgument(
                f"{path}: block {block_id} is not the unwritten last block of the file")
        return [edits.abandon_block(path, block_id)]

    def delete(self, path: str, recursive: bool, now_ms: int) -> list[Record]:
        paths.validate(path)
        if path == "/":
            raise errors.InvalidArgument("/: cannot delete the root directory")
        node = self.get(path)
        if node is None:
            return []
        if isinstance(node, INodeDirectory) and node.children and not recursive:
            raise errors.DirectoryNotEmpty(f"{path}: directory is not empty")
        return [edits.delete(path, now_ms)]

    def rename(self, src: str, dst: str, now_ms: int) -> list[Record]:
        paths.validate(src)
        paths.validate(dst)
        if src == "/":
            raise errors.InvalidArgument("/: cannot rename the root directory")
        node = self.get(src)
        if node is not None and dst == src:
            return []
        if node is None:
            raise errors.FileNotFound(f"{src}: no such file or directory")
        target = self.get(dst)
        if isinstance(target, INodeDirectory):
            dst = paths.join(dst, paths.basename(src))
            target = self.get(dst)
        if dst == src:
            return []
        if target is not None:
            raise errors.FileExists(f"{dst}: file exists")
        if node.is_dir and paths.is_under(dst, src):
            raise errors.InvalidArgument(f"{src}: cannot move a directory into itself ({dst})")
        new_parent = self._existing_parent(dst, create_parent=False)
        self.quota.check_move(node, new_parent)
        return [edits.rename(src, dst, now_ms)]

    def set_replication(self, path: str, replication: int) -> list[Record]:
        file = self.get_file(path)
        if file.replication == replication:
            return []
        self.quota.check(file.parent, 0, dir_quota.file_space(file) // file.replication
                         * (replication - file.replication))
        return [edits.set_replication(path, replication)]

    def set_quota(self, path: str, names_quota: int | None,
                  space_quota: int | None) -> list[Record]:
        """Sets (a positive int), clears (dir_quota.NONE) or keeps (None) each quota of a
        directory. Allowed below the current use, as HDFS: only growth is refused."""
        paths.validate(path)
        node = self._node(path)
        if not isinstance(node, INodeDirectory):
            raise errors.NotADirectory(f"{path}: cannot set a quota on a file")
        old = self.quota.get(node)
        current = (old.names_quota, old.space_quota) if old else (dir_quota.NONE, dir_quota.NONE)
        wanted = (current[0] if names_quota is None else names_quota,
                  current[1] if space_quota is None else space_quota)
        for value, what in zip(wanted, ("namespace quota", "space quota")):
            if value != dir_quota.NONE:
                dir_quota.check_value(value, what)
        if wanted == current:
            return []
        return [edits.set_quota(path, *wanted)]

    def _check_new_names(self, path: str, extra: int) -> None:
        """Namespace quota of a mkdirs / create: the directories it makes on the way
        (and the path itself for mkdirs, extra=0) plus `extra`."""
        if not self.quota:
            return
        node: INode = self.root
        names = paths.components(path)
        made = 0
        for i, name in enumerate(names):
            child = node.children.get(name) if isinstance(node, INodeDirectory) else None
            if child is None:
                made = len(names) - i
                break
            node = child
        if extra:
            made = max(made - 1, 0) + extra   # the last name is the file, counted once
        self.quota.check(node, made, 0)

    def set_times(self, path: str, mtime_ms: int) -> list[Record]:
        """Sets a file's or directory's modification time (HDFS setTimes; access times
        are not kept, as in HDFS with dfs.namenode.accesstime.precision = 0)."""
        paths.validate(path)
        if not 0 <= mtime_ms <= MAX_TIME_MS:
            raise errors.InvalidArgument(f"{path}: modification time must be between 0 and "
                                         f"{MAX_TIME_MS} ms, got {mtime_ms}")
        node = self._node(path)
        if node.mtime_ms == mtime_ms:
            return []
        return [edits.set_times(path, mtime_ms)]

    def subtree(self, path: str, recursive: bool) -> list[INode]:
        """The inode at path, and with recursive everything below it (parents first);
        bounded by MAX_RECURSIVE_INODES."""
        top = self.get(paths.validate(path))
        if top is None:
            raise errors.FileNotFound(f"{path}: no such file or directory")
        if not recursive:
            return [top]
        found = []
        for node in _walk(top):
            found.append(node)
            if len(found) > MAX_RECURSIVE_INODES:
                raise errors.InvalidArgument(
                    f"{path}: more than {MAX_RECURSIVE_INODES} files and directories; "
                    "change smaller subtrees")
        return found

    def set_permission(self, path: str, mode_text: str, recursive: bool) -> list[Record]:
        """chmod [-R]: octal or symbolic (fsmode.parse_mode), per inode."""
        records = []
        for node in self.subtree(path, recursive):
            mode = fsmode.parse_mode(mode_text, node.mode, node.is_dir)
            if mode & ~fsmode.ALL_BITS:
                raise errors.InvalidArgument(f"{mode_text}: setuid and setgid are not supported")
            if mode != node.mode:
                records.append(edits.set_permission(node.path(), mode))
        return records

    def set_owner(self, path: str, owner: str | None, group: str | None,
                  recursive: bool) -> list[Record]:
        """chown / chgrp [-R]: None leaves that half unchanged."""
        if owner is None and group is None:
            raise errors.InvalidArgument(f"{path}: neither an owner nor a group given")
        if owner is not None:
            fsmode.check_name(owner, "user")
        if group is not None:
            fsmode.check_name(group, "group")
        records = []
        for node in self.subtree(path, recursive):
            new_owner = owner if owner not in (None, node.owner) else None
            new_group = group if group not in (None, node.group) else None
            if new_owner is not None or new_group is not None:
                records.append(edits.set_owner(node.path(), new_owner, new_group))
        return records

    def set_datanode_excluded(self, name: str, on: bool) -> list[Record]:
        if not isinstance(name, str) or not name or len(name) > MAX_DATANODE_NAME_CHARS \
                or not name.isprintable():
            raise errors.InvalidArgument(f"{name!r}: not a DataNode name")
        if (name in self.excluded_datanodes) == on:
            return []
        return [edits.set_datanode_excluded(name, on)]

    # ----------------------------------------------------------------- apply

    def apply(self, rec: Record) -> Effects:
        """Applies one validated (or logged) record. A record that does not fit the
        tree can only come from a damaged log: EditLogCorrupt."""
        handler = _APPLY.get(rec.get("op"))
        if handler is None:
            raise errors.EditLogCorrupt(f"unknown edit op {rec.get('op')!r}")
        effects = Effects()
        try:
            watch = self.quota.before(self, rec) if self.quota else None
            handler(self, rec, effects)
            if watch is not None:
                self.quota.after(watch)
        except (KeyError, TypeError, AttributeError, IndexError, errors.MinidfsError) as e:
            raise errors.EditLogCorrupt(f"cannot apply {rec!r}: {e}") from None
        return effects

    def _node(self, path: str) -> INode:
        node = self.get(path)
        if node is None:
            raise errors.FileNotFound(f"{path}: no such file or directory")
        return node

    def _ensure_dirs(self, path: str, mtime_ms: int, owner: str, mode: int) -> INodeDirectory:
        """The directory at path, made (with the parent's group) where missing."""
        node = self.root
        for name in paths.components(path):
            child = node.children.get(name)
            if child is None:
                child = INodeDirectory(name, node, mtime_ms, owner, node.group, mode)
                node.children[name] = child
                node.mtime_ms = mtime_ms
                self.directories += 1
            if not isinstance(child, INodeDirectory):
                raise errors.NotADirectory(f"{child.path()}: not a directory")
            node = child
        return node

    def _apply_set_datanode_excluded(self, rec: Record, fx: Effects) -> None:
        name = rec["name"]
        if not isinstance(name, str):
            raise TypeError(f"DataNode name {name!r}")
        if rec["on"]:
            self.excluded_datanodes.add(name)
        else:
            self.excluded_datanodes.discard(name)
        fx.datanodes.append(name)

    def _owner_of(self, rec: Record) -> str:
        owner = rec.get("owner", self.default_owner)
        if not isinstance(owner, str):
            raise TypeError(f"owner {owner!r}")
        return sys.intern(owner)

    def _apply_mkdirs(self, rec: Record, fx: Effects) -> None:
        path, owner = rec["path"], self._owner_of(rec)
        parent_mode = rec.get("dperm", DEFAULT_DIR_MODE)
        parent = self._ensure_dirs(paths.parent(path), rec["mtime"], owner, parent_mode)
        if path != "/" and paths.basename(path) not in parent.children:
            self._ensure_dirs(path, rec["mtime"], owner, rec.get("perm", DEFAULT_DIR_MODE))

    def _apply_create(self, rec: Record, fx: Effects) -> None:
        path, mtime, owner = rec["path"], rec["mtime"], self._owner_of(rec)
        parent = self._ensure_dirs(paths.parent(path), mtime, owner,
                                   rec.get("dperm", DEFAULT_DIR_MODE))
        name = paths.basename(path)
        old = parent.children.get(name)
        if old is not None:
            if old.is_dir:
                raise errors.IsADirectory(f"{path}: is a directory")
            self._remove(old, fx)
        file = INodeFile(name, parent, mtime, rec["repl"], rec["bsize"], rec["client"],
                         owner, parent.group, rec.get("perm", DEFAULT_FILE_MODE))
        parent.children[name] = file
        parent.mtime_ms = mtime
        self.files += 1
        fx.opened.append((rec["client"], file))

    def _last_block(self, rec: Record) -> tuple[INodeFile, BlockInfo]:
        file = self._node(rec["path"])
        if not isinstance(file, INodeFile) or not file.blocks or file.blocks[-1].id != rec["id"]:
            raise errors.InvalidArgument(f"{rec['path']}: block {rec['id']} is not the last block")
        return file, file.blocks[-1]

    def _apply_add_block(self, rec: Record, fx: Effects) -> None:
        file = self._node(rec["path"])
        if not isinstance(file, INodeFile) or file.client is None:
            raise errors.InvalidArgument(f"{rec['path']}: not a file under construction")
        block = BlockInfo(rec["id"], rec["gs"], file)
        file.blocks.append(block)
        self.last_block_id = max(self.last_block_id, rec["id"])
        self.last_genstamp = max(self.last_genstamp, rec["gs"])
        fx.added.append(block)

    def _apply_commit_block(self, rec: Record, fx: Effects) -> None:
        _, block = self._last_block(rec)
        block.genstamp = rec["gs"]
        block.length = rec["len"]
        block.state = COMMITTED

    def _apply_abandon_block(self, rec: Record, fx: Effects) -> None:
        file, block = self._last_block(rec)
        file.blocks.pop()
        fx.removed.append(block)

    def _apply_set_genstamp(self, rec: Record, fx: Effects) -> None:
        _, block = self._last_block(rec)
        block.genstamp = rec["gs"]
        self.last_genstamp = max(self.last_genstamp, rec["gs"])
        fx.bumped.append(block)

    def _apply_append(self, rec: Record, fx: Effects) -> None:
        file = self._node(rec["path"])
        client = rec["client"]
        if not isinstance(file, INodeFile) or file.client is not None or not isinstance(client, str):
            raise errors.InvalidArgument(f"{rec['path']}: not a closed file")
        file.client = client
        fx.opened.append((client, file))
        if rec["gs"]:
            last = file.blocks[-1]
            last.state = UNDER_CONSTRUCTION
            last.genstamp = rec["gs"]
            self.last_genstamp = max(self.last_genstamp, rec["gs"])
            fx.bumped.append(last)

    def _apply_update_length(self, rec: Record, fx: Effects) -> None:
        _, block = self._last_block(rec)
        block.length = max(block.length, rec["len"])

    def _apply_close(self, rec: Record, fx: Effects) -> None:
        file = self._node(rec["path"])
        lengths = rec["lens"]
        if not isinstance(file, INodeFile) or len(lengths) != len(file.blocks):
            raise errors.InvalidArgument(f"{rec['path']}: block count does not match")
        for block, length in zip(file.blocks, lengths):
            block.length = length
            block.state = COMPLETE
        if file.client is not None:
            fx.closed.append((file.client, file))
        file.client = None
        file.mtime_ms = rec["mtime"]
        fx.recheck.extend(file.blocks)

    def _apply_delete(self, rec: Record, fx: Effects) -> None:
        node = self._node(rec["path"])
        if node.parent is None:
            raise errors.InvalidArgument("/: cannot delete the root directory")
        node.parent.mtime_ms = rec["mtime"]
        self._remove(node, fx)

    def _remove(self, node: INode, fx: Effects) -> None:
        """Unlinks node and accounts for everything below it."""
        assert node.parent is not None
        del node.parent.children[node.name]
        fx.unlinked.append(node)
        for inode in _walk(node):
            if isinstance(inode, INodeFile):
                self.files -= 1
                fx.removed.extend(inode.blocks)
                if inode.client is not None:
                    fx.closed.append((inode.client, inode))
            else:
                self.directories -= 1

    def _apply_rename(self, rec: Record, fx: Effects) -> None:
        node = self._node(rec["src"])
        dst, mtime = rec["dst"], rec["mtime"]
        new_parent = self._node(paths.parent(dst))
        name = paths.basename(dst)
        if not isinstance(new_parent, INodeDirectory) or name in new_parent.children:
            raise errors.FileExists(f"{dst}: cannot rename there")
        old_parent = node.parent
        assert old_parent is not None
        del old_parent.children[node.name]
        node.name = name
        node.parent = new_parent
        new_parent.children[name] = node
        old_parent.mtime_ms = mtime
        new_parent.mtime_ms = mtime

    def _apply_set_times(self, rec: Record, fx: Effects) -> None:
        self._node(rec["path"]).mtime_ms = rec["mtime"]

    def _apply_set_replication(self, rec: Record, fx: Effects) -> None:
        file = self._node(rec["path"])
        if not isinstance(file, INodeFile):
            raise errors.IsADirectory(f"{rec['path']}: is a directory")
        file.replication = rec["repl"]
        fx.recheck.extend(file.blocks)

    def _apply_set_permission(self, rec: Record, fx: Effects) -> None:
        mode = rec["perm"]
        if not isinstance(mode, int) or not 0 <= mode <= fsmode.ALL_BITS:
            raise TypeError(f"mode {mode!r}")
        self._node(rec["path"]).mode = mode

    def _apply_set_quota(self, rec: Record, fx: Effects) -> None:
        node = self._node(rec["path"])
        names_quota, space_quota = rec["nsq"], rec["ssq"]
        if not isinstance(node, INodeDirectory) or not isinstance(names_quota, int) \
                or not isinstance(space_quota, int):
            raise TypeError(f"quota {names_quota!r} / {space_quota!r} of {rec['path']}")
        self.quota.set(node, names_quota, space_quota)

    def _apply_set_owner(self, rec: Record, fx: Effects) -> None:
        node = self._node(rec["path"])
        for key in ("owner", "group"):
            value = rec.get(key)
            if value is not None:
                if not isinstance(value, str):
                    raise TypeError(f"{key} {value!r}")
                setattr(node, key, sys.intern(value))

    # ------------------------------------------------------------------ reads

    def list(self, path: str, start_after: str, limit: int) -> tuple[list[INode], bool]:
        """A page of a directory's children sorted by name (or the file itself)."""
        node = self.get(paths.validate(path))
        if node is None:
            raise errors.FileNotFound(f"{path}: no such file or directory")
        if not isinstance(node, INodeDirectory):
            return [node], False
        limit = min(limit or LIST_LIMIT_MAX, LIST_LIMIT_MAX)
        names = (n for n in node.children if n > start_after) if start_after else iter(node.children)
        page = heapq.nsmallest(limit + 1, names)
        return [node.children[n] for n in page[:limit]], len(page) > limit

    def content_summary(self, path: str) -> Summary:
        node = self.get(paths.validate(path))
        if node is None:
            raise errors.FileNotFound(f"{path}: no such file or directory")
        length = files = dirs = consumed = 0
        for inode in _walk(node):
            if isinstance(inode, INodeFile):
                size = inode.length()
                files += 1
                length += size
                consumed += size * inode.replication
            else:
                dirs += 1
        return Summary(length, files, dirs, consumed)

    def quotas(self, path: str) -> tuple[int, int]:
        """(namespace quota, space quota) of the inode at path, NONE where unset."""
        limits = self.quota.get(self.get(paths.validate(path)))
        if limits is None:
            return dir_quota.NONE, dir_quota.NONE
        return limits.names_quota, limits.space_quota

    def walk(self) -> Iterator[INode]:
        """Every inode, parents before children (checkpoints, lease rebuild)."""
        return _walk(self.root)


def detach(top: INode) -> None:
    """Breaks the reference cycles inside a subtree that left the tree: directories
    forget their children (each child points back at its parent), files their
    blocks (each block points back at its file). Then reference counting frees the
    subtree as soon as nothing else holds it, without the cyclic GC (which never
    looks at a namespace frozen after its load: heap.py). Call it once the removal
    is fully applied; a block or inode still held elsewhere keeps its own fields
    (a block its file, so its replication; a file its path)."""
    for node in list(_walk(top)):
        if isinstance(node, INodeDirectory):
            node.children = {}
        elif isinstance(node, INodeFile):
            node.blocks = []


def _walk(top: INode) -> Iterator[INode]:
    stack = [top]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, INodeDirectory):
            stack.extend(node.children.values())


_APPLY = {
    edits.MKDIRS: Namespace._apply_mkdirs,
    edits.CREATE: Namespace._apply_create,
    edits.ADD_BLOCK: Namespace._apply_add_block,
    edits.COMMIT_BLOCK: Namespace._apply_commit_block,
    edits.ABANDON_BLOCK: Namespace._apply_abandon_block,
    edits.SET_GENSTAMP: Namespace._apply_set_genstamp,
    edits.CLOSE: Namespace._apply_close,
    edits.DELETE: Namespace._apply_delete,
    edits.RENAME: Namespace._apply_rename,
    edits.SET_REPLICATION: Namespace._apply_set_replication,
    edits.SET_DATANODE_EXCLUDED: Namespace._apply_set_datanode_excluded,
    edits.SET_TIMES: Namespace._apply_set_times,
    edits.SET_PERMISSION: Namespace._apply_set_permission,
    edits.SET_OWNER: Namespace._apply_set_owner,
    edits.APPEND: Namespace._apply_append,
    edits.UPDATE_LENGTH: Namespace._apply_update_length,
    edits.SET_QUOTA: Namespace._apply_set_quota,
}
