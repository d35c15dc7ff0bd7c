"""Segment recovery choice (qjournal/recovery.py) and lease quorum math (qjournal/lease.py)."""
import itertools

import pytest

from minidfs.errors import EditLogCorrupt
from minidfs.journalnode.lease_table import LeaseView
from minidfs.qjournal.lease import HeldLease, current_holder, lapsed_on_majority, last_holder
from minidfs.qjournal.recovery import PrepareResult, choose
from minidfs.qjournal.segment import Segment, majority


def vote(node, last=None, epoch=0, in_progress=True, committed=0, first=1):
    seg = None if last is None else Segment(first, last, in_progress)
    return PrepareResult(node, seg, epoch, committed)


def test_nobody_holds_the_segment() -> None:
    assert choose([vote("jn1"), vote("jn2")]) is None


def test_holder_beats_none_and_finalized_beats_in_progress() -> None:
    assert choose([vote("jn1"), vote("jn2", 5, epoch=1)]).node == "jn2"
    best = choose([vote("jn1", 9, epoch=7), vote("jn2", 5, in_progress=False)])
    assert best.node == "jn2" and best.segment == Segment(1, 5, False)


def test_higher_epoch_beats_longer_copy() -> None:
    best = choose([vote("jn1", 9, epoch=1), vote("jn2", 6, epoch=2)])
    assert best.node == "jn2"


def test_longer_copy_wins_within_an_epoch() -> None:
    assert choose([vote("jn1", 9, epoch=2), vote("jn2", 6, epoch=2)]).node == "jn1"


def test_disagreeing_finalized_copies_are_corruption() -> None:
    with pytest.raises(EditLogCorrupt, match="disagree"):
        choose([vote("jn1", 5, in_progress=False), vote("jn2", 6, in_progress=False)])


def test_a_choice_that_loses_committed_edits_is_refused() -> None:
    with pytest.raises(EditLogCorrupt, match="lose committed txid 8"):
        choose([vote("jn1", 6, epoch=3), vote("jn2", None, committed=8)])


@pytest.mark.parametrize("states", list(itertools.product(
    [None, (4, 1, True), (6, 1, True), (6, 2, True), (3, 2, True), (5, 0, False)], repeat=3)))
def test_choice_is_the_maximum_under_the_hdfs_order(states) -> None:
    votes = [vote(f"jn{i}") if s is None else vote(f"jn{i}", s[0], s[1], s[2])
             for i, s in enumerate(states)]
    best = choose(votes)
    holders = [v for v in votes if v.segment is not None]
    if not holders:
        assert best is None
        return
    finalized = [v for v in holders if not v.segment.in_progress]
    if finalized:
        assert not best.segment.in_progress and best.segment.last_txid == 5
        return
    top_epoch = max(v.segment_epoch for v in holders)
    assert best.segment_epoch == top_epoch
    assert best.segment.last_txid == max(v.segment.last_txid for v in holders
                                         if v.segment_epoch == top_epoch)


def test_majority() -> None:
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_lease_lapse_needs_a_majority_of_all_nodes() -> None:
    lapsed, held = LeaseView("nn1", 1, 0), LeaseView("nn1", 1, 300)
    assert lapsed_on_majority([lapsed, lapsed], total_nodes=3)
    assert not lapsed_on_majority([lapsed, held, held], total_nodes=3)
    assert not lapsed_on_majority([lapsed], total_nodes=3)   # silence is not lapse
    assert current_holder([lapsed, held, LeaseView("nn2", 2, 100)]).holder == "nn2"
    assert current_holder([lapsed]) is None


def test_last_holder_decides_who_waits_before_a_take_over() -> None:
    assert last_holder([LeaseView("", 0, 0), LeaseView("", 0, 0)]) == ""     # cold start
    assert last_holder([LeaseView("nn1", 1, 0), LeaseView("nn2", 2, 0), LeaseView("", 0, 0)]) == "nn2"


def test_held_lease_counts_from_the_send_time() -> None:
    lease = HeldLease()
    assert not lease.valid(0)
    lease.on_renewed(sent_ms=1_000, duration_ms=500)
    assert lease.valid(1_499) and not lease.valid(1_500)
    lease.on_renewed(sent_ms=900, duration_ms=500)   # a late answer never shortens it
    assert lease.valid(1_499)
