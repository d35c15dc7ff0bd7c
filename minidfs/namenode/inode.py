"""The in-memory shapes of the namespace: directories, files and their blocks.

Used by namespace.py (the tree), block_manager.py (the block map indexes the very
same BlockInfo objects a file lists) and checkpoint.py. Pure data, no behaviour
beyond small helpers.

Memory matters: the target is about 1 KiB of NameNode memory per single-block
file at 200k files, so every class uses __slots__, a file keeps a plain list of
its blocks, and a block keeps its replicas in one small dict that is None until a
DataNode reports one.
"""
from __future__ import annotations

# Block states (HDFS's words): allocated and being written, length agreed by the
# client (committed), or part of a closed file (complete).
UNDER_CONSTRUCTION = 0
COMMITTED = 1
COMPLETE = 2

# Replica states, the words of ReplicaState in common.proto (the seed's lifecycle).
READY = "READY"          # finalized and reported: counts as a live replica
IN_BUILD = "IN_BUILD"    # reported while still being written (rbw/)
DOWN = "DOWN"            # its DataNode is dead; the data may come back with it
OPENING = "OPENING"      # its DataNode re-registered; waiting for its full report
DROPPED = "DROPPED"      # a DELETE command was sent; gone once the node confirms
CORRUPT = "CORRUPT"      # a checksum or length mismatch was reported


class INode:
    """`owner` / `group` are interned names (a million files share a few strings);
    `mode` is the 12-bit permission (minidfs/fsmode.py)."""

    __slots__ = ("name", "parent", "mtime_ms", "owner", "group", "mode")

    is_dir = False

    def __init__(self, name: str, parent: "INodeDirectory | None", mtime_ms: int,
                 owner: str = "", group: str = "", mode: int = 0o755) -> None:
        self.name = name
        self.parent = parent
        self.mtime_ms = mtime_ms
        self.owner = owner
        self.group = group
        self.mode = mode

    def path(self) -> str:
        """The full path, walking up to the root (the root's name is "")."""
        names = []
        node: INode | None = self
        while node is not None and node.parent is not None:
            names.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(names))


class INodeDirectory(INode):
    __slots__ = ("children",)

    is_dir = True

    def __init__(self, name: str, parent: "INodeDirectory | None", mtime_ms: int,
                 owner: str = "", group: str = "", mode: int = 0o755) -> None:
        super().__init__(name, parent, mtime_ms, owner, group, mode)
        self.children: dict[str, INode] = {}


class INodeFile(INode):
    """A file. `client` is the lease holder while the file is under construction,
    None once it is closed."""

    __slots__ = ("replication", "block_size", "blocks", "client")

    def __init__(self, name: str, parent: INodeDirectory | None, mtime_ms: int,
                 replication: int, block_size: int, client: str | None,
                 owner: str = "", group: str = "", mode: int = 0o644) -> None:
        super().__init__(name, parent, mtime_ms, owner, group, mode)
        self.replication = replication
        self.block_size = block_size
        self.blocks: list[BlockInfo] = []
        self.client = client

    @property
    def under_construction(self) -> bool:
        return self.client is not None

    def length(self) -> int:
        return sum(b.length for b in self.blocks)


class BlockInfo:
    """One block of one file. `replicas` maps a DataNode name to its replica state
    (one of the replica state words above); the block manager owns it."""

    __slots__ = ("id", "genstamp", "length", "state", "file", "replicas")

    def __init__(self, block_id: int, genstamp: int, file: INodeFile | None,
                 length: int = 0, state: int = UNDER_CONSTRUCTION) -> None:
        self.id = block_id
        self.genstamp = genstamp
        self.length = length
        self.state = state
        self.file = file
        self.replicas: dict[str, str] | None = None

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE

    @property
    def committed(self) -> bool:
        return self.state != UNDER_CONSTRUCTION

    @property
    def expected_replication(self) -> int:
        return self.file.replication if self.file is not None else 0
