"""JournalNode rules (journal_core.py) and lease bookkeeping (lease_table.py): pure."""
import pytest

from minidfs.errors import FencedError, InvalidArgument, PreconditionFailed
from minidfs.journalnode.journal_core import JournalCore
from minidfs.journalnode.lease_table import LeaseTable
from minidfs.qjournal.segment import Segment


def started(core: JournalCore, epoch: int, first: int) -> None:
    core.on_started(epoch, first, core.plan_start(epoch, first))


def write(core: JournalCore, epoch: int, first: int, upto: int, committed: int = 0) -> None:
    seg = core.current()
    core.check_journal(epoch, seg.first_txid, first, upto - first + 1)
    core.on_journaled(upto, committed)


def test_new_epoch_must_exceed_the_promise() -> None:
    core = JournalCore(promised_epoch=3)
    with pytest.raises(FencedError, match="fenced: epoch 3 <= promised 3"):
        core.check_new_epoch(3)
    with pytest.raises(FencedError):
        core.check_new_epoch(2)
    core.check_new_epoch(4)
    with pytest.raises(InvalidArgument):
        core.check_new_epoch(0)


def test_older_epoch_is_fenced_newer_must_be_promised() -> None:
    core = JournalCore(promised_epoch=5)
    with pytest.raises(FencedError, match="fenced: epoch 4 < promised 5"):
        core.check_epoch(4)
    assert core.check_epoch(5) is False
    assert core.check_epoch(6) is True


def test_write_path_start_journal_finalize() -> None:
    core = JournalCore(promised_epoch=1)
    started(core, 1, 1)
    write(core, 1, 1, 10)
    with pytest.raises(PreconditionFailed, match="expected txid 11, got 12"):
        core.check_journal(1, 1, 12, 1)
    with pytest.raises(PreconditionFailed, match="no in-progress segment at txid 5"):
        core.check_journal(1, 5, 11, 1)
    with pytest.raises(PreconditionFailed, match="cannot be finalized at txid 9"):
        core.check_finalize(1, 1, 9)
    assert core.check_finalize(1, 1, 10) is True
    core.on_finalized(1)
    assert core.check_finalize(1, 1, 10) is False   # idempotent
    assert core.manifest(1, in_progress_ok=False) == [Segment(1, 10, False)]
    with pytest.raises(PreconditionFailed, match="already holds it"):
        core.plan_start(1, 10)
    started(core, 1, 11)
    assert core.current() == Segment(11, 10, True)


def test_journal_needs_the_epoch_that_started_the_segment() -> None:
    core = JournalCore(promised_epoch=1)
    started(core, 1, 1)
    write(core, 1, 1, 3)
    core.promised_epoch = 2   # a new writer promised, has not started a segment here
    with pytest.raises(FencedError):
        core.check_journal(1, 1, 4, 1)
    with pytest.raises(PreconditionFailed, match="not started by epoch 2"):
        core.check_journal(2, 1, 4, 1)


def test_finalize_refuses_a_copy_another_epoch_wrote() -> None:
    core = JournalCore(promised_epoch=1)
    started(core, 1, 1)
    write(core, 1, 1, 5)
    core.promised_epoch = 3
    with pytest.raises(PreconditionFailed, match="not written or recovered by epoch 3"):
        core.check_finalize(3, 1, 5)


def test_start_discards_stale_in_progress_segments() -> None:
    core = JournalCore(promised_epoch=1)
    started(core, 1, 1)
    write(core, 1, 1, 8)
    core.promised_epoch = 2
    plan = core.plan_start(2, 6)
    assert plan.discard == (Segment(1, 8, True),)
    core.on_started(2, 6, plan)
    assert core.segments == {6: Segment(6, 5, True)}
    # the same epoch restarting a segment it already wrote is refused
    write(core, 2, 6, 7)
    with pytest.raises(PreconditionFailed, match="epoch 2 already wrote it"):
        core.plan_start(2, 6)


