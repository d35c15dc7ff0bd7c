"""The NameNode's half of pipeline recovery. Pure.

When a DataNode of a write pipeline fails, the client (minidfs/client/
pipeline_recovery.py) drops it, may ask for a replacement
(`additional_targets`), and asks for a new generation stamp for the block
(`bump_genstamp`) before it restarts the pipeline on the survivors. The new
genstamp is logged (SET_GENSTAMP) before the client hears it, so after any crash
the NameNode knows which replicas are current: the survivors convert their copy
to it, and a copy left with the old genstamp (on the failed node) is stale and
deleted when it is reported (block_manager.py).

Called by client_ops.py; takes the namespace and registry, returns records and
placement choices, reads no clock.
"""
from __future__ import annotations

from typing import Iterable

from minidfs import errors
from minidfs.namenode import edits, placement
from minidfs.namenode.datanode_registry import DatanodeDescriptor, DatanodeRegistry
from minidfs.namenode.edits import Record
from minidfs.namenode.inode import BlockInfo
from minidfs.namenode.namespace import Namespace

# A pipeline longer than this is refused (the DataNodes refuse it too).
MAX_PIPELINE_NODES = 16


def block_being_written(ns: Namespace, path: str, client: str, block_id: int,
                        genstamp: int) -> BlockInfo:
    """The unfinished last block of a file `client` is writing, if it is block_id with
    that genstamp; InvalidArgument / LeaseError otherwise."""
    file = ns.file_for_write(path, client)
    last = file.blocks[-1] if file.blocks else None
    if last is None or last.id != block_id:
        raise errors.InvalidArgument(f"{path}: block {block_id} is not the last block of the file")
    if last.committed:
        raise errors.InvalidArgument(f"{path}: block {block_id} is already committed")
    if last.genstamp != genstamp:
        raise errors.InvalidArgument(
            f"{path}: block {block_id} has genstamp {last.genstamp}, not {genstamp}")
    return last


def check_nodes(path: str, registry: DatanodeRegistry, names: Iterable[str], what: str,
                allow_empty: bool = False, must_exist: bool = True) -> list[str]:
    """Validated DataNode names: bounded, distinct, known to the registry (unless
    must_exist is False: a failed node may be unknown after a NameNode restart)."""
    names = list(names)
    if not names and not allow_empty:
        raise errors.InvalidArgument(f"{path}: {what}: no DataNode named")
    if len(names) > MAX_PIPELINE_NODES:
        raise errors.InvalidArgument(f"{path}: {what}: more than {MAX_PIPELINE_NODES} DataNodes")
    if len(set(names)) != len(names):
        raise errors.InvalidArgument(f"{path}: {what}: a DataNode is named twice")
    for name in names:
        if must_exist and registry.get(name) is None:
            raise errors.InvalidArgument(f"{path}: {what}: unknown DataNode {name!r}")
    return names


def bump_genstamp(ns: Namespace, registry: DatanodeRegistry, path: str, client: str,
                  block_id: int, genstamp: int, nodes: Iterable[str]) -> tuple[list[Record], list[str]]:
    """The SET_GENSTAMP record giving the block its next genstamp, and the validated
    node names of the repaired pipeline."""
    block_being_written(ns, path, client, block_id, genstamp)
    names = check_nodes(path, registry, nodes, "pipeline")
    return [edits.set_genstamp(path, block_id, ns.last_genstamp + 1)], names


def additional_targets(ns: Namespace, registry: DatanodeRegistry, path: str, client: str,
                       block_id: int, genstamp: int, existing: Iterable[str],
                       excluded: Iterable[str], count: int) -> list[DatanodeDescriptor]:
    """Up to `count` DataNodes to add to the pipeline beside `existing`, never an
    excluded one; Unavailable when there is none."""
    block_being_written(ns, path, client, block_id, genstamp)
    if not 0 < count <= MAX_PIPELINE_NODES:
        raise errors.InvalidArgument(f"{path}: count must be 1 to {MAX_PIPELINE_NODES}, got {count}")
    existing = check_nodes(path, registry, existing, "existing nodes", allow_empty=True)
    excluded = check_nodes(path, registry, excluded, "excluded nodes", allow_empty=True,
                           must_exist=False)
    file = ns.get_file(path)
    return placement.choose_targets(
        registry.nodes.values(), count, file.block_size, excluded=set(excluded),
        existing=[registry.nodes[n] for n in existing])
