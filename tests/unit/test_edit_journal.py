"""The file journal: group commit, segments, torn-tail recovery, gaps, purge."""
from __future__ import annotations

import asyncio
import os
import pathlib

import pytest

from minidfs.errors import EditLogCorrupt
from minidfs.namenode import edits
from minidfs.namenode.editlog_format import encode
from minidfs.namenode.file_journal import FileJournal, finalized_name, inprogress_name


def frame(txid: int) -> bytes:
    record = edits.mkdirs(f"/d{txid}", txid)
    record["txid"] = txid
    return encode(record)


def txids(journal: FileJournal, start: int = 1) -> list[int]:
    return [txid for txid, _ in journal.read_edits(start)]


async def write(directory: pathlib.Path, first: int, count: int, close: bool = True) -> FileJournal:
    journal = FileJournal(directory)
    await journal.open(journal.recover())
    assert journal.last_txid == first - 1
    for txid in range(first, first + count):
        journal.append(txid, frame(txid))
    await journal.sync(first + count - 1)
    if close:
        await journal.close()
    return journal


async def test_group_commit_needs_far_fewer_fsyncs(tmp_path: pathlib.Path) -> None:
    journal = FileJournal(tmp_path)
    await journal.open(journal.recover())
    released = []
    # 200 concurrent clients; txids are handed out in order from one iterator, as
    # the namesystem does (append happens before any await).
    counter = iter(range(1, 201))

    async def client() -> None:
        for txid in counter:
            journal.append(txid, frame(txid))
            await journal.sync(txid)
            assert journal.synced_txid >= txid
            released.append(txid)

    await asyncio.gather(*(client() for _ in range(200)))
    assert sorted(released) == list(range(1, 201))
    assert journal.fsync_count <= 10, journal.fsync_count
    await journal.close()
    reopened = FileJournal(tmp_path)
    assert reopened.recover() == 200
    assert txids(reopened) == list(range(1, 201))


async def test_edits_arriving_during_an_fsync_share_the_next_one(tmp_path: pathlib.Path) -> None:
    journal = FileJournal(tmp_path)
    await journal.open(0)
    counter = iter(range(1, 401))

    async def client() -> None:   # 20 clients, each issuing its next edit once acked
        for txid in counter:
            journal.append(txid, frame(txid))
            await journal.sync(txid)

    await asyncio.gather(*(client() for _ in range(20)))
    assert journal.synced_txid == 400
    assert journal.fsync_count <= 400 // 10, journal.fsync_count
    await journal.close()


async def test_append_refuses_gaps(tmp_path: pathlib.Path) -> None:
    journal = FileJournal(tmp_path)
    await journal.open(0)
    with pytest.raises(ValueError):
        journal.append(2, frame(2))
    await journal.close()


async def test_segments_roll_and_restart(tmp_path: pathlib.Path) -> None:
    journal = await write(tmp_path, 1, 5, close=False)
    await journal.roll()
    for txid in range(6, 9):
        journal.append(txid, frame(txid))
    await journal.sync(8)
    # crash: no close. The in-progress segment is finalized at the next open.
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [finalized_name(1, 5), inprogress_name(6)]
    reopened = FileJournal(tmp_path)
    assert reopened.recover() == 8
    assert txids(reopened, 4) == [4, 5, 6, 7, 8]
    await reopened.open(8)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        finalized_name(1, 5), finalized_name(6, 8), inprogress_name(9)]
    reopened.purge(5)
    assert txids(reopened, 6) == [6, 7, 8]
    with pytest.raises(EditLogCorrupt, match="missing"):
        list(reopened.read_edits(1))
    await reopened.close()


async def test_torn_tail_is_cut_on_recover(tmp_path: pathlib.Path) -> None:
    journal = await write(tmp_path, 1, 3, close=False)
    path = tmp_path / inprogress_name(1)
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(frame(4)[:7])
    reopened = FileJournal(tmp_path)
    assert reopened.recover() == 3
    assert path.stat().st_size == size
    assert txids(reopened) == [1, 2, 3]
    del journal


async def test_corruption_in_the_middle_refuses(tmp_path: pathlib.Path) -> None:
    await write(tmp_path, 1, 10, close=False)
    path = tmp_path / inprogress_name(1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(EditLogCorrupt, match=str(path)):
        FileJournal(tmp_path).recover()


async def test_txid_gap_inside_a_segment_is_corruption(tmp_path: pathlib.Path) -> None:
    path = tmp_path / inprogress_name(1)
    path.write_bytes(frame(1) + frame(2) + frame(4))
    with pytest.raises(EditLogCorrupt, match="txid 4 at offset"):
        FileJournal(tmp_path).recover()


async def test_gap_between_segments_is_corruption(tmp_path: pathlib.Path) -> None:
    (tmp_path / finalized_name(1, 2)).write_bytes(frame(1) + frame(2))
    (tmp_path / finalized_name(4, 4)).write_bytes(frame(4))
    with pytest.raises(EditLogCorrupt, match="expected 3"):
        FileJournal(tmp_path).recover()


async def test_failed_write_poisons_the_journal(tmp_path: pathlib.Path) -> None:
    from minidfs.namenode.journal import JournalError
    journal = FileJournal(tmp_path)
    await journal.open(0)
    journal.append(1, frame(1))
    os.close(journal._fd)   # simulate a dead disk: the write fails
    with pytest.raises(JournalError):
        await journal.sync(1)
    with pytest.raises(JournalError):
        journal.append(2, frame(2))
    journal._fd = None
