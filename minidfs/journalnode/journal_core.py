"""The rules of one journal on a JournalNode: epochs, segments, recovery votes. Pure.

journal_storage.py holds one JournalCore per journal id: it asks the core whether a
request may proceed (the core raises FencedError / PreconditionFailed /
InvalidArgument otherwise) and what files to touch, does the I/O (fsync first), and
then tells the core the new state. No I/O, clock or gRPC here.

State, as in HDFS's QJM:
- promised_epoch: the highest epoch promised; no request of an older epoch is ever
  accepted again, which fences a deposed writer.
- vouch (segment_first_txid, epoch): who stands behind the content of the current
  in-progress segment - the writer epoch that started it, or the epoch whose
  recovery this node accepted for it. Recovery prefers the highest vouching epoch.
- segments: finalized ones and at most one live in-progress one (the newest). An
  older in-progress segment is stale once a writer starts a later segment here: its
  outcome was already decided on a majority, so it is moved aside, never served.
- committed_txid: the writer's hint of what a majority holds; bounds what a tailing
  standby may read from the in-progress segment.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from minidfs.errors import FencedError, InvalidArgument, PreconditionFailed
from minidfs.qjournal.segment import Segment


@dataclass(frozen=True)
class Vouch:
    segment_first_txid: int
    epoch: int


@dataclass(frozen=True)
class StartPlan:
    discard: tuple[Segment, ...]   # in-progress segments to move aside (stale)


@dataclass(frozen=True)
class RecoveryVote:
    """This node's answer to PrepareRecovery for one segment."""

    segment: Segment | None
    segment_epoch: int
    committed_txid: int


def check_positive(name: str, value: int) -> int:
    if value < 1:
        raise InvalidArgument(f"{name} must be a positive integer, got {value}")
    return value


