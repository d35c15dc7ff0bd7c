"""The block map: which DataNode holds which replica, and what to do about it. Pure.

Owned by the namesystem, which feeds it namespace effects (blocks added, removed,
completed, genstamp bumped), DataNode reports and liveness changes, and calls
`tick(now_ms)` about twice a second. It answers with commands queued per
DataNode (`take_commands`), delivered on that node's next heartbeat reply:

- DELETE a replica of an unknown block, of an older genstamp, an excess replica
  (over-replication), a replica of a deleted file, or a corrupt replica once
  enough good copies exist again;
- REPLICATE a block from a live replica to targets chosen by placement.py when it
  has fewer live replicas than its file's replication. Most endangered first: the
  queue is bucketed by live replica count (1 before 2 ...); at most
  replication_streams_per_node replications in flight per source node; an
  unconfirmed replication is forgotten after REPLICATION_TIMEOUT_MS and retried,
  or COPY_RETRY_DELAY_MS after its source reported that it failed.

Replica states (inode.py): READY counts as live; OPENING (its node just
re-registered) counts as live until the node's full report confirms or drops it;
DOWN (node dead), IN_BUILD, DROPPED and CORRUPT do not. A live replica on a
decommissioning node is readable and a copy source but does not count toward the
block's replication, so the block is copied elsewhere; `tick` marks the node
DECOMMISSIONED once every block it holds is fully replicated without it.

Balancer moves (`move_replica`, docs/balancer.md): a REPLICATE of one replica to
one chosen target plus a delete hint naming the source; once the target reports
the copy, the block is over-replicated and the trim deletes the hinted source
replica (HDFS's replaceBlock + delHint), so a block never drops below its
replication. A hint left by a move that never finished lapses with the copy's
timeout; the trim also ignores a hint that would lose a rack.

Pipeline recovery bumps the genstamp of the block being written: a replica with
an older genstamp is stale and deleted, except an unfinalized one while the block
is not committed yet, which is only ignored: it may be a survivor of the pipeline
that the recovery stream has not reached yet (HDFS does the same).
"""
from __future__ import annotations

from array import array
from collections import deque
from typing import Iterable, Iterator, NamedTuple

from minidfs import errors
from minidfs.balancer.racks import keeps_racks
from minidfs.events import Emit, no_events
from minidfs.namenode import placement
from minidfs.namenode.datanode_registry import DECOMMISSIONED, DatanodeRegistry
from minidfs.namenode.inode import (
    CORRUPT, DOWN, DROPPED, IN_BUILD, OPENING, READY, BlockInfo,
)

DELETE = "DELETE"
REPLICATE = "REPLICATE"
REREGISTER = "REREGISTER"
RECOVER = "RECOVER"        # lease recovery: the primary finalizes the block's replicas

REPLICATION_TIMEOUT_MS = 60_000
# After a source reported its copy failed.
COPY_RETRY_DELAY_MS = 2_000
# How long the pipeline targets of a just-closed block may take to report their
# replicas before the block counts as under-replicated.
PIPELINE_REPORT_GRACE_MS = 10_000
MAX_PENDING_COMMANDS_PER_NODE = 10_000
MAX_COMMANDS_PER_REPLY = 1_000
MAX_REPLICATION_SCANS_PER_TICK = 2_000
# Blocks of the map one balancer GetDatanodeBlocks looks at (tens of milliseconds).
MAX_BALANCER_SCAN_BLOCKS = 200_000
COMPACT_MIN_ENTRIES = 4_096
BULK_REPORT_REPLICAS = 10_000
# A full report is applied in steps of this many replicas (and swept in steps of
# this many blocks): about a millisecond of work each. The caller groups steps into
# slices by time (loop_slices.py), the event loop free in between.
REPORT_STEP_REPLICAS = 500
SWEEP_STEP_BLOCKS = 4_000
# Changed blocks re-evaluated per step (a tick does one; the namesystem the rest,
# in slices by time).
CHECK_STEP_BLOCKS = 500
# The seen-blocks bitmap of a full report grows by at least this much at a time.
_SEEN_SLACK_BYTES = 4096

