"""The balancer's iterations against a running cluster (`minidfs admin balance`).

Called by minidfs/cli/balance_command.py (and tests). Each iteration reads the
NameNode's DataNode report, stops when every live in-service DataNode's use is
within the threshold of the mean, else fetches the movable blocks of the nodes
that must give, plans moves (minidfs/balancer/plan.py) and asks the NameNode for
each (MoveReplica). The NameNode has the source copy the replica to the target
and deletes the source's replica only once the copy is reported, so a move never
takes a block below its replication; the copies are throttled by each DataNode's
bandwidth (`admin set-bandwidth`).

A move is done when the target holds the block and the source no longer does;
it is abandoned when the NameNode stops tracking it without that (a copy failed,
a node died) or after MOVE_TIMEOUT_S. Abandoned moves change nothing and their
blocks are planned again by a later iteration or run, so the balancer is safe to
interrupt (moves already handed out finish or lapse on their own) and to rerun.
"""
from __future__ import annotations

import time
from typing import Callable, NamedTuple

from minidfs import errors
from minidfs.balancer import plan
from minidfs.client import health
from minidfs.client.namenode_client import NamenodeClient
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.sizes import format_size

POLL_INTERVAL_S = 0.2
# A move longer than this (a 64 MiB block at a few MiB/s takes tens of seconds)
# is given up by the balancer; the NameNode's own copy timeout is 60 s.
MOVE_TIMEOUT_S = 90.0
MAX_ITERATIONS = 100
# Iterations in a row that moved nothing before the balancer gives up.
MAX_IDLE_ITERATIONS = 3
# ...unless every refusal was a busy source: its replication streams are held by
# copies still pending at the NameNode (to a node that just died, say, until the
# NameNode's 60 s copy timeout frees them), which clears by itself. Those
# iterations are not counted as idle for this long.
BUSY_WAIT_S = 90.0
BUSY_MARK = "busy (replication streams in use)"
# Moves handed to one source at a time: the NameNode allows its
# replication_streams_per_node (default 4), and re-replication shares them.
MAX_MOVES_PER_SOURCE = 4
MAX_BLOCKS_PER_SOURCE = 10_000


class Outcome(NamedTuple):
    balanced: bool
    iterations: int
    moved_blocks: int
    moved_bytes: int
    abandoned: int
    mean_pct: float
    spread_pct: float
    threshold_pct: float
    reason: str = ""


class _InFlight(NamedTuple):
    move: plan.Move
    deadline_s: float


def _nodes(nn: NamenodeClient) -> list[plan.Node]:
    return [plan.Node(n["name"], n["rack"], n["capacity"], n["used"], n["remaining"])
            for n in health.datanode_report(nn) if n["state"] == "live" and n["capacity"] > 0]


def _movable(nn: NamenodeClient, source: str) -> list[plan.Block]:
    reply = nn.call("GetDatanodeBlocks", pb.GetDatanodeBlocksRequest(
        name=source, max_blocks=MAX_BLOCKS_PER_SOURCE))
    return [plan.Block(b.block.id, b.block.length, tuple(b.locations), tuple(b.holders))
            for b in reply.blocks]