def test_prepare_reports_segment_and_vouching_epoch() -> None:
    core = JournalCore(promised_epoch=4)
    started(core, 4, 1)
    write(core, 4, 1, 6, committed=5)
    vote = core.prepare(5, 1)
    assert vote.segment == Segment(1, 6, True) and vote.segment_epoch == 4
    assert vote.committed_txid == 5
    assert core.prepare(5, 7).segment is None
    core.check_finalize(4, 1, 6)
    core.on_finalized(1)
    vote = core.prepare(5, 1)
    assert vote.segment == Segment(1, 6, False) and vote.segment_epoch == 0


def test_accept_recovery_rules() -> None:
    core = JournalCore(promised_epoch=2)
    started(core, 2, 1)
    write(core, 2, 1, 9, committed=7)
    core.promised_epoch = 3
    with pytest.raises(PreconditionFailed, match="lose committed txid 7"):
        core.check_accept(3, Segment(1, 6, True), self_is_source=False)
    with pytest.raises(InvalidArgument):
        core.check_accept(3, Segment(1, 0, True), self_is_source=False)
    assert core.check_accept(3, Segment(1, 8, True), self_is_source=False) is True
    assert core.check_accept(3, Segment(1, 9, True), self_is_source=True) is False
    core.on_accepted(3, Segment(1, 8, True))
    assert core.segments[1] == Segment(1, 8, True) and core.segment_epoch(1) == 3
    assert core.check_finalize(3, 1, 8) is True


def test_accept_contradicting_a_finalized_segment_is_refused() -> None:
    core = JournalCore(promised_epoch=1)
    started(core, 1, 1)
    write(core, 1, 1, 4)
    core.check_finalize(1, 1, 4)
    core.on_finalized(1)
    core.promised_epoch = 2
    with pytest.raises(PreconditionFailed, match="contradicts"):
        core.check_accept(2, Segment(1, 5, True), self_is_source=False)
    assert core.check_accept(2, Segment(1, 4, False), self_is_source=False) is False


def test_tailers_read_only_committed_edits_vouched_by_the_promised_epoch() -> None:
    core = JournalCore(promised_epoch=1)
    started(core, 1, 1)
    write(core, 1, 1, 10, committed=6)
    assert core.readable(1) == (Segment(1, 10, True), 6)
    assert core.readable(7) is None
    core.promised_epoch = 2     # a new writer is recovering: nothing in progress is served
    assert core.readable(1) is None


def test_purge_only_committed_finalized_segments() -> None:
    core = JournalCore(promised_epoch=1)
    started(core, 1, 1)
    write(core, 1, 1, 5)
    core.check_finalize(1, 1, 5)
    core.on_finalized(1)
    started(core, 1, 6)
    write(core, 1, 6, 8, committed=8)
    assert core.plan_purge(1, 7) == [Segment(1, 5, False)]
    with pytest.raises(PreconditionFailed, match="only 8 is committed"):
        core.plan_purge(1, 9)
    with pytest.raises(FencedError):
        JournalCore(promised_epoch=2).plan_purge(1, 1)


def test_lease_expiry_with_explicit_clock() -> None:
    table = LeaseTable(started_ms=1_000, max_duration_ms=5_000)
    view = table.view(2_000)
    assert view.holder == "" and view.remaining_ms == 4_000   # unknown right after start
    assert table.view(6_000).remaining_ms == 0
    table.renew(3, "nn1", 1_500, now_ms=6_000)
    assert table.view(6_500).remaining_ms == 1_000
    assert table.view(7_500).remaining_ms == 0
    table.renew(4, "nn2", 2_000, now_ms=8_000)
    assert table.view(8_000).holder == "nn2"
    with pytest.raises(InvalidArgument):
        table.renew(4, "nn2", 0, now_ms=8_000)
    with pytest.raises(InvalidArgument):
        table.renew(4, "nn2", 5_001, now_ms=8_000)
    with pytest.raises(InvalidArgument):
        table.renew(4, "", 100, now_ms=8_000)