@dataclass
class JournalCore:
    promised_epoch: int = 0
    vouch: Vouch | None = None
    segments: dict[int, Segment] = field(default_factory=dict)
    committed_txid: int = 0

    # ---- epochs -------------------------------------------------------------------

    def check_epoch(self, epoch: int) -> bool:
        """Any writer request: refuse an older epoch; True if a newer one must first be
        promised (durably, by the caller): a newer writer whose NewEpoch this node missed
        still fences every older one from here on."""
        check_positive("epoch", epoch)
        if epoch < self.promised_epoch:
            raise FencedError(f"fenced: epoch {epoch} < promised {self.promised_epoch}")
        return epoch > self.promised_epoch

    def check_new_epoch(self, epoch: int) -> None:
        check_positive("epoch", epoch)
        if epoch <= self.promised_epoch:
            raise FencedError(f"fenced: epoch {epoch} <= promised {self.promised_epoch}")

    def last_segment(self) -> Segment | None:
        """The newest non-empty segment (what NewEpoch reports for recovery)."""
        for first in sorted(self.segments, reverse=True):
            if not self.segments[first].empty:
                return self.segments[first]
        return None

    def current(self) -> Segment | None:
        """The in-progress segment writes go to, if any."""
        if not self.segments:
            return None
        newest = self.segments[max(self.segments)]
        return newest if newest.in_progress else None

    def segment_epoch(self, first_txid: int) -> int:
        vouch = self.vouch
        return vouch.epoch if vouch and vouch.segment_first_txid == first_txid else 0

    # ---- writing --------------------------------------------------------------------

    def plan_start(self, epoch: int, first_txid: int) -> StartPlan:
        self.check_epoch(epoch)
        check_positive("first_txid", first_txid)
        discard = []
        for seg in sorted(self.segments.values(), key=lambda s: s.first_txid):
            if not seg.in_progress:
                if seg.last_txid >= first_txid:
                    raise PreconditionFailed(
                        f"cannot start segment at txid {first_txid}: {seg} already holds it")
                continue
            if seg.first_txid == first_txid and not seg.empty \
                    and self.segment_epoch(first_txid) >= epoch:
                raise PreconditionFailed(
                    f"cannot start segment at txid {first_txid}: epoch {epoch} already wrote it")
            # Any other in-progress segment was decided on a majority before this writer
            # could start here (or holds nothing committed): it is stale.
            discard.append(seg)
        return StartPlan(tuple(discard))

    def on_started(self, epoch: int, first_txid: int, plan: StartPlan) -> None:
        for seg in plan.discard:
            self.segments.pop(seg.first_txid, None)
        self.segments[first_txid] = Segment(first_txid, first_txid - 1, True)
        self.vouch = Vouch(first_txid, epoch)

    def check_journal(self, epoch: int, segment_first: int, first_txid: int, num_txns: int) -> None:
        self.check_epoch(epoch)
        check_positive("first_txid", first_txid)
        check_positive("num_txns", num_txns)
        seg = self.current()
        if seg is None or seg.first_txid != segment_first:
            raise PreconditionFailed(
                f"out of sync: no in-progress segment at txid {segment_first} here")
        if self.segment_epoch(segment_first) != epoch:
            raise PreconditionFailed(
                f"out of sync: segment {segment_first} was not started by epoch {epoch} here")
        if first_txid != seg.last_txid + 1:
            raise PreconditionFailed(
                f"out of sync: expected txid {seg.last_txid + 1}, got {first_txid}")

    def on_journaled(self, last_txid: int, committed_txid: int) -> None:
        seg = self.current()
        assert seg is not None
        self.segments[seg.first_txid] = Segment(seg.first_txid, last_txid, True)
        self.note_committed(committed_txid)

    def note_committed(self, committed_txid: int) -> None:
        self.committed_txid = max(self.committed_txid, committed_txid)

    def check_finalize(self, epoch: int, first_txid: int, last_txid: int) -> bool:
        """True if the segment must be finalized now, False if it already is."""
        self.check_epoch(epoch)
        check_positive("first_txid", first_txid)
        if last_txid < first_txid - 1:
            raise InvalidArgument(f"last_txid {last_txid} before first_txid {first_txid}")
        seg = self.segments.get(first_txid)
        if seg is None:
            raise PreconditionFailed(f"out of sync: no segment at txid {first_txid} here")
        if seg.last_txid != last_txid:
            raise PreconditionFailed(
                f"out of sync: {seg} cannot be finalized at txid {last_txid}")
        if seg.in_progress and self.segment_epoch(first_txid) != epoch:
            # Same length is not same content: only a copy this epoch wrote or accepted
            # in its recovery may be finalized by it.
            raise PreconditionFailed(
                f"out of sync: {seg} was not written or recovered by epoch {epoch} here")
        return seg.in_progress

    def on_finalized(self, first_txid: int) -> None:
        seg = self.segments[first_txid]
        if seg.empty:
            # An empty finalized segment carries nothing; HDFS drops it too.
            del self.segments[first_txid]
        else:
            self.segments[first_txid] = Segment(seg.first_txid, seg.last_txid, False)
            self.note_committed(seg.last_txid)

    # ---- recovery -------------------------------------------------------------------

    def prepare(self, epoch: int, segment_first: int) -> RecoveryVote:
        self.check_epoch(epoch)
        check_positive("segment_first_txid", segment_first)
        seg = self.segments.get(segment_first)
        if seg is None or seg.empty:
            return RecoveryVote(None, 0, self.committed_txid)
        if not seg.in_progress:
            return RecoveryVote(seg, 0, self.committed_txid)
        return RecoveryVote(seg, self.segment_epoch(segment_first), self.committed_txid)

    def check_accept(self, epoch: int, proposal: Segment, self_is_source: bool) -> bool:
        """True if this node must copy the proposed segment from the source."""
        self.check_epoch(epoch)
        check_positive("segment first_txid", proposal.first_txid)
        if proposal.empty:
            raise InvalidArgument(f"cannot recover to an empty {proposal}")
        if proposal.first_txid <= self.committed_txid and proposal.last_txid < self.committed_txid:
            raise PreconditionFailed(
                f"recovery to {proposal} would lose committed txid {self.committed_txid}")
        for seg in self.segments.values():
            if not seg.in_progress and seg.first_txid != proposal.first_txid \
                    and seg.last_txid >= proposal.first_txid:
                raise PreconditionFailed(f"recovery to {proposal} overlaps {seg} here")
        mine = self.segments.get(proposal.first_txid)
        if mine is not None and not mine.in_progress:
            if mine.last_txid != proposal.last_txid:
                raise PreconditionFailed(f"recovery to {proposal} contradicts {mine} here")
            return False
        return not self_is_source

    def on_accepted(self, epoch: int, proposal: Segment) -> None:
        mine = self.segments.get(proposal.first_txid)
        if mine is not None and not mine.in_progress:
            return
        for first in [f for f, s in self.segments.items()
                      if s.in_progress and f != proposal.first_txid]:
            del self.segments[first]
        self.segments[proposal.first_txid] = Segment(
            proposal.first_txid, proposal.last_txid, True)
        self.vouch = Vouch(proposal.first_txid, epoch)

    # ---- reading and purging ----------------------------------------------------------

    def manifest(self, since_txid: int, in_progress_ok: bool) -> list[Segment]:
        found = []
        for first in sorted(self.segments):
            seg = self.segments[first]
            if seg.empty or seg.last_txid < since_txid:
                continue
            if seg.in_progress and not in_progress_ok:
                continue
            found.append(seg)
        return found

    def readable(self, since_txid: int) -> tuple[Segment, int] | None:
        """The segment holding since_txid and the last txid a tailer may read from it:
        all of a finalized segment; of the in-progress one, the part a writer said is
        committed - and only if the newest promised epoch vouches for its content (a
        copy left by a deposed writer may differ from history past what it committed,
        and the hint may come from a later writer's history)."""
        check_positive("since_txid", since_txid)
        for seg in self.segments.values():
            if not seg.covers(since_txid):
                continue
            if not seg.in_progress:
                return seg, seg.last_txid
            if self.segment_epoch(seg.first_txid) != self.promised_epoch:
                return None
            upto = min(seg.last_txid, self.committed_txid)
            return (seg, upto) if upto >= since_txid else None
        return None

    def plan_purge(self, epoch: int, upto_txid: int) -> list[Segment]:
        self.check_epoch(epoch)
        if upto_txid > self.committed_txid:
            raise PreconditionFailed(
                f"cannot purge up to txid {upto_txid}: only {self.committed_txid} is committed")
        return [s for s in self.segments.values()
                if not s.in_progress and s.last_txid <= upto_txid]

    def on_purged(self, segments: list[Segment]) -> None:
        for seg in segments:
            self.segments.pop(seg.first_txid, None)
