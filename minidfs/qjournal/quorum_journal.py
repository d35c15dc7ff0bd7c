"""The quorum journal: the NameNode journal interface over 2f+1 JournalNodes (HA).

Implements minidfs.namenode.journal.Journal for the active NameNode; the namesystem
drives it exactly like the local file journal (see that module's docstring):

    journal = QuorumJournal(nodes, writer="nn1")
    last = journal.recover()        # new epoch on a majority + segment recovery
    for txid, rec in journal.read_edits(checkpoint_txid + 1): apply(rec)
    await journal.open(last)        # StartLogSegment(last + 1) on a majority
    journal.append(txid, frame); await journal.sync(txid)   # majority fsynced
    await journal.renew_lease("nn1", duration_ms)            # every few hundred ms

Group commit: `append` only buffers; `sync` starts a flush if none is in flight and
waits for the flush covering its txid; records appended meanwhile go in the next
flush. A flush sends the batch to every in-sync JournalNode at once and succeeds
when a majority has fsynced it. Failures are sticky, like the file journal's:
QuorumLost (fewer than a majority answered - never a silent single-copy mode) or
JournalFenced (a newer epoch exists - step down); both are JournalErrors.
All RPCs run on the journal's own IoLoop (io_loop.py).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Sequence

from minidfs.namenode.journal import Journal, JournalError
from minidfs.qjournal import recovery
from minidfs.qjournal.jn_channel import JournalNodeChannel
from minidfs.qjournal.lease import HeldLease
from minidfs.qjournal.quorum_call import JournalFenced, quorum_call
from minidfs.qjournal.quorum_reader import QuorumReader
from minidfs.qjournal.segment import DEFAULT_JOURNAL_ID, Segment
from minidfs.rpc import journal_pb2 as pb

log = logging.getLogger("minidfs.qjournal")

WRITE_DEADLINE_S = 20.0          # HDFS's dfs.qjournal.write-txns.timeout.ms
SEGMENT_DEADLINE_S = 20.0        # start / finalize a segment
EPOCH_DEADLINE_S = 20.0          # get state / new epoch / prepare recovery
ACCEPT_DEADLINE_S = 120.0        # accept may copy a whole segment between nodes
LEASE_RENEW_DEADLINE_S = 2.0
CLOSE_DRAIN_S = 5.0
RELEASE_LEASE_MS = 1             # a lease that lapses at once (0 is not a valid duration)
MAX_BATCH_BYTES = 4 * 1024 * 1024  # one Journal RPC; well under the message size cap


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class QuorumJournal(QuorumReader, Journal):
    def __init__(self, nodes: Sequence[tuple[str, str]], writer: str,
                 journal_id: str = DEFAULT_JOURNAL_ID) -> None:
        super().__init__(nodes, journal_id)
        self.writer = writer
        self.epoch = 0
        self.lease = HeldLease()
        self._segment_first = 0
        self._last = 0
        self._synced = 0
        self._buffer: list[bytes] = []
        self._buffer_first = 0
        self._buffer_lock = threading.Lock()   # append runs on the NameNode's loop
        self._flush = None                      # the in-flight flush task (IoLoop)
        self._failed: JournalError | None = None
        self._purge_upto = 0
        # Set by the HA controller: never purge past what the other NameNode's newest
        # checkpoint covers, so a standby never finds a gap after its image.
        self.purge_limit: int | None = None
        self._purge_task = None
        self._open = False
        # Held by a flush and by roll/close: batches never interleave with segment changes.
        self._segment_lock = asyncio.Lock()

    @property
    def last_txid(self) -> int:
        return self._last

    @property
    def synced_txid(self) -> int:
        return self._synced

    @property
    def failure(self) -> JournalError | None:
        """The sticky failure (JournalFenced, QuorumLost, ...), None while healthy."""
        return self._failed

    def abandon(self, reason: str) -> None:
        """Stops writing at once (an HA step-down): every later call fails. Flushes
        already sent finish or fail by their own deadlines, so callers waiting on them
        get a true answer; close the channels with shutdown() after that."""
        if self._failed is None:
            self._failed = JournalError(f"journal abandoned: {reason}")

    def _info(self) -> pb.RequestInfo:
        return pb.RequestInfo(journal_id=self.journal_id, epoch=self.epoch,
                              committed_txid=self._synced)

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise type(self._failed)(f"edit log failed earlier: {self._failed}")
        if not self._open:
            raise JournalError("quorum journal is not open")

    async def _quorum(self, call, what: str, nodes: list[JournalNodeChannel] | None = None):
        try:
            return await quorum_call(nodes if nodes is not None else self.nodes, call, what,
                                     total=len(self.nodes))
        except JournalError as e:
            if self._open:
                self._failed = e
            raise

    # ---- epoch and recovery ----------------------------------------------------------

    def recover(self) -> int:
        """Takes a new epoch from a majority, recovers the newest unfinalized segment
        and returns the last committed txid. Blocking (start-up or failover)."""
        return self.io.run_blocking(self._recover())

    async def _recover(self) -> int:
        states = await self._quorum(
            lambda n: n.call("GetJournalState", pb.GetJournalStateRequest(
                journal_id=self.journal_id), EPOCH_DEADLINE_S), "get journal state")
        self.epoch = max(s.promised_epoch for s in states.values()) + 1
        answers = await self._quorum(
            lambda n: n.call("NewEpoch", pb.NewEpochRequest(
                journal_id=self.journal_id, epoch=self.epoch), EPOCH_DEADLINE_S),
            f"new epoch {self.epoch}")
        log.info("journal %s: epoch %d taken by %s", self.journal_id, self.epoch, self.writer)
        self._synced = max(s.committed_txid for s in states.values())
        firsts = [a.last_segment.first_txid for a in answers.values() if a.HasField("last_segment")]
        if firsts:
            await self._recover_segment(max(firsts))
        manifests = await self._quorum(
            lambda n: n.call("GetEditLogManifest", pb.GetEditLogManifestRequest(
                journal_id=self.journal_id, since_txid=1), EPOCH_DEADLINE_S), "manifest")
        last = max((s.last_txid for m in manifests.values() for s in m.segments), default=0)
        self._last = self._synced = last
        return last

    async def _recover_segment(self, first_txid: int) -> None:
        request = pb.PrepareRecoveryRequest(info=self._info(), segment_first_txid=first_txid)
        answers = await self._quorum(
            lambda n: n.call("PrepareRecovery", request, EPOCH_DEADLINE_S),
            f"prepare recovery of segment {first_txid}")
        votes = [recovery.PrepareResult(
            name, Segment(a.segment.first_txid, a.segment.last_txid, a.segment.in_progress)
            if a.HasField("segment") else None, a.segment_epoch, a.committed_txid)
            for name, a in answers.items()]
        best = recovery.choose(votes)
        if best is None:
            log.info("journal %s: no copy of segment %d to recover", self.journal_id, first_txid)
            return
        seg = best.segment
        log.info("journal %s: recovering %s from %s (epoch %d)", self.journal_id, seg,
                 best.node, best.segment_epoch)
        accept = pb.AcceptRecoveryRequest(info=self._info(), source_node=best.node,
                                          segment=pb.SegmentState(first_txid=seg.first_txid,
                                                                  last_txid=seg.last_txid,
                                                                  in_progress=seg.in_progress))
        await self._quorum(lambda n: n.call("AcceptRecovery", accept, ACCEPT_DEADLINE_S),
                           f"accept recovery of {seg}")
        finalize = pb.FinalizeLogSegmentRequest(info=self._info(), first_txid=seg.first_txid,
                                                last_txid=seg.last_txid)
        await self._quorum(lambda n: n.call("FinalizeLogSegment", finalize, SEGMENT_DEADLINE_S),
                           f"finalize recovered {seg}")

    def read_edits(self, from_txid: int, upto_txid: int | None = None):
        """After recover(): every committed edit from from_txid to the last committed."""
        upto = upto_txid if upto_txid is not None else self._last
        expected = from_txid
        for txid, record in super().read_edits(from_txid, upto):
            expected = txid + 1
            yield txid, record
        if expected <= upto:
            raise JournalError(
                f"journal nodes served edits only up to txid {expected - 1}, "
                f"{upto} are committed: too few journal nodes reachable")

    # ---- writing --------------------------------------------------------------------

    async def open(self, last_applied_txid: int) -> None:
        if self.epoch == 0:
            raise JournalError("quorum journal: recover() must take an epoch before open()")
        if last_applied_txid < self._last:
            raise JournalError(f"the NameNode applied txid {last_applied_txid}, "
                               f"the journal holds up to {self._last}")
        self._last = self._synced = last_applied_txid
        await self.io.run(self._start_segment(last_applied_txid + 1))
        self._open = True

    async def _start_segment(self, first_txid: int) -> None:
        request = pb.StartLogSegmentRequest(info=self._info(), first_txid=first_txid)

        await self._quorum(lambda n: n.ordered("StartLogSegment", request, SEGMENT_DEADLINE_S,
                                                starts_segment=True),
                           f"start segment {first_txid}")
        self._segment_first = first_txid

    def append(self, txid: int, frame: bytes) -> None:
        self._check_usable()
        with self._buffer_lock:
            if txid != self._last + 1:
                raise ValueError(f"append of txid {txid}, expected {self._last + 1}")
            if not self._buffer:
                self._buffer_first = txid
            self._buffer.append(frame)
            self._last = txid

    async def sync(self, txid: int) -> None:
        if txid > self._last:
            raise ValueError(f"sync of txid {txid} beyond the last appended {self._last}")
        if self._synced < txid:
            await self.io.run(self._sync_on_io(txid))

    async def _sync_on_io(self, txid: int) -> None:
        while self._synced < txid:
            self._check_usable()
            if self._flush is None:
                self._flush = self.io.loop.create_task(self._flush_buffer())
            flush = self._flush
            try:
                await asyncio.shield(flush)
            finally:
                if self._flush is flush and flush.done():
                    self._flush = None

    def _take_buffer(self) -> tuple[int, list[bytes]]:
        with self._buffer_lock:
            first, frames = self._buffer_first, self._buffer
            self._buffer = []
            return first, frames

    async def _flush_buffer(self) -> None:
        async with self._segment_lock:
            await self._send_buffered()

    async def _send_buffered(self) -> None:
        first, pending = self._take_buffer()
        while pending:
            size, count = 0, 0
            while count < len(pending) and (count == 0 or size + len(pending[count]) <= MAX_BATCH_BYTES):
                size += len(pending[count])
                count += 1
            await self._send_batch(first, pending[:count])
            first, pending = first + count, pending[count:]

    async def _send_batch(self, first_txid: int, batch: list[bytes]) -> None:
        last = first_txid + len(batch) - 1
        request = pb.JournalRequest(info=self._info(), segment_first_txid=self._segment_first,
                                    first_txid=first_txid, num_txns=len(batch),
                                    records=b"".join(batch))
        await self._quorum(lambda n: n.ordered("Journal", request, WRITE_DEADLINE_S,
                                                needs_sync=True),
                           f"journal txids {first_txid}-{last}")
        self._synced = last

    async def roll(self) -> None:
        self._check_usable()
        await self.io.run(self._roll_on_io())

    async def _roll_on_io(self) -> None:
        async with self._segment_lock:
            await self._send_buffered()
            if self._synced < self._segment_first:
                return
            await self._finalize_current()
            await self._start_segment(self._synced + 1)

    async def _finalize_current(self) -> None:
        request = pb.FinalizeLogSegmentRequest(info=self._info(),
                                               first_txid=self._segment_first,
                                               last_txid=self._synced)
        await self._quorum(lambda n: n.ordered("FinalizeLogSegment", request,
                                                SEGMENT_DEADLINE_S),
                           f"finalize segment {self._segment_first}-{self._synced}")

    def purge(self, upto_txid: int) -> None:
        """Asks the JournalNodes to drop finalized segments <= upto_txid, in the
        background: old segments are not needed for safety, so this never blocks or
        fails the NameNode. One purge in flight at a time; the newest request wins."""
        self._check_usable()
        if self.purge_limit is not None:
            upto_txid = min(upto_txid, self.purge_limit)
        self._purge_upto = max(self._purge_upto, min(upto_txid, self._synced))
        self.io.loop.call_soon_threadsafe(self._start_purge)

    def _start_purge(self) -> None:
        if self._purge_task is None or self._purge_task.done():
            self._purge_task = self.io.loop.create_task(self._purge_loop())

    async def _purge_loop(self) -> None:
        done = 0
        while self._purge_upto > done:
            upto = self._purge_upto
            request = pb.PurgeRequest(info=self._info(), upto_txid=upto)
            try:
                await quorum_call(self.nodes, lambda n: n.call("Purge", request,
                                                                SEGMENT_DEADLINE_S),
                                  f"purge up to {upto}")
            except JournalError as e:
                log.warning("journal %s: %s", self.journal_id, e)
            done = upto

    async def close(self, release_lease: bool = False) -> None:
        """Syncs and finalizes the segment; with release_lease (a graceful hand-over)
        then lets the lease lapse at once so the standby need not wait it out."""
        if self.io.loop.is_closed():
            return
        try:
            if self._open and self._failed is None:
                await self.io.run(self._close_on_io())
            if release_lease and self._failed is None:
                await self.release_lease()
        finally:
            self._open = False
            await self.io.run(self._close_channels())
            self.io.stop()

    async def _close_on_io(self) -> None:
        async with self._segment_lock:
            await self._send_buffered()
            await self._finalize_current()
        # A graceful stop lets slower nodes finish too, so each holds a finalized
        # segment rather than leaving it to the next writer's recovery; bounded.
        await asyncio.wait([asyncio.ensure_future(n.drain()) for n in self.nodes],
                           timeout=CLOSE_DRAIN_S)

    # ---- lease ----------------------------------------------------------------------

    async def renew_lease(self, duration_ms: int) -> bool:
        """Renews this writer's lease on a majority; True while the lease is valid by
        this side's own conservative clock. Raises JournalFenced when deposed."""
        return await self.io.run(self._renew_lease(duration_ms))

    async def _renew_lease(self, duration_ms: int) -> bool:
        if self.epoch == 0:
            raise JournalError("quorum journal: no epoch, cannot hold the lease")
        sent_ms = _now_ms()
        request = pb.RenewLeaseRequest(info=self._info(), holder=self.writer,
                                       duration_ms=duration_ms)
        deadline_s = min(LEASE_RENEW_DEADLINE_S, duration_ms / 1000)
        try:
            await quorum_call(self.nodes, lambda n: n.call("RenewLease", request, deadline_s),
                              "renew lease")
        except JournalFenced as e:
            self._failed = e
            raise
        except JournalError as e:
            # Not fatal by itself: the lease runs out on its own unless a later renewal
            # reaches a majority in time, and the caller steps down when it does.
            log.warning("journal %s: lease not renewed: %s", self.journal_id, e)
            return self.lease.valid(_now_ms())
        self.lease.on_renewed(sent_ms, duration_ms)
        return self.lease.valid(_now_ms())

    async def release_lease(self) -> None:
        """Graceful hand-over: shortens this writer's lease to RELEASE_LEASE_MS on
        every reachable JournalNode so the standby takes over at once. Best effort."""
        request = pb.RenewLeaseRequest(info=self._info(), holder=self.writer,
                                       duration_ms=RELEASE_LEASE_MS)

        async def release() -> None:
            await asyncio.gather(*(n.call("RenewLease", request, LEASE_RENEW_DEADLINE_S)
                                   for n in self.nodes), return_exceptions=True)
        await self.io.run(release())
        self.lease.valid_until_ms = 0

