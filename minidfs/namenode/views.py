"""Plain result types the namesystem hands to its gRPC servicers.

Namesystem methods return these (never protobuf messages); client_servicer.py and
datanode_servicer.py translate them into responses.
"""
from __future__ import annotations

from typing import NamedTuple


class FileView(NamedTuple):
    path: str
    is_dir: bool
    length: int
    replication: int
    block_size: int
    mtime_ms: int
    under_construction: bool
    owner: str = ""
    group: str = ""
    mode: int = 0


class NodeRef(NamedTuple):
    name: str
    address: str
    rack: str


class LocatedBlockView(NamedTuple):
    block_id: int
    genstamp: int
    length: int
    offset: int
    locations: list[NodeRef]
    corrupt: bool = False


class LocatedBlocksView(NamedTuple):
    file_length: int
    blocks: list[LocatedBlockView]
    under_construction: bool


class StatsView(NamedTuple):
    capacity: int
    used: int
    remaining: int
    live_datanodes: int
    dead_datanodes: int
    files: int
    blocks: int
    under_replicated: int
    missing: int
    corrupt: int
    safe_mode: bool
    last_txid: int


class DatanodeView(NamedTuple):
    node: NodeRef
    state: str
    capacity: int
    used: int
    remaining: int
    last_contact_ms: int
    blocks: int
    active_transfers: int
    replica_states: dict[str, int] | None = None   # state word -> replicas on the node
    volumes: tuple = ()                            # datanode_registry.VolumeInfo


class CommandView(NamedTuple):
    action: str          # block_manager.DELETE / REPLICATE / REREGISTER
    block_id: int
    genstamp: int
    length: int
    targets: list[NodeRef]
    recovery_genstamp: int = 0   # RECOVER only