_LIVE_STATES = (READY, OPENING)
# Replicas a decommissioning node must hand over before it is done.
_HELD_STATES = (READY, OPENING, IN_BUILD)


def _marked(bits: bytearray, block_id: int) -> bool:
    byte = block_id >> 3
    return byte < len(bits) and bool(bits[byte] >> (block_id & 7) & 1)


class Command(NamedTuple):
    action: str
    block_id: int = 0
    genstamp: int = 0
    length: int = 0
    targets: tuple[str, ...] = ()


class RecoverCommand(NamedTuple):
    """RECOVER (lease recovery, lease_recovery.py): Command's fields and the genstamp
    the replicas are to be finalized under."""

    action: str
    block_id: int
    genstamp: int
    length: int
    targets: tuple[str, ...]
    recovery_genstamp: int


class PendingReplication:
    __slots__ = ("source", "targets", "deadline_ms")

    def __init__(self, source: str | None, targets: set[str], deadline_ms: int) -> None:
        self.source = source
        self.targets = targets
        self.deadline_ms = deadline_ms


class BlockManager:
    def __init__(self, registry: DatanodeRegistry, replication_streams_per_node: int,
                 emit: Emit = no_events) -> None:
        self.registry = registry
        self.emit = emit
        self.streams_per_node = replication_streams_per_node
        self.blocks: dict[int, BlockInfo] = {}
        # Under-construction blocks only: the pipeline handed out by AddBlock, and
        # the shortest length a DataNode reported finalized (lease recovery).
        self.uc_targets: dict[int, list[str]] = {}
        self.reported_lengths: dict[int, int] = {}
        self._commands: dict[str, deque[Command]] = {}
        self._check: set[int] = set()
        self._under: dict[int, dict[int, None]] = {}   # live count -> ordered block ids
        self._under_of: dict[int, int] = {}            # block id -> its live count
        self._missing: set[int] = set()                # complete, no readable replica
        self._under_peak = 0                           # see _compact_under
        # Counts events that freed much memory at once (a large full report, a
        # compaction): the namesystem then gives freed heap back to the OS.
        self.bulk_frees = 0
        self._corrupt: set[int] = set()
        # (txid, node, DELETE) of removed blocks, waiting for their edit to be durable.
        self._held_deletes: deque[tuple[int, str, Command]] = deque()
        self._pending: dict[int, PendingReplication] = {}
        self._in_flight: dict[str, int] = {}           # source node -> replications
        self._now_ms = 0                               # of the last tick
        # Nodes whose full report is being applied -> blocks they reported
        # incrementally meanwhile (kept by the sweep).
        self._reporting: dict[str, set[int]] = {}
        # Balancer moves: block id -> (the source whose replica goes, hint deadline).
        self._move_hints: dict[int, tuple[str, int]] = {}

    # ------------------------------------------------------ namespace effects

    def add_block(self, block: BlockInfo) -> None:
        self.blocks[block.id] = block

    def remove_block(self, block: BlockInfo, durable_after_txid: int = 0) -> None:
        """The block left the namespace. Its replicas are deleted only once the edit
        that removed it (durable_after_txid) is durable (`release_deletes`), as HDFS
        removes blocks after logSync: an active that loses its journal quorum after
        applying a delete locally must not have destroyed the data of a file the next
        active still has (found by tests/faults/test_outcomes.py)."""
        if self.blocks.pop(block.id, None) is None:
            return
        for node, state in (block.replicas or {}).items():
            if state not in (DOWN, DROPPED):
                command = Command(DELETE, block.id, block.genstamp, block.length)
                if durable_after_txid:
                    self._held_deletes.append((durable_after_txid, node, command))
                else:
                    self._queue(node, command)
        block.replicas = None
        self._forget(block.id)

    def release_deletes(self, durable_txid: int) -> None:
        """Edits up to durable_txid are durable: send the deletions they allow."""
        held = self._held_deletes
        while held and held[0][0] <= durable_txid:
            _, node, command = held.popleft()
            self._queue(node, command)

    def drop_held_deletes(self) -> None:
        """The journal failed (this NameNode steps down): what it held is not ours to
        delete; the next active's reports and namespace decide."""
        self._held_deletes.clear()

    def recheck(self, block: BlockInfo) -> None:
        self._check.add(block.id)

    def genstamp_bumped(self, block: BlockInfo) -> None:
        """Replicas written before pipeline recovery are stale; the nodes of the new
        pipeline report again with the new genstamp, the others get DELETE then."""
        block.replicas = None
        self.reported_lengths.pop(block.id, None)

    def _forget(self, block_id: int) -> None:
        self.uc_targets.pop(block_id, None)
        self.reported_lengths.pop(block_id, None)
        self._check.discard(block_id)
        self._set_under(block_id, None)
        self._corrupt.discard(block_id)
        self._drop_pending(block_id)
        self._move_hints.pop(block_id, None)

    # ---------------------------------------------------------------- reports

    def full_report(self, node: str, replicas: Iterable[tuple[int, int, int, bool]]) -> None:
        """Every replica `node` holds, as (block id, genstamp, length, finalized); best
        passed as a generator. All at once: see full_report_slices."""
        for _ in self.full_report_slices(node, replicas):
            pass

    def full_report_slices(self, node: str, replicas: Iterable[tuple[int, int, int, bool]],
                           step_replicas: int = REPORT_STEP_REPLICAS,
                           sweep_blocks: int = SWEEP_STEP_BLOCKS) -> Iterator[None]:
        """full_report as steps: yields after every step_replicas replicas and every
        sweep_blocks blocks of the sweep, so the caller can let other work run
        between steps (a million-block report is seconds of Python). What runs in
        between stays right: a replica the node reports incrementally meanwhile is
        not swept away, and a node that dies or re-registers meanwhile ends the
        report (its next full report starts over).

        Memory and time: a report names every block, and Python objects made for
        it that outlive it (a set of 200k ids) would sit among the block map's new
        replica entries and keep the freed memory from going back (RSS grew about
        400 B per block more than the entries need); sorting a million ids is a
        second of blocked loop. So the known blocks seen are bits of a bytearray
        indexed by block id (ids are allocated in sequence, so it is about one
        bit per block ever allocated; unknown ids are deleted, not marked)."""
        received: set[int] = set()
        self._reporting[node] = received
        try:
            seen = bytearray()
            count = 0
            blocks = self.blocks
            for block_id, genstamp, length, finalized in replicas:
                count += 1
                self._replica(node, block_id, genstamp, length, finalized)
                if block_id in blocks:
                    byte = block_id >> 3
                    if byte >= len(seen):
                        seen.extend(bytes(byte + 1 - len(seen) + _SEEN_SLACK_BYTES))
                    seen[byte] |= 1 << (block_id & 7)
                if count % step_replicas == 0:
                    yield
                    if self._reporting.get(node) is not received:
                        return
            if count >= BULK_REPORT_REPLICAS:
                self.bulk_frees += 1
            block_ids = array("Q", blocks)
            for start in range(0, len(block_ids), sweep_blocks):
                for block_id in block_ids[start:start + sweep_blocks]:
                    block = blocks.get(block_id)
                    if (block is not None and block.replicas and node in block.replicas
                            and block_id not in received and not _marked(seen, block_id)):
                        del block.replicas[node]
                        self._check.add(block_id)
                if start + sweep_blocks < len(block_ids):
                    yield
                    if self._reporting.get(node) is not received:
                        return
            self.registry.report_done(node)
        finally:
            if self._reporting.get(node) is received:
                del self._reporting[node]

    def block_received(self, node: str, block_id: int, genstamp: int, length: int,
                       finalized: bool = True) -> None:
        self._replica(node, block_id, genstamp, length, finalized)
        reporting = self._reporting.get(node)
        if reporting is not None:
            reporting.add(block_id)
        if not finalized:
            return
        self.registry.block_received(node)
        pending = self._pending.get(block_id)
        if pending is not None:
            if pending.source is not None and node in pending.targets:
                self.emit("replica_copied", block=block_id, source=pending.source, target=node)
            pending.targets.discard(node)
            if not pending.targets:
                self._drop_pending(block_id)

    def block_deleted(self, node: str, block_id: int, genstamp: int) -> None:
        block = self.blocks.get(block_id)
        if block is None or genstamp < block.genstamp:
            return  # a stale replica's deletion: the map never counted it
        if block.replicas and block.replicas.pop(node, None) is not None:
            self._check.add(block_id)

    def replica_lost(self, node: str, block_id: int, genstamp: int) -> None:
        """`node` found its replica gone (files missing, volume failed): dropped like a
        deleted one, and a copy it was the source of is chosen again at once."""
        self.block_deleted(node, block_id, genstamp)
        pending = self._pending.get(block_id)
        if pending is not None and pending.source == node:
            self._drop_pending(block_id)
            self._move_hints.pop(block_id, None)
            self._check.add(block_id)
        self._not_coming(block_id, node)

    def _not_coming(self, block_id: int, node: str) -> None:
        """The replica a pending copy (or a just-closed pipeline) waits for on `node`
        will not arrive good (lost, corrupt): stop waiting for it, so the block is
        copied again now rather than after the wait times out."""
        targets = self.uc_targets.get(block_id)
        if targets and node in targets:
            targets.remove(node)
        pending = self._pending.get(block_id)
        if pending is not None and node in pending.targets:
            pending.targets.discard(node)
            if not pending.targets:
                self._drop_pending(block_id)
                self._move_hints.pop(block_id, None)
            self._check.add(block_id)

    def copy_failed(self, node: str, block_id: int) -> None:
        """`node` could not carry out its REPLICATE of the block: choose again after
        COPY_RETRY_DELAY_MS (not at once: a target that refuses would be picked in a
        tight loop) instead of after REPLICATION_TIMEOUT_MS."""
        pending = self._pending.get(block_id)
        if pending is not None and pending.source == node:
            pending.deadline_ms = min(pending.deadline_ms, self._now_ms + COPY_RETRY_DELAY_MS)

    def _replica(self, node: str, block_id: int, genstamp: int, length: int,
                 finalized: bool) -> None:
        block = self.blocks.get(block_id)
        if block is not None and genstamp < block.genstamp and not block.committed and (
                not finalized or node in self.uc_targets.get(block_id, ())):
            # Maybe a pipeline survivor the recovery stream has not reached yet, or
            # the finalized replica an append (or lease recovery) is reopening there.
            return
        if block is None or genstamp < block.genstamp:
            self._queue(node, Command(DELETE, block_id, genstamp, length))
            if block is not None and block.replicas and block.replicas.pop(node, None):
                self._check.add(block.id)
            return
        if genstamp > block.genstamp:
            return  # pipeline recovery the NameNode has not logged yet
        replicas = block.replicas if block.replicas is not None else {}
        block.replicas = replicas
        if replicas.get(node) in (CORRUPT, DROPPED):
            return
        if not finalized:
            if replicas.get(node) not in _LIVE_STATES:
                replicas[node] = IN_BUILD
            return
        if block.committed and length != block.length:
            if replicas.get(node) != CORRUPT:
                self.emit("corrupt_replica", block=block_id, node=node,
                          reason=f"length {length}, expected {block.length}")
            replicas[node] = CORRUPT
        else:
            replicas[node] = READY
            if not block.committed:
                known = self.reported_lengths.get(block_id)
                self.reported_lengths[block.id] = length if known is None else min(known, length)
        self._check.add(block.id)

    def report_bad(self, node: str, block_id: int, genstamp: int) -> None:
        block = self.blocks.get(block_id)
        if block is None or genstamp != block.genstamp or self.registry.get(node) is None:
            return
        if block.replicas is None:
            block.replicas = {}
        if block.replicas.get(node) != CORRUPT:
            self.emit("corrupt_replica", block=block_id, node=node, reason="reported bad")
        block.replicas[node] = CORRUPT
        self._check.add(block_id)
        self._not_coming(block_id, node)

    # --------------------------------------------------------------- liveness

    def node_dead(self, node: str) -> None:
        for block in self.blocks.values():
            replicas = block.replicas
            if replicas and node in replicas:
                if replicas[node] == DROPPED:
                    del replicas[node]
                elif replicas[node] != CORRUPT:
                    replicas[node] = DOWN
                self._check.add(block.id)
        self._reset_node(node)

    def node_registered(self, node: str) -> None:
        """The node (re)started: what it holds is unknown until its full report."""
        for block in self.blocks.values():
            replicas = block.replicas
            if replicas and node in replicas:
                if replicas[node] in (DOWN, READY):
                    replicas[node] = OPENING
                self._check.add(block.id)
        self._reset_node(node)

    def _reset_node(self, node: str) -> None:
        self._commands.pop(node, None)
        self._reporting.pop(node, None)   # a full report being applied is void
        for block_id, pending in list(self._pending.items()):
            if pending.source == node or node in pending.targets:
                self._drop_pending(block_id)
                self._move_hints.pop(block_id, None)
                self._check.add(block_id)

    # ------------------------------------------------------------------- tick

    def tick(self, now_ms: int) -> list[str]:
        """Retries lapsed copies, re-evaluates changed blocks, schedules copies; returns
        the nodes whose decommissioning finished in this tick."""
        self._now_ms = now_ms
        for block_id, pending in list(self._pending.items()):
            if now_ms >= pending.deadline_ms:
                self._drop_pending(block_id)
                self._move_hints.pop(block_id, None)   # the move's copy never came
                self._check.add(block_id)
        for block_id, (_, deadline_ms) in list(self._move_hints.items()):
            if now_ms >= deadline_ms:
                del self._move_hints[block_id]
        self.evaluate_checks(now_ms)
        self._schedule_replications(now_ms)
        return self._finish_decommissions()

    def evaluate_checks(self, now_ms: int, limit: int = CHECK_STEP_BLOCKS) -> bool:
        """Re-evaluates up to `limit` changed blocks (after a full report that is
        every block: seconds of Python at a million, so the caller runs the rest
        in slices with other work between); True while some are left."""
        if len(self._check) <= limit:
            checks, self._check = self._check, set()
        else:
            checks = [self._check.pop() for _ in range(limit)]
        for block_id in checks:
            block = self.blocks.get(block_id)
            if block is not None and block.complete:
                self._evaluate(block, now_ms)
        return bool(self._check)

    def live_replicas(self, block: BlockInfo) -> list[str]:
        """Nodes whose replica counts toward the block's replication: a good replica
        on a live, in-service (not decommissioning) node."""
        nodes = self.registry.nodes
        return [n for n, s in (block.replicas or {}).items()
                if s in _LIVE_STATES and n in nodes and nodes[n].in_service]

    def readable_replicas(self, block: BlockInfo) -> list[str]:
        """Nodes a reader or a copy may use: a good replica on a live node, including
        a decommissioning one."""
        return [n for n, s in (block.replicas or {}).items()
                if s in _LIVE_STATES and self.registry.is_live(n)]

    def _evaluate(self, block: BlockInfo, now_ms: int) -> None:
        targets = self.uc_targets.pop(block.id, None)
        self.reported_lengths.pop(block.id, None)
        replicas = block.replicas or {}
        if targets:
            waiting = {t for t in targets if replicas.get(t) not in (*_LIVE_STATES, CORRUPT, DROPPED)}
            if waiting:
                self._pending[block.id] = PendingReplication(
                    None, waiting, now_ms + PIPELINE_REPORT_GRACE_MS)
        live = self.live_replicas(block)
        expected = block.expected_replication
        if any(s == CORRUPT for s in replicas.values()):
            self._corrupt.add(block.id)
        else:
            self._corrupt.discard(block.id)
        if len(live) >= expected:
            self._set_under(block.id, None)
        else:
            self._set_under(block.id, len(live), readable=bool(self.readable_replicas(block)))
        if len(live) > expected:
            self._trim(block, live, len(live) - expected)
        if len(live) >= expected:
            for node, state in list(replicas.items()):
                if state == CORRUPT:
                    self._drop_replica(block, node)
            self._corrupt.discard(block.id)

    def _make_room_on_stale_holders(self, block: BlockInfo) -> None:
        """No node can take a new copy, and some nodes hold a corrupt one, or one never
        finalized of this complete block (its writer is gone: the pipeline finalized
        elsewhere and the grace for its report has passed, or a pending copy would
        have kept us from here): delete those, so the next pass can copy a good
        replica there. Without this a block with such a replica in a cluster no
        larger than its replication stays under-replicated for ever (every node is
        excluded as already holding it). Safe: a good replica remains (the caller
        has a READY source)."""
        for node, state in list((block.replicas or {}).items()):
            if state in (CORRUPT, IN_BUILD) and self.registry.is_live(node):
                self._drop_replica(block, node)

    def _trim(self, block: BlockInfo, live: list[str], excess: int) -> None:
        """Deletes excess READY replicas: from the most crowded rack first, then the
        node with the least space remaining."""
        nodes = [self.registry.nodes[n] for n in live if block.replicas[n] == READY]
        racks = [n.rack for n in nodes]
        nodes.sort(key=lambda n: (-racks.count(n.rack), n.remaining, n.name))
        hint = self._move_hints.pop(block.id, (None, 0))[0]
        hinted = [n for n in nodes if n.name == hint]
        if hinted and len({n.rack for n in nodes if n.name != hint}) >= min(len(set(racks)), 2):
            nodes.remove(hinted[0])
            nodes.insert(0, hinted[0])
        for node in nodes[:excess]:
            if self._drop_replica(block, node.name):
                self.emit("surplus_replica_deleted", block=block.id, node=node.name)

    def _drop_replica(self, block: BlockInfo, node: str) -> bool:
        if self._queue(node, Command(DELETE, block.id, block.genstamp, block.length)):
            block.replicas[node] = DROPPED
            return True
        return False

    def _set_under(self, block_id: int, live_count: int | None, readable: bool = True) -> None:
        """Files the block under its live count (None: fully replicated); a block with
        no readable replica at all is missing and waits for a node to come back."""
        old = self._under_of.pop(block_id, None)
        if old is not None:
            del self._under[old][block_id]
        self._missing.discard(block_id)
        if live_count is not None and readable:
            self._under_of[block_id] = live_count
            self._under.setdefault(live_count, {})[block_id] = None
        elif live_count is not None:
            self._missing.add(block_id)
        self._compact_under()

    def _compact_under(self) -> None:
        """Python dicts and sets never shrink when entries go: after a start-up's
        block reports (every block under-replicated until the last report) they
        would keep tables sized for the whole block map, about 200 B per block.
        Rebuilt once they fall to a quarter of their peak (amortized O(1))."""
        size = len(self._under_of) + len(self._missing)
        if size > self._under_peak:
            self._under_peak = size
        elif size * 4 < self._under_peak and self._under_peak > COMPACT_MIN_ENTRIES:
            self._under_of = dict(self._under_of)
            self._under = {count: dict(bucket) for count, bucket in self._under.items() if bucket}
            self._missing = set(self._missing)
            self._under_peak = size
            self.bulk_frees += 1

    def _schedule_replications(self, now_ms: int) -> None:
        scans = 0
        for live_count in sorted(self._under):
            bucket = self._under[live_count]
            for block_id in list(bucket):
                if scans >= MAX_REPLICATION_SCANS_PER_TICK:
                    return
                scans += 1
                if not self._replicate(self.blocks[block_id], now_ms):
                    # Not possible now: move to the back so others get their turn.
                    del bucket[block_id]
                    bucket[block_id] = None

    def _replicate(self, block: BlockInfo, now_ms: int) -> bool:
        live = self.live_replicas(block)
        pending = self._pending.get(block.id)
        need = block.expected_replication - len(live) - (len(pending.targets) if pending else 0)
        if need <= 0:
            return True
        sources = [n for n in self.readable_replicas(block) if block.replicas[n] == READY
                   and self._in_flight.get(n, 0) < self.streams_per_node]
        if not sources or pending is not None:
            return False
        source = min(sources, key=lambda n: (self._in_flight.get(n, 0), n))
        try:
            targets = placement.choose_targets(
                self.registry.nodes.values(), need, max(block.length, 1),
                excluded=set(block.replicas or ()),
                existing=[self.registry.nodes[n] for n in live])
        except errors.Unavailable:
            self._make_room_on_stale_holders(block)
            return False
        names = tuple(t.name for t in targets)
        if not self._queue(source, Command(REPLICATE, block.id, block.genstamp, block.length, names)):
            return False
        for target in targets:
            target.scheduled += 1
        self._pending[block.id] = PendingReplication(source, set(names), now_ms + REPLICATION_TIMEOUT_MS)
        # Priority as HDFS counts it: 0 is the most urgent (one live replica left).
        self.emit("replication_queued", block=block.id, priority=max(0, len(live) - 1),
                  live=len(live), expected=block.expected_replication, source=source,
                  targets=names)
        self._in_flight[source] = self._in_flight.get(source, 0) + 1
        return True

    def _drop_pending(self, block_id: int) -> None:
        pending = self._pending.pop(block_id, None)
        if pending is not None and pending.source is not None:
            left = self._in_flight.get(pending.source, 0) - 1
            if left > 0:
                self._in_flight[pending.source] = left
            else:
                self._in_flight.pop(pending.source, None)

    # --------------------------------------------------------------- commands

    def _queue(self, node: str, command: Command) -> bool:
        queue = self._commands.setdefault(node, deque())
        if len(queue) >= MAX_PENDING_COMMANDS_PER_NODE:
            return False  # the next full report finds what is left and asks again
        queue.append(command)
        return True

    def queue_command(self, node: str, command: "Command | RecoverCommand") -> bool:
        """A command decided outside the block map (lease recovery's RECOVER)."""
        return self._queue(node, command)

    def take_commands(self, node: str, limit: int = MAX_COMMANDS_PER_REPLY) -> list[Command]:
        queue = self._commands.get(node)
        if not queue:
            return []
        return [queue.popleft() for _ in range(min(limit, len(queue)))]

    # ---------------------------------------------------------------- queries

    def has_finalized_replica(self, block: BlockInfo) -> bool:
        return any(s in _LIVE_STATES for s in (block.replicas or {}).values())

    def under_replicated_count(self) -> int:
        """Complete blocks with fewer live replicas than wanted, missing ones included."""
        return len(self._under_of) + len(self._missing)

    def missing_count(self) -> int:
        return len(self._missing)

    def corrupt_count(self) -> int:
        return len(self._corrupt)

    def safe_counts(self) -> tuple[int, int]:
        """(complete blocks, complete blocks with at least one live replica)."""
        total = reported = 0
        for block in self.blocks.values():
            if block.complete:
                total += 1
                if block.replicas and any(s in _LIVE_STATES for s in block.replicas.values()):
                    reported += 1
        return total, reported

    def blocks_per_node(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for block in self.blocks.values():
            for node, state in (block.replicas or {}).items():
                if state not in (DROPPED, DOWN):
                    counts[node] = counts.get(node, 0) + 1
        return counts

    def replica_states_per_node(self) -> dict[str, dict[str, int]]:
        """node -> {replica state -> count}, over every block the NameNode knows."""
        counts: dict[str, dict[str, int]] = {}
        for block in self.blocks.values():
            for node, state in (block.replicas or {}).items():
                per_node = counts.setdefault(node, {})
                per_node[state] = per_node.get(state, 0) + 1
        return counts

    # ---------------------------------------------------------------- balancer

    def balancer_blocks(self, node: str, limit: int, start: int = 0,
                        max_scanned: int = MAX_BALANCER_SCAN_BLOCKS) -> list[BlockInfo]:
        """Up to `limit` complete, fully replicated blocks with a READY replica on
        `node` and no copy in flight: what the balancer may move off it. Looks at
        no more than max_scanned blocks of the map, from position `start` (modulo
        its size) on, wrapping around: the map is not indexed by node, and a call
        must not hold the event loop for the whole map; callers pass a random
        start so successive calls offer different blocks (HDFS's getBlocks too)."""
        found: list[BlockInfo] = []
        ids = array("Q", self.blocks)
        if not ids:
            return found
        first = start % len(ids)
        for i in range(min(len(ids), max_scanned)):
            block = self.blocks[ids[(first + i) % len(ids)]]
            replicas = block.replicas
            if (replicas and replicas.get(node) == READY and block.complete
                    and block.id not in self._pending and block.id not in self._move_hints
                    and len(self.live_replicas(block)) >= block.expected_replication):
                found.append(block)
                if len(found) >= limit:
                    break
        return found

    def moving(self, block_id: int) -> bool:
        """A balancer move of the block is under way (copy in flight, or copied and
        its source not deleted yet); False once it finished or was abandoned."""
        return block_id in self._move_hints

    def move_replica(self, block_id: int, source: str, target: str, now_ms: int) -> None:
        """Queues a balancer move: `source` copies its replica to `target`; the
        source's replica is deleted once the copy is reported (see the module
        docstring). Refuses what could lose data or break placement."""
        block = self.blocks.get(block_id)
        if block is None or not block.complete:
            raise errors.PreconditionFailed(f"block {block_id}: no such complete block")
        nodes = self.registry.nodes
        for name, what in ((source, "source"), (target, "target")):
            node = nodes.get(name)
            if node is None or not node.in_service:
                raise errors.PreconditionFailed(
                    f"{name}: {what} DataNode is not live and in service")
        live = self.live_replicas(block)
        if (block.replicas or {}).get(source) != READY or source not in live:
            raise errors.PreconditionFailed(f"block {block_id}: {source} holds no live replica")
        if target in (block.replicas or {}):
            raise errors.PreconditionFailed(f"block {block_id}: {target} already holds a replica")
        if len(live) < block.expected_replication:
            raise errors.PreconditionFailed(f"block {block_id}: under-replicated, not moved")
        if block_id in self._pending or block_id in self._move_hints:
            raise errors.PreconditionFailed(f"block {block_id}: busy (a copy is in flight)")
        if not keeps_racks({n: nodes[n].rack for n in live}, source, target, nodes[target].rack):
            raise errors.PreconditionFailed(
                f"block {block_id}: moving {source} -> {target} would lose a rack")
        if self._in_flight.get(source, 0) >= self.streams_per_node:
            raise errors.PreconditionFailed(f"{source}: busy (replication streams in use)")
        if not self._queue(source, Command(REPLICATE, block.id, block.genstamp, block.length,
                                           (target,))):
            raise errors.PreconditionFailed(f"{source}: too many queued commands")
        nodes[target].scheduled += 1
        deadline_ms = now_ms + REPLICATION_TIMEOUT_MS
        self._pending[block.id] = PendingReplication(source, {target}, deadline_ms)
        self._in_flight[source] = self._in_flight.get(source, 0) + 1
        self._move_hints[block.id] = (source, deadline_ms)
        self.emit("replica_move_queued", block=block.id, source=source, target=target)

    # ---------------------------------------------------------- decommission

    def recheck_node(self, node: str) -> None:
        """Re-checks every block on the node after its admin state changed: leaving
        service may under-replicate them (copies are queued), returning may
        over-replicate them (the surplus is trimmed)."""
        for block in self.blocks.values():
            if block.replicas and node in block.replicas:
                self._check.add(block.id)

    def _finish_decommissions(self) -> list[str]:
        """Marks DECOMMISSIONED every decommissioning node whose replicas all have their
        full count elsewhere (and that is in no unfinished pipeline); returns them."""
        waiting = {n.name for n in self.registry.decommissioning()}
        if not waiting:
            return []
        for block in self.blocks.values():
            holders = {n for n, s in (block.replicas or {}).items()
                       if n in waiting and s in _HELD_STATES}
            if not holders:
                continue
            if not block.complete or len(self.live_replicas(block)) < block.expected_replication:
                waiting -= holders
                if not waiting:
                    return []
        for name in waiting:
            self.registry.set_admin_state(name, DECOMMISSIONED)
        return sorted(waiting)
