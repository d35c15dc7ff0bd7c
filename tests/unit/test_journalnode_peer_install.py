"""A JournalNode adopting a finalized segment copied from a peer (peer_sync.py):
installed durably and kept across a restart, refused when it overlaps what the node
holds or when its frames are damaged, and a crashed copy leaves nothing behind
(minidfs/journalnode/journal_storage.py install_finalized)."""
from __future__ import annotations

import pytest

from minidfs.errors import MinidfsError
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


def test_a_copied_segment_is_installed_and_survives_a_restart(tmp_path):
    s = reopen(tmp_path)
    s.promise(3)
    s.start_segment(3, 11)                     # it joined the writer's newest segment
    s.journal(3, 11, 11, 2, batch(11, 12), committed_txid=10)
    assert s.install_finalized(Segment(1, 10, False), batch(1, 10))
    assert not s.install_finalized(Segment(5, 12, False), batch(5, 12))   # overlaps
    assert not s.install_finalized(Segment(11, 12, False), batch(11, 12))
    s.close()
    again = reopen(tmp_path)
    assert again.core.manifest(1, True) == [Segment(1, 10, False), Segment(11, 12, True)]
    assert again.read(Segment(1, 10, False), 1, 10, 1 << 20)[0] == 10


def test_damaged_frames_are_refused_and_a_crashed_copy_is_cleaned(tmp_path):
    s = reopen(tmp_path)
    damaged = bytearray(batch(1, 4))
    damaged[-3] ^= 0xFF
    with pytest.raises(MinidfsError):
        s.install_finalized(Segment(1, 4, False), bytes(damaged))
    assert s.core.manifest(1, True) == []
    leftover = s.dir / "edits_0000000000000000001-0000000000000000004.log.recovering"
    leftover.write_bytes(b"half a copy")
    s.close()
    assert reopen(tmp_path).core.manifest(1, True) == []
    assert not leftover.exists()
