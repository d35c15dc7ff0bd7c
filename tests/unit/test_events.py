"""The event ring (minidfs/events.py), the live feed's bounded followers
(event_feed.py), and the events the pure cores emit where they decide."""
from __future__ import annotations

import asyncio

from mapreduce.jobtracker.model import AttemptState
from mapreduce.jobtracker.scheduler import MapInput, Scheduler, SchedulerConfig
from minidfs.event_feed import MAX_QUEUED_PER_SUBSCRIBER, EventFeed
from minidfs.events import EventRing, last_line
from minidfs.namenode.block_manager import BlockManager
from minidfs.namenode.datanode_registry import DatanodeRegistry
from minidfs.namenode.inode import READY
from minidfs.namenode.safemode import SafeMode
from tests.unit.test_block_manager import LEN, Cluster

GiB = 1 << 30


class Recorder:
    """An Emit that keeps (kind, subjects) in order, as the feed would."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def __call__(self, kind: str, **subjects: object) -> None:
        self.events.append((kind, subjects))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def test_ring_keeps_the_newest_and_pages_by_sequence() -> None:
    ring = EventRing(limit=3)
    for i in range(5):
        ring.add(1000 + i, "k", {"i": i, "nodes": ["a", "b"]})
    assert len(ring) == 3 and ring.first_seq == 3 and ring.last_seq == 5
    assert [e.seq for e in ring.after(0)] == [3, 4, 5]        # the oldest kept first
    assert [e.seq for e in ring.after(3)] == [4, 5]
    assert ring.after(5) == [] and ring.after(99) == []
    assert [e.seq for e in ring.after(0, limit=2)] == [3, 4]
    assert [e.seq for e in ring.newest(2)] == [4, 5]
    assert ring.newest(0) == [] and len(ring.newest(10)) == 3
    assert ring.after(4)[0].subjects == {"i": "4", "nodes": "a,b"}   # text, lists joined
    assert ring.after(4)[0].time_ms == 1004


def test_last_line_of_an_error() -> None:
    assert last_line("Traceback (most recent call last):\n  ...\nValueError: bad\n\n") == \
        "ValueError: bad"
    assert last_line("") == ""


async def test_a_stuck_follower_is_dropped_and_emit_never_waits() -> None:
    feed = EventFeed("nn1")
    stuck, reader = feed.subscribe(), feed.subscribe()
    for i in range(MAX_QUEUED_PER_SUBSCRIBER + 5):
        feed.emit("tick", i=i)
        if i % 100 == 0:     # reader keeps up
            while not reader.queue.empty():
                reader.queue.get_nowait()
    assert stuck.dropped and not reader.dropped
    assert feed.subscribers == 1
    # The dropped follower wakes with None (its stream ends) instead of waiting.
    assert await asyncio.wait_for(stuck.next(5.0), 1.0) is None
    assert feed.ring.last_seq == MAX_QUEUED_PER_SUBSCRIBER + 5


def test_registry_reports_dead_returned_and_decommission() -> None:
    rec = Recorder()
    reg = DatanodeRegistry(dead_node_interval_ms=1_000, emit=rec)
    reg.register("dn1", "h:1", "/r", GiB, 0, GiB, now_ms=0)
    reg.register("dn1", "h:1", "/r", GiB, 0, GiB, now_ms=10)     # a re-register while live
    reg.tick(now_ms=2_000)
    reg.tick(now_ms=3_000)                                       # dead once, not each tick
    reg.register("dn1", "h:1", "/r", GiB, 0, GiB, now_ms=4_000)
    reg.excluded.add("dn1")
    reg.sync_admin_state("dn1")
    reg.set_admin_state("dn1", "decommissioned")
    assert rec.kinds() == ["datanode_registered", "datanode_dead", "datanode_returned",
                           "datanode_decommissioning", "datanode_decommissioned"]
    assert rec.events[1][1] == {"node": "dn1", "silent_ms": 1_990}   # since the last contact


def test_block_manager_reports_queued_copied_and_surplus() -> None:
    c = Cluster(4)
    rec = Recorder()
    c.reg.emit = rec
    c.bm = BlockManager(c.reg, 2, rec)
    (b,) = c.file("/f", 3)
    for node in ("dn1", "dn2", "dn3"):
        c.report(node, b)
    c.bm.tick(0)
    assert rec.kinds() == []                       # fully replicated: nothing to say
    for node in ("dn1", "dn2", "dn4"):
        c.reg.heartbeat(node, 10 * GiB, 0, 10 * GiB, 0, now_ms=4_500)
    assert [n.name for n in c.reg.tick(now_ms=5_000)] == ["dn3"]
    c.bm.node_dead("dn3")
    c.bm.tick(5_000)
    queued = [s for k, s in rec.events if k == "replication_queued"]
    assert queued == [{"block": b.id, "priority": 1, "live": 2, "expected": 3,
                       "source": queued[0]["source"], "targets": ("dn4",)}]
    c.bm.block_received("dn4", b.id, b.genstamp, LEN)
    assert ("replica_copied", {"block": b.id, "source": queued[0]["source"],
                               "target": "dn4"}) in rec.events
    c.reg.register("dn3", "h:3", "/r", 10 * GiB, 0, 10 * GiB, now_ms=6_000)
    c.bm.node_registered("dn3")
    c.report("dn3", b)
    c.bm.tick(6_000)
    assert rec.kinds()[-2:] == ["datanode_returned", "surplus_replica_deleted"]
    assert b.replicas[rec.events[-1][1]["node"]] != READY


def test_corrupt_replica_reported_once() -> None:
    c = Cluster(2)
    rec = Recorder()
    c.bm.emit = rec
    (b,) = c.file("/f", 2)
    c.report("dn1", b)
    c.bm.report_bad("dn1", b.id, b.genstamp)
    c.bm.report_bad("dn1", b.id, b.genstamp)
    assert rec.events == [("corrupt_replica", {"block": b.id, "node": "dn1",
                                               "reason": "reported bad"})]


def test_safe_mode_left_and_entered() -> None:
    rec = Recorder()
    sm = SafeMode(threshold=0.5, extension_ms=100, emit=rec)
    sm.update(10, 6, now_ms=0)
    sm.update(10, 6, now_ms=50)
    assert rec.events == []
    sm.update(10, 6, now_ms=100)
    sm.update(10, 6, now_ms=200)
    sm.enter()
    sm.leave()
    assert rec.kinds() == ["safemode_left", "safemode_entered", "safemode_left"]
    assert rec.events[0][1] == {"reason": "6 of 10 blocks reported"}


def test_scheduler_reports_a_job_and_its_attempts() -> None:
    rec = Recorder()
    s = Scheduler(SchedulerConfig(worker_timeout_ms=1_000), emit=rec)
    s.submit("job_1_0001", [MapInput(("dn1",), ("/r1",)), MapInput(("dn2",), ("/r1",))], 0,
             now_ms=0)
    d1 = s.on_heartbeat("w1", 1, "dn1", 0, rack="/r1")
    d2 = s.on_heartbeat("w2", 1, "dn9", 0, rack="/r1")
    s.on_attempt_failed(d2.assignments[0].attempt_id, "Traceback\nKeyError: 'x'", 10)
    s.tick(now_ms=5_000)                                  # both workers silent: lost
    assert rec.kinds()[:5] == ["job_submitted", "job_running", "attempt_started",
                               "attempt_started", "attempt_failed"]
    assert rec.events[2][1] == {"attempt": d1.assignments[0].attempt_id, "worker": "w1",
                                "locality": "data_local"}
    assert rec.events[4][1]["error"] == "KeyError: 'x'"
    assert ("attempt_lost", {"attempt": d1.assignments[0].attempt_id, "worker": "w1"}) \
        in rec.events
    assert ("worker_lost", {"worker": "w2", "running": 0}) in rec.events
    s.kill_job("job_1_0001", now_ms=6_000)
    assert rec.events[-1] == ("job_killed", {"job": "job_1_0001", "elapsed_ms": 6_000,
                                             "error": "killed by the user"})
    assert all(a.state is not AttemptState.RUNNING for a in s.attempts.values())
