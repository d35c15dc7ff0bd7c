"""Segment recovery: which copy of an unfinalized segment becomes history. Pure.

Called by quorum_journal.py when a writer opens the journal. After taking a new
epoch, the writer asks a majority about the newest segment (PrepareRecovery), picks
one copy with `choose`, makes a majority accept it (AcceptRecovery) and finalizes
it - HDFS's recoverUnfinalizedSegments, a Paxos round whose "value" is the
segment. The ordering is HDFS's SegmentRecoveryComparator:

1. a node that holds the segment beats one that does not;
2. a finalized copy beats an in-progress one (finalized copies must agree);
3. a higher vouching epoch beats a lower one: the epoch that wrote the copy, or
   that accepted it in an earlier recovery - so a value a majority accepted in an
   interrupted recovery survives every later recovery (Paxos safety);
4. a longer copy beats a shorter one: every txid a majority acked is in it.

The choice must also keep every txid any responder knows as committed.
"""
from __future__ import annotations

from dataclasses import dataclass

from minidfs.errors import EditLogCorrupt
from minidfs.qjournal.segment import Segment


@dataclass(frozen=True)
class PrepareResult:
    node: str
    segment: Segment | None
    segment_epoch: int
    committed_txid: int


def _rank(result: PrepareResult) -> tuple[int, int, int, int]:
    seg = result.segment
    if seg is None:
        return (0, 0, 0, 0)
    return (1, 0 if seg.in_progress else 1, result.segment_epoch, seg.last_txid)


def choose(results: list[PrepareResult]) -> PrepareResult | None:
    """The copy to recover to, or None when no responder holds the segment."""
    holders = [r for r in results if r.segment is not None]
    if not holders:
        return None
    finalized = {r.segment.last_txid for r in holders if not r.segment.in_progress}
    if len(finalized) > 1:
        raise EditLogCorrupt(
            f"journal nodes disagree on finalized segment {holders[0].segment.first_txid}: "
            f"it ends at txids {sorted(finalized)}")
    best = max(holders, key=_rank)
    committed = max(r.committed_txid for r in results)
    if best.segment.first_txid <= committed and best.segment.last_txid < committed:
        raise EditLogCorrupt(
            f"recovery of {best.segment} from {best.node} would lose committed txid {committed}")
    return best
