"""The NameNode's fs-limits: how much one request may ask of the namespace. Pure.

Called by client_ops.py on every live request, before namespace.py validates it
and before anything is allocated; the Python client runs the request-shape checks
too (early, with the cluster file's settings), but the NameNode is the authority.
The limits are cluster settings (config.Settings, `[cluster]` in cluster.toml,
documented in docs/namenode.md "Limits"), as HDFS's `dfs.namenode.fs-limits.*`.

Never checked on replay: an edit logged under older, looser limits still applies
after they were tightened (HDFS does the same), so changing a limit can refuse new
requests but never a restart.

Two kinds of refusal: a request that can never succeed (a block size below the
minimum, a path too deep) is InvalidArgument; one that hits a count the namespace
has reached (a full directory, a file with its maximum of blocks) is LimitExceeded.
Every message names the setting and its value, so a user knows what to change.
"""
from __future__ import annotations

from minidfs import errors, paths
from minidfs.config import Settings
from minidfs.namenode.inode import INodeDirectory
from minidfs.namenode.namespace import Namespace
from minidfs.sizes import format_size

# Reserved for the NameNode's own names (HDFS: /.reserved/.inodes, /.reserved/raw).
RESERVED_PREFIX = "/.reserved"


def size_text(n: int) -> str:
    """64KiB when that is exact, else the plain bytes (100000B, not 97.7KiB)."""
    text = format_size(n)
    return text if "." not in text else f"{n}B"


def _did_you_mean(block_size: int) -> str:
    """A bare number below the minimum is most likely meant in MiB (as 64 -> 64MiB)."""
    return f" (did you mean {block_size}MiB?)" if block_size < 1024 else ""


class Limits:
    """The limits of one cluster's settings, and the checks that apply them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ------------------------------------------------------- request shapes

    def check_block_size(self, block_size: int, what: str, *, hint: bool = False) -> int:
        """what: the path (or flag) the size belongs to. hint: add "did you mean
        64MiB?" for a bare small number (the shell's --block-size)."""
        s = self.settings
        if block_size < s.min_block_size_bytes:
            raise errors.InvalidArgument(
                f"{what}: block size {size_text(block_size)} is below the minimum "
                f"{size_text(s.min_block_size_bytes)} (min_block_size_bytes)"
                + (_did_you_mean(block_size) if hint else ""))
        if block_size > s.max_block_size_bytes:
            raise errors.InvalidArgument(
                f"{what}: block size {size_text(block_size)} is above the maximum "
                f"{size_text(s.max_block_size_bytes)} (max_block_size_bytes)")
        if block_size % s.chunk_size_bytes:
            lower = block_size - block_size % s.chunk_size_bytes
            raise errors.InvalidArgument(
                f"{what}: block size {size_text(block_size)} is not a multiple of the "
                f"checksum chunk {size_text(s.chunk_size_bytes)} (chunk_size_bytes); "
                f"try {size_text(max(lower, s.chunk_size_bytes))}")
        return block_size

    def check_replication(self, replication: int, what: str) -> int:
        """At most max_replication, like HDFS's dfs.replication.max. More than the live
        DataNodes is accepted (nodes may join later); fsck says why it stays short."""
        if replication < 1:
            raise errors.InvalidArgument(f"{what}: replication must be at least 1, got {replication}")
        if replication > self.settings.max_replication:
            raise errors.InvalidArgument(
                f"{what}: replication {replication} is above the maximum "
                f"{self.settings.max_replication} (max_replication)")
        return replication

    def check_client_name(self, client: str, what: str) -> str:
        limit = self.settings.max_client_name_chars
        if not client or len(client) > limit or not client.isprintable():
            raise errors.InvalidArgument(
                f"{what}: a client name must be 1 to {limit} printable characters "
                f"(max_client_name_chars)")
        return client

    def check_new_path(self, path: str) -> str:
        """A path about to be created (mkdir, create, rename's target): not in the
        reserved tree, and no deeper than max_path_depth."""
        if paths.is_under(path, RESERVED_PREFIX):
            raise errors.InvalidPath(f"{path}: {RESERVED_PREFIX} is reserved for the NameNode")
        depth = len(paths.components(path))
        limit = self.settings.max_path_depth
        if depth > limit:
            shown = path if len(path) <= 80 else path[:80] + "..."
            raise errors.InvalidPath(
                f"{shown}: path is {depth} levels deep, more than the maximum "
                f"{limit} (max_path_depth)")
        return path

    # ------------------------------------------------------- namespace counts

    def check_room(self, ns: Namespace, path: str) -> None:
        """The directory that would gain an entry if path were created (its parent, or
        the deepest existing ancestor when missing parents are made too) is not full.
        Nothing to check when path exists (an overwrite adds no entry) or cannot be
        created (the namespace then says why)."""
        node = ns.root
        for name in paths.components(path):
            child = node.children.get(name)
            if child is None:
                break
            if not isinstance(child, INodeDirectory):
                return
            node = child
        else:
            return
        limit = self.settings.max_directory_items
        if len(node.children) >= limit:
            raise errors.LimitExceeded(
                f"{node.path()}: directory has {len(node.children)} items, the maximum "
                f"{limit} (max_directory_items)")

    def check_rename_room(self, ns: Namespace, src: str, dst: str) -> None:
        """A rename adds an entry to its target's directory unless it stays in the
        same one (rename onto a directory moves inside it, as namespace.rename)."""
        target = ns.get(dst)
        if isinstance(target, INodeDirectory):
            dst = paths.join(dst, paths.basename(src))
        self.check_new_path(dst)
        if paths.parent(dst) != paths.parent(src):
            self.check_room(ns, dst)

    def check_another_block(self, ns: Namespace, path: str) -> None:
        """Before allocating a block to path (AddBlock)."""
        file = ns.get_file(path)
        limit = self.settings.max_blocks_per_file
        if len(file.blocks) >= limit:
            raise errors.LimitExceeded(
                f"{path}: file has {len(file.blocks)} blocks, the maximum {limit} "
                f"(max_blocks_per_file); write it with a larger block size")

    def check_open_files(self, client: str, open_files: int) -> None:
        """Before a Create by a client that already has open_files files open."""
        limit = self.settings.max_open_files_per_client
        if open_files >= limit:
            raise errors.LimitExceeded(
                f"{client}: has {open_files} files open for writing, the maximum {limit} "
                f"(max_open_files_per_client); close some first")