class Balancer:
    def __init__(self, nn: NamenodeClient, threshold_pct: float = plan.DEFAULT_THRESHOLD_PCT, *,
                 settle_s: float = 2.0, say: Callable[[str], None] = lambda line: None) -> None:
        """settle_s: wait after an iteration's moves, so every DataNode's heartbeat
        has carried its new use to the NameNode before the next report is read."""
        if not 0 < threshold_pct <= 100:
            raise errors.InvalidArgument(
                f"{threshold_pct:g}: threshold must be in (0, 100] percent")
        self.nn = nn
        self.threshold_pct = threshold_pct
        self.settle_s = settle_s
        self.say = say
        self.moved_blocks = self.moved_bytes = self.abandoned = 0

    def run(self) -> Outcome:
        # Superusers only, as HDFS's balancer: asked first, so a user who may not
        # move replicas hears so even when the cluster happens to be balanced.
        self.nn.call("GetBlockReplicas", pb.GetBlockReplicasRequest())
        idle = 0
        busy_since: float | None = None
        for iteration in range(1, MAX_ITERATIONS + 1):
            nodes = _nodes(self.nn)
            mean, spread = plan.mean_pct(nodes), plan.spread_pct(nodes)
            if len(nodes) < 2 or spread <= self.threshold_pct:
                return self._outcome(True, iteration - 1, nodes)
            blocks = {s: _movable(self.nn, s) for s in plan.sources_of(nodes, self.threshold_pct)}
            moves = plan.plan_moves(nodes, blocks, self.threshold_pct)
            self.say(f"iteration {iteration}: mean use {mean:.1f}%, furthest node {spread:.1f} "
                     f"points away (threshold {self.threshold_pct:g}); moving {len(moves)} blocks "
                     f"({format_size(sum(m.length for m in moves))})")
            moved, only_busy = self._carry_out(moves)
            if moved or not only_busy:
                busy_since = None
            elif busy_since is None:
                busy_since = time.monotonic()
            if moved:
                idle = 0
            elif busy_since is None or time.monotonic() - busy_since > BUSY_WAIT_S:
                idle += 1
            if idle >= MAX_IDLE_ITERATIONS:
                return self._outcome(False, iteration, nodes, "no block can be moved" if not moves
                                     else "no move succeeded")
            time.sleep(self.settle_s)
        return self._outcome(False, MAX_ITERATIONS, _nodes(self.nn),
                             f"not balanced after {MAX_ITERATIONS} iterations")

    def _outcome(self, balanced: bool, iterations: int, nodes: list[plan.Node],
                 reason: str = "") -> Outcome:
        return Outcome(balanced, iterations, self.moved_blocks, self.moved_bytes, self.abandoned,
                       plan.mean_pct(nodes), plan.spread_pct(nodes), self.threshold_pct, reason)

    def _carry_out(self, moves: list[plan.Move]) -> tuple[int, bool]:
        """Hands the moves out a few per source at a time and waits for all of them;
        returns how many finished, and whether every refusal was a busy source."""
        queued = list(moves)
        in_flight: dict[int, _InFlight] = {}
        done = 0
        skipped: list[str] = []
        while queued or in_flight:
            per_source: dict[str, int] = {}
            for f in in_flight.values():
                per_source[f.move.source] = per_source.get(f.move.source, 0) + 1
            for move in list(queued):
                if per_source.get(move.source, 0) >= MAX_MOVES_PER_SOURCE:
                    continue
                queued.remove(move)
                try:
                    self.nn.call("MoveReplica", pb.MoveReplicaRequest(
                        block_id=move.block_id, source=move.source, target=move.target))
                except (errors.PreconditionFailed, errors.InvalidArgument) as e:
                    skipped.append(str(e))
                    continue
                in_flight[move.block_id] = _InFlight(move, time.monotonic() + MOVE_TIMEOUT_S)
                per_source[move.source] = per_source.get(move.source, 0) + 1
            if not in_flight:
                continue
            time.sleep(POLL_INTERVAL_S)
            done += self._poll(in_flight)
        if skipped:
            # One line, not one per move: a dead target refuses every move at once.
            self.say(f"  skipped {len(skipped)} moves the NameNode refused (first: {skipped[0]})")
        return done, bool(skipped) and all(BUSY_MARK in why for why in skipped)

    def _poll(self, in_flight: dict[int, _InFlight]) -> int:
        reply = self.nn.call("GetBlockReplicas",
                             pb.GetBlockReplicasRequest(block_ids=list(in_flight)))
        found = {b.block.id: b for b in reply.blocks}
        done = 0
        now = time.monotonic()
        for block_id, f in list(in_flight.items()):
            b = found.get(block_id)
            move = f.move
            if b is not None and move.target in b.locations and move.source not in b.locations:
                del in_flight[block_id]
                done += 1
                self.moved_blocks += 1
                self.moved_bytes += move.length
                self.say(f"  moved blk_{block_id} ({format_size(move.length)}) "
                         f"{move.source} -> {move.target}")
            elif b is None or not b.moving or now >= f.deadline_s:
                del in_flight[block_id]
                self.abandoned += 1
                why = "block deleted" if b is None else "timed out" if b.moving else "copy failed"
                self.say(f"  abandoned blk_{block_id} {move.source} -> {move.target}: {why}")
        return done


def set_bandwidth(nn: NamenodeClient, bytes_per_s: int) -> None:
    nn.call("SetBalancerBandwidth", pb.SetBalancerBandwidthRequest(bytes_per_s=bytes_per_s))
