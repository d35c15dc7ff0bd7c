"""`fsck`: the health of every block below a path. Pure.

Called by client_ops.py for the Fsck RPC (`minidfs fsck`). Walks the namespace
below the path and, for every block of a closed file, compares its replicas (as
the block manager knows them) with the file's replication:

- live: good replicas (Ready / Opening) on live, in-service DataNodes;
- missing: no good replica on any live DataNode, not even a decommissioning one
  (the data cannot be read until a node comes back);
- under_replicated: fewer live replicas than wanted (missing blocks included);
- over_replicated: more than wanted (a dead node came back; the trim is pending);
- mis_replicated: the DataNodes carry more than one rack label but every live
  replica of a block that wants two or more sits on one rack;
- corrupt: at least one replica is known corrupt.

Blocks of files still being written are counted but not judged (HDFS's fsck
skips open files too); each open file is listed with its lease holder and since
when it is open. A file may ask for more replicas than there are live DataNodes
(accepted, as HDFS does, up to max_replication): its blocks stay under-replicated
until more nodes join, and a note says so. Status: CORRUPT when a block is missing, else HEALTHY when
nothing is under-replicated or corrupt, else DEGRADED (every byte readable, but
fewer good copies than wanted: the NameNode is repairing it). `healthy` is
status == HEALTHY.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from minidfs import errors
from minidfs.namenode.block_manager import BlockManager
from minidfs.namenode.datanode_registry import DatanodeRegistry
from minidfs.namenode.inode import (
    CORRUPT, DOWN, DROPPED, IN_BUILD, OPENING, READY, BlockInfo, INode, INodeDirectory, INodeFile,
)
from minidfs.namenode.namespace import Namespace

HEALTHY = "HEALTHY"
DEGRADED = "DEGRADED"
CORRUPT_STATUS = "CORRUPT"

# Files with per-file details in one answer (the counts always cover everything).
DEFAULT_MAX_FILES = 1_000
MAX_FILES = 10_000

# The seed's replica lifecycle words, as fsck and `admin report` show them.
STATE_WORDS = {READY: "Ready", IN_BUILD: "InBuild", DOWN: "Down", OPENING: "Opening",
               DROPPED: "Dropped", CORRUPT: "Corrupt"}
# A replica still being written of a block the client has committed: it is being
# finalized and its report is on the way.
CLOSING_WORD = "Closing"


def replica_word(block: BlockInfo, state: str) -> str:
    if state == IN_BUILD and block.committed:
        return CLOSING_WORD
    return STATE_WORDS.get(state, state)


@dataclass
class BlockCheck:
    block_id: int
    genstamp: int
    length: int
    expected: int
    live: int
    replicas: list[tuple[str, str, str]]          # (datanode, state word, rack)
    problems: list[str] = field(default_factory=list)


@dataclass
class FileCheck:
    path: str
    length: int
    replication: int
    under_construction: bool
    blocks: list[BlockCheck]


@dataclass
class OpenFile:
    path: str
    client: str
    since_ms: int


@dataclass
class FsckReport:
    path: str
    files: int = 0
    directories: int = 0
    blocks: int = 0
    total_bytes: int = 0
    under_replicated: int = 0
    over_replicated: int = 0
    mis_replicated: int = 0
    missing: int = 0
    corrupt: int = 0
    open_files: int = 0
    live_datanodes: int = 0
    dead_datanodes: int = 0
    racks: int = 0
    file_details: list[FileCheck] = field(default_factory=list)
    truncated: bool = False
    open_file_details: list[OpenFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.missing:
            return CORRUPT_STATUS
        if self.under_replicated or self.corrupt:
            return DEGRADED
        return HEALTHY

    @property
    def healthy(self) -> bool:
        return self.status == HEALTHY


class Checker:
    def __init__(self, ns: Namespace, bm: BlockManager, registry: DatanodeRegistry) -> None:
        self.ns = ns
        self.bm = bm
        self.registry = registry
        live = registry.live_nodes()
        self.racks = {n.rack for n in live}

    def check(self, path: str, list_files: bool, max_files: int) -> FsckReport:
        """The report for everything below path (FileNotFound if it does not exist)."""
        report = FsckReport(path, racks=len(self.racks))
        live = self.registry.live_nodes()
        report.live_datanodes = len(live)
        report.dead_datanodes = len(self.registry.nodes) - len(live)
        top = self.ns.get(path)
        if top is None:
            raise errors.FileNotFound(f"{path}: no such file or directory")
        beyond_nodes, most = 0, 0
        for inode in _sorted_walk(top):
            if not isinstance(inode, INodeFile):
                report.directories += 1
                continue
            checked = self._file(inode, report)
            if inode.client is not None and len(report.open_file_details) < max_files:
                # An open file's mtime is its Create's: nothing else moves it until close.
                report.open_file_details.append(OpenFile(checked.path, inode.client, inode.mtime_ms))
            if inode.replication > len(live) and inode.blocks:
                beyond_nodes += 1
                most = max(most, inode.replication)
            if list_files:
                if len(report.file_details) < max_files:
                    report.file_details.append(checked)
                else:
                    report.truncated = True
        if beyond_nodes:
            report.notes.append(
                f"{beyond_nodes} file(s) want more replicas (up to {most}) than the "
                f"{len(live)} live DataNode(s): their blocks stay under-replicated until "
                f"more DataNodes join")
        return report

    def _file(self, file: INodeFile, report: FsckReport) -> FileCheck:
        report.files += 1
        report.total_bytes += file.length()
        if file.under_construction:
            report.open_files += 1
        blocks = []
        for block in file.blocks:
            report.blocks += 1
            checked = self.block(block, judge=not file.under_construction)
            for problem in checked.problems:
                setattr(report, problem, getattr(report, problem) + 1)
            blocks.append(checked)
        return FileCheck(file.path(), file.length(), file.replication, file.under_construction,
                         blocks)

    def block(self, block: BlockInfo, judge: bool = True) -> BlockCheck:
        nodes = self.registry.nodes
        replicas = block.replicas or {}
        live = self.bm.live_replicas(block)
        expected = block.expected_replication
        words = [(name, replica_word(block, state), nodes[name].rack if name in nodes else "")
                 for name, state in sorted(replicas.items())]
        checked = BlockCheck(block.id, block.genstamp, block.length, expected, len(live), words)
        if not judge:
            return checked
        problems = checked.problems
        if not self.bm.readable_replicas(block):
            problems.append("missing")
        if len(live) < expected:
            problems.append("under_replicated")
        elif len(live) > expected:
            problems.append("over_replicated")
        if (len(self.racks) > 1 and expected >= 2 and len(live) >= 2
                and len({nodes[n].rack for n in live}) == 1):
            problems.append("mis_replicated")
        if any(state == CORRUPT for state in replicas.values()):
            problems.append("corrupt")
        return checked


def _sorted_walk(top: INode) -> Iterator[INode]:
    """top and everything below it, in path order (a stable listing)."""
    stack = [top]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, INodeDirectory):
            stack.extend(node.children[name] for name in sorted(node.children, reverse=True))


def fsck(ns: Namespace, bm: BlockManager, registry: DatanodeRegistry, path: str,
         list_files: bool = False, max_files: int = DEFAULT_MAX_FILES) -> FsckReport:
    return Checker(ns, bm, registry).check(path, list_files, min(max_files, MAX_FILES))
