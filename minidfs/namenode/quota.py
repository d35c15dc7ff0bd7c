"""Directory quotas: namespace (files + directories) and space (bytes x replication).

Pure, owned by the namespace (namespace.py keeps one QuotaTable). HDFS's rules
(DirectoryWithQuotaFeature): a directory with a quota caches how much of it its
subtree uses, the directory itself counting one name against its own namespace
quota; every change below it updates that cache, and a change that would take any
quota directory on the path past its quota is refused with HDFS's message before
anything is logged. A quota set below the current use is allowed: only growth is
refused. Space is charged as HDFS does: a committed block for its length, the block
being written for a whole block, each times the file's replication - so a space
quota smaller than one block times the replication refuses the first block.

Two halves, like the namespace's own operations:
  check(dir, names, space)        validation: raises QuotaExceededError, no change
  before(ns, record) / after(...) around Namespace.apply: measures the subtree the
                                  record touches and charges the difference to the
                                  quota directories above it (replay and live alike)
Nothing here walks the tree unless some quota directory is above the change, so a
namespace without quotas pays one dict check per edit.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from minidfs import errors, paths
from minidfs.namenode.inode import INode, INodeDirectory, INodeFile

NONE = -1                        # no quota (HDFS's QUOTA_RESET), as logged and imaged
MAX_QUOTA = (1 << 63) - 1        # HDFS's quotas are Java longs

# Records that cannot change what any subtree uses.
_NO_USAGE_CHANGE = frozenset({"SET_QUOTA", "SET_TIMES", "SET_PERMISSION", "SET_OWNER",
                              "SET_DN_EXCLUDED"})


class Usage(NamedTuple):
    names: int       # files and directories (a directory counts itself)
    space: int       # bytes x replication, the block being written as a whole block


class DirQuota:
    __slots__ = ("names_quota", "space_quota", "names_used", "space_used")

    def __init__(self, names_quota: int, space_quota: int, used: Usage) -> None:
        self.names_quota = names_quota
        self.space_quota = space_quota
        self.names_used = used.names
        self.space_used = used.space


def file_space(file: INodeFile) -> int:
    """What a file charges against space quotas (HDFS's storagespaceConsumed)."""
    size = 0
    for block in file.blocks:
        size += block.length if block.committed else file.block_size
    return size * file.replication


def usage(node: INode | None) -> Usage:
    """What the subtree at node uses (nothing for None)."""
    if node is None:
        return Usage(0, 0)
    if isinstance(node, INodeFile):     # most edits touch one file
        return Usage(1, file_space(node))
    names = space = 0
    stack = [node]
    while stack:
        inode = stack.pop()
        names += 1
        if isinstance(inode, INodeFile):
            space += file_space(inode)
        elif isinstance(inode, INodeDirectory):
            stack.extend(inode.children.values())
    return Usage(names, space)


def human(n: int) -> str:
    """HDFS's long2String(n, "B", 2) as its quota messages print it: 1 KB, 1.5 MB."""
    value, unit = float(n), ""
    for prefix in ("K", "M", "G", "T", "P", "E"):
        if value < 1024:
            break
        value, unit = value / 1024, prefix
    text = f"{value:.2f}".rstrip("0").rstrip(".") if unit else str(n)
    return f"{text} {unit}B"


def check_value(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_QUOTA:
        raise errors.InvalidArgument(f"{value}: the {what} must be a positive integer "
                                     f"(at most {MAX_QUOTA})")
    return value


class QuotaTable:
    """The quota directories of one namespace, keyed by their inode (identity)."""

    def __init__(self) -> None:
        self.dirs: dict[INodeDirectory, DirQuota] = {}

    def __bool__(self) -> bool:
        return bool(self.dirs)

    def get(self, node: INode | None) -> DirQuota | None:
        return self.dirs.get(node) if isinstance(node, INodeDirectory) else None

    def set(self, node: INodeDirectory, names_quota: int, space_quota: int) -> None:
        """Installs (or with both NONE removes) a directory's quotas; the use is
        measured afresh, as HDFS does when a quota is set or an image loaded."""
        if names_quota == NONE and space_quota == NONE:
            self.dirs.pop(node, None)
            return
        self.dirs[node] = DirQuota(names_quota, space_quota, usage(node))

    # ------------------------------------------------------------ validation

    def check(self, parent: INode | None, names: int, space: int,
              shared_with: INode | None = None) -> None:
        """Raises QuotaExceededError when adding `names` / `space` below `parent`
        would exceed a quota at or above it. `shared_with`: a rename's source
        parent; the quota directories above both gain nothing and are not checked."""
        if not self.dirs or (names <= 0 and space <= 0):
            return
        shared = set(map(id, self._above(shared_with))) if shared_with is not None else ()
        dirs = self.dirs
        node = parent
        while node is not None:
            quota = dirs.get(node)  # type: ignore[call-overload]
            node, below = node.parent, node
            if quota is None or id(quota) in shared:
                continue
            self._check_one(below, quota, names, space)

    @staticmethod
    def _check_one(node: INode, quota: DirQuota, names: int, space: int) -> None:
        if names > 0 and quota.names_quota != NONE \
                and quota.names_used + names > quota.names_quota:
            raise errors.QuotaExceededError(
                f"The NameSpace quota (directories and files) of directory {node.path()} "
                f"is exceeded: quota={quota.names_quota} file count={quota.names_used + names}")
        if space > 0 and quota.space_quota != NONE \
                and quota.space_used + space > quota.space_quota:
            consumed = quota.space_used + space
            raise errors.QuotaExceededError(
                f"The DiskSpace quota of {node.path()} is exceeded: quota = "
                f"{quota.space_quota} B = {human(quota.space_quota)} but diskspace "
                f"consumed = {consumed} B = {human(consumed)}")

    def check_reopen(self, file: INodeFile) -> None:
        """Append-ready: reopening a file's last block charges it as a whole block
        again (and a new block for a full or absent last one, checked at addBlock)."""
        last = file.blocks[-1] if file.blocks else None
        if last is not None and last.committed and last.length < file.block_size:
            self.check(file.parent, 0, (file.block_size - last.length) * file.replication)

    def check_move(self, node: INode, new_parent: INode) -> None:
        """A rename of node under new_parent: the destination's quotas (those not
        above the source as well) must take the whole subtree."""
        if not self.dirs or not self._any_above(new_parent):
            return
        used = usage(node)
        self.check(new_parent, used.names, used.space, shared_with=node.parent)

    # ------------------------------------------------------------ accounting

    def before(self, ns: Any, rec: dict[str, Any]) -> tuple | None:
        """What after() needs to charge the change rec makes (None: nothing to do)."""
        op = rec.get("op")
        if not self.dirs or op in _NO_USAGE_CHANGE:
            return None
        if op == "RENAME":
            node = ns.get(rec["src"])
            if node is None:
                return None
            losing = self._above(node.parent)
            gaining = self._above(ns.get(paths.parent(rec["dst"])))
            if not (losing or gaining):
                return None
            return ("move", losing, gaining, usage(node))
        path = rec.get("path")
        if not isinstance(path, str) or path == "/":
            return None     # an op about no single path (a DataNode, ...) uses no space
        anchor, top_name = _anchor(ns.root, path)
        charged = self._above(anchor)
        top = anchor.children.get(top_name)
        if not charged:
            if op == "DELETE" and isinstance(top, INodeDirectory):
                # Nothing to charge, but quotas inside the subtree go with it.
                return ("path", charged, anchor, top_name, top, Usage(0, 0))
            return None
        return ("path", charged, anchor, top_name, top, usage(top))

    def after(self, watch: tuple) -> None:
        if watch[0] == "move":
            _, losing, gaining, used = watch
            _charge(losing, -used.names, -used.space)
            _charge(gaining, used.names, used.space)
            return
        _, charged, anchor, top_name, old_top, old_used = watch
        top = anchor.children.get(top_name)
        new_used = usage(top)
        _charge(charged, new_used.names - old_used.names, new_used.space - old_used.space)
        if old_top is not None and old_top is not top and isinstance(old_top, INodeDirectory):
            self._forget_below(old_top)

    def _above(self, node: INode | None) -> list[DirQuota]:
        """The quotas at or above node (the ones a change below it is charged to)."""
        dirs, found = self.dirs, []
        while node is not None:
            quota = dirs.get(node)  # type: ignore[call-overload]
            if quota is not None:
                found.append(quota)
            node = node.parent
        return found

    def _any_above(self, node: INode | None) -> bool:
        return bool(self._above(node))

    def _forget_below(self, removed: INodeDirectory) -> None:
        """Drops the quotas of directories in a subtree that was unlinked."""
        for node in list(self.dirs):
            walk: INode | None = node
            while walk is not None and walk is not removed:
                walk = walk.parent
            if walk is removed:
                del self.dirs[node]


def _charge(quotas: list[DirQuota], names: int, space: int) -> None:
    if names or space:
        for quota in quotas:
            quota.names_used += names
            quota.space_used += space


def _anchor(root: INodeDirectory, path: str) -> tuple[INodeDirectory, str]:
    """The deepest existing directory above path and the name below it on the way."""
    node = root
    names = paths.components(path)
    for i, name in enumerate(names[:-1]):
        child = node.children.get(name)
        if not isinstance(child, INodeDirectory):
            return node, name
        node = child
    return node, names[-1]
