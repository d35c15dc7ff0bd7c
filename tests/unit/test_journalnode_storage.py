"""JournalStorage: durable epochs and segments in a temporary folder (no processes)."""
import pytest

from minidfs.errors import ChecksumError, EditLogCorrupt, InvalidArgument
from minidfs.journalnode import frames
from minidfs.journalnode.journal_storage import JournalStorage
from minidfs.namenode.editlog_format import encode
from minidfs.qjournal.segment import Segment


def batch(first: int, last: int) -> bytes:
    return b"".join(encode({"txid": t, "op": "MKDIRS", "path": f"/d{t}"})
                    for t in range(first, last + 1))


def reopen(path) -> JournalStorage:
    storage = JournalStorage(path)
    storage.load()
    return storage


def test_epochs_and_segments_survive_a_restart(tmp_path) -> None:
    s = reopen(tmp_path)
    assert s.new_epoch(1) is None
    s.start_segment(1, 1)
    s.journal(1, 1, 1, 5, batch(1, 5), committed_txid=0)
    s.finalize(1, 1, 5)
    s.start_segment(1, 6)
    s.journal(1, 6, 6, 3, batch(6, 8), committed_txid=5)
    s.close()
    s = reopen(tmp_path)
    core = s.core
    assert core.promised_epoch == 1 and core.segment_epoch(6) == 1
    assert core.manifest(1, True) == [Segment(1, 5, False), Segment(6, 8, True)]
    assert s.new_epoch(2) == Segment(6, 8, True)
    assert reopen(tmp_path).core.promised_epoch == 2


def test_torn_tail_is_cut_corruption_refused(tmp_path) -> None:
    s = reopen(tmp_path)
    s.new_epoch(1)
    s.start_segment(1, 1)
    s.journal(1, 1, 1, 4, batch(1, 4), committed_txid=0)
    s.close()
    path = s.dir / "edits_inprogress_0000000000000000001.log"
    good = path.read_bytes()
    path.write_bytes(good + batch(5, 5)[:-3])
    assert reopen(tmp_path).core.segments[1] == Segment(1, 4, True)
    assert path.read_bytes() == good
    damaged = bytearray(good)
    damaged[20] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(EditLogCorrupt, match="corrupt edit record at offset 0"):
        reopen(tmp_path)


def test_bad_batches_are_refused_and_leave_nothing(tmp_path) -> None:
    s = reopen(tmp_path)
    s.new_epoch(1)
    s.start_segment(1, 1)
    bad = bytearray(batch(1, 2))
    bad[-1] ^= 1
    with pytest.raises(ChecksumError):
        s.journal(1, 1, 1, 2, bytes(bad), 0)
    with pytest.raises(InvalidArgument, match="3 announced"):
        s.journal(1, 1, 1, 3, batch(1, 2), 0)
    with pytest.raises(InvalidArgument, match="expected 1"):
        s.journal(1, 1, 1, 1, batch(2, 2), 0)
    assert s.journal(1, 1, 1, 2, batch(1, 2), 0) == 2


def test_reads_page_through_segments(tmp_path) -> None:
    s = reopen(tmp_path)
    s.new_epoch(1)
    s.start_segment(1, 1)
    s.journal(1, 1, 1, 50, batch(1, 50), committed_txid=0)
    seg = s.core.segments[1]
    count, data = s.read(seg, 1, 50, max_bytes=200)
    assert 1 <= count < 50
    txids = [t for t, _ in frames.decode_batch(data, 1, count)]
    count2, data2 = s.read(seg, 1 + count, 50, max_bytes=10**6)   # continues from the cursor
    assert count + count2 == 50
    assert [t for t, _ in frames.decode_batch(data2, 1 + count, count2)][-1] == 50
    assert txids[0] == 1
    assert s.read(seg, 20, 20, max_bytes=1)[0] == 1               # at least one record


def test_recovered_segment_replaces_a_stale_copy(tmp_path) -> None:
    s = reopen(tmp_path)
    s.new_epoch(1)
    s.start_segment(1, 1)
    s.journal(1, 1, 1, 3, batch(1, 3), 0)
    s.new_epoch(2)
    s.admit(2)
    proposal = Segment(1, 5, True)
    assert s.core.check_accept(2, proposal, self_is_source=False)
    s.install_recovered(2, proposal, batch(1, 5))
    s.finalize(2, 1, 5)
    s.close()
    s = reopen(tmp_path)
    assert s.core.manifest(1, False) == [Segment(1, 5, False)]
    assert s.core.segment_epoch(1) == 2


def test_starting_a_later_segment_sets_stale_ones_aside(tmp_path) -> None:
    s = reopen(tmp_path)
    s.new_epoch(1)
    s.start_segment(1, 1)
    s.journal(1, 1, 1, 3, batch(1, 3), 0)
    s.new_epoch(2)
    s.start_segment(2, 3)   # epoch 2 recovered 1..2 elsewhere; this copy lost the race
    assert list(s.core.segments) == [3]
    assert (s.dir / "edits_inprogress_0000000000000000001.log.stale").exists()
    s.close()
    assert list(reopen(tmp_path).core.segments) == [3]
