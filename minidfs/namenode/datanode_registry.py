"""The DataNodes the NameNode knows: address, rack, space, load, liveness. Pure.

Owned by the namesystem; read by placement.py and the block manager. Events come
with an explicit now_ms (monotonic milliseconds read by the namesystem):
`register`, `heartbeat`, and `tick`, which declares nodes dead after
dead_node_interval of silence. A heartbeat from a node that is unknown or was
declared dead returns None: the namesystem answers REREGISTER, the node registers
again and sends a full block report.

Decommissioning is an administrative state on top of liveness: a DECOMMISSIONING
node keeps serving reads and acts as a copy source, but gets no new blocks and
its replicas no longer count toward a block's replication; once the block
manager has copied every one of them elsewhere it is DECOMMISSIONED. The state
is kept across re-registration (it is the administrator's, not the node's), and
across NameNode restarts and failovers: the intent is logged
(edits.SET_DATANODE_EXCLUDED), and `excluded` is the namespace's set of the nodes
it names. A node in it starts DECOMMISSIONING when it registers; the block manager
finds again that its blocks are all copied and makes it DECOMMISSIONED.
"""
from __future__ import annotations

from typing import NamedTuple

from minidfs.events import Emit, no_events

LIVE = "live"
DEAD = "dead"
IN_SERVICE = ""
DECOMMISSIONING = "decommissioning"
DECOMMISSIONED = "decommissioned"


class VolumeInfo(NamedTuple):
    """One data dir of a DataNode, as its last heartbeat described it."""
    path: str
    failure: str          # empty when healthy
    replicas: int
    capacity: int
    remaining: int


class DatanodeDescriptor:
    __slots__ = ("name", "address", "rack", "capacity", "used", "remaining",
                 "active_transfers", "last_heartbeat_ms", "state", "scheduled", "admin_state",
                 "volumes")

    def __init__(self, name: str, address: str, rack: str, now_ms: int) -> None:
        self.name = name
        self.address = address
        self.rack = rack
        self.capacity = 0
        self.used = 0
        self.remaining = 0
        self.active_transfers = 0
        self.last_heartbeat_ms = now_ms
        self.state = LIVE
        # Blocks this node was chosen for since its last report of them: placement
        # counts them so a burst of AddBlocks does not pick the same node each time.
        self.scheduled = 0
        self.admin_state = IN_SERVICE
        self.volumes: tuple[VolumeInfo, ...] = ()

    @property
    def live(self) -> bool:
        return self.state == LIVE

    @property
    def in_service(self) -> bool:
        """Live and not being (or already) decommissioned: may take new blocks, and its
        replicas count toward replication."""
        return self.state == LIVE and self.admin_state == IN_SERVICE

    @property
    def report_state(self) -> str:
        """What `admin report` shows: dead, or the admin state of a live node, or live."""
        if self.state != LIVE:
            return DEAD
        return self.admin_state or LIVE

    def update_storage(self, capacity: int, used: int, remaining: int,
                       volumes: tuple[VolumeInfo, ...] = ()) -> None:
        self.capacity, self.used, self.remaining = capacity, used, remaining
        self.volumes = volumes


class DatanodeRegistry:
    def __init__(self, dead_node_interval_ms: int, emit: Emit = no_events) -> None:
        self.dead_node_interval_ms = dead_node_interval_ms
        self.emit = emit
        self.nodes: dict[str, DatanodeDescriptor] = {}
        self.excluded: set[str] = set()     # set by the namesystem: the namespace's own set

    def get(self, name: str) -> DatanodeDescriptor | None:
        return self.nodes.get(name)

    def live_nodes(self) -> list[DatanodeDescriptor]:
        return [n for n in self.nodes.values() if n.live]

    def is_live(self, name: str) -> bool:
        node = self.nodes.get(name)
        return node is not None and node.live

    def register(self, name: str, address: str, rack: str, capacity: int, used: int,
                 remaining: int, now_ms: int,
                 volumes: tuple[VolumeInfo, ...] = ()) -> DatanodeDescriptor:
        node = self.nodes.get(name)
        if node is None:
            node = self.nodes[name] = DatanodeDescriptor(name, address, rack, now_ms)
            self.emit("datanode_registered", node=name, address=address, rack=rack)
            if name in self.excluded:
                node.admin_state = DECOMMISSIONING
                self.emit("datanode_decommissioning", node=name)
        elif not node.live:
            self.emit("datanode_returned", node=name, address=address)
        node.address, node.rack = address, rack
        node.state = LIVE
        node.last_heartbeat_ms = now_ms
        node.scheduled = 0
        node.update_storage(capacity, used, remaining, volumes)
        return node

    def heartbeat(self, name: str, capacity: int, used: int, remaining: int,
                  active_transfers: int, now_ms: int,
                  volumes: tuple[VolumeInfo, ...] = ()) -> DatanodeDescriptor | None:
        node = self.nodes.get(name)
        if node is None or not node.live:
            return None
        node.update_storage(capacity, used, remaining, volumes)
        node.active_transfers = active_transfers
        node.last_heartbeat_ms = now_ms
        return node

    def tick(self, now_ms: int) -> list[DatanodeDescriptor]:
        """Declares silent nodes dead; returns the ones that died just now."""
        died = []
        for node in self.nodes.values():
            if node.live and now_ms - node.last_heartbeat_ms > self.dead_node_interval_ms:
                node.state = DEAD
                node.active_transfers = 0
                node.scheduled = 0
                died.append(node)
                self.emit("datanode_dead", node=node.name,
                          silent_ms=now_ms - node.last_heartbeat_ms)
        return died

    def set_admin_state(self, name: str, admin_state: str) -> DatanodeDescriptor | None:
        node = self.nodes.get(name)
        if node is not None and node.admin_state != admin_state:
            node.admin_state = admin_state
            self.emit(f"datanode_{admin_state or 'in_service'}", node=name)
        return node

    def sync_admin_state(self, name: str) -> bool:
        """Brings the node's admin state in line with `excluded` after it changed; True
        when the state changed (a DECOMMISSIONED node stays so while excluded)."""
        node = self.nodes.get(name)
        if node is None:
            return False
        if name in self.excluded and node.admin_state == IN_SERVICE:
            self.set_admin_state(name, DECOMMISSIONING)
            return True
        if name not in self.excluded and node.admin_state != IN_SERVICE:
            self.set_admin_state(name, IN_SERVICE)
            return True
        return False

    def decommissioning(self) -> list[DatanodeDescriptor]:
        return [n for n in self.nodes.values() if n.admin_state == DECOMMISSIONING]

    def block_received(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is not None and node.scheduled > 0:
            node.scheduled -= 1

    def report_done(self, name: str) -> None:
        """A full block report accounts for everything scheduled before it."""
        node = self.nodes.get(name)
        if node is not None:
            node.scheduled = 0
