import errno
import os

import pytest

from minidfs import errors
from minidfs.checksum import checksum_chunks
from minidfs.datanode import meta_format
from minidfs.datanode.storage import CORRUPT, FINALIZED, RBW, Storage

CHUNK = 1024
BLOCK = 64 * 1024


def _storage(path, **kw):
    s = Storage(path, block_size_bytes=BLOCK, **kw)
    s.open()
    return s


def _write(storage, block_id, data, genstamp=1, finalize=True):
    writer = storage.create(block_id, genstamp, CHUNK)
    step = 4 * CHUNK
    for offset in range(0, len(data), step):
        piece = data[offset:offset + step]
        writer.write(offset, piece, checksums_of(piece))
    if finalize:
        return writer.finalize()
    writer.close()
    return writer.replica


def checksums_of(piece):
    return checksum_chunks(piece, CHUNK)


def _read_all(storage, block_id, genstamp=1):
    reader = storage.open_reader(block_id, genstamp)
    try:
        data, sums = reader.read(0, reader.length)
        assert sums == checksums_of(data)
        return data
    finally:
        reader.close()


def test_rbw_then_finalized_then_restart(tmp_path):
    storage = _storage(tmp_path)
    data = os.urandom(10 * CHUNK + 3)
    replica = _write(storage, 300, data)
    assert replica.state == FINALIZED
    assert replica.block_path == tmp_path / "current" / "finalized" / f"{300 % 256:02x}" / "blk_300"
    assert not list((tmp_path / "current" / "rbw").iterdir())
    partial = _write(storage, 301, os.urandom(8 * CHUNK), genstamp=4, finalize=False)
    assert partial.state == RBW and partial.length == 8 * CHUNK
    used = storage.used_bytes
    storage.close()

    again = _storage(tmp_path)
    assert {r.block_id: (r.state, r.length, r.genstamp) for r in again.replicas()} == {
        300: (FINALIZED, len(data), 1), 301: (RBW, 8 * CHUNK, 4)}
    assert again.used_bytes == used
    assert _read_all(again, 300) == data
    again.close()


def test_second_process_cannot_take_the_folder(tmp_path):
    storage = _storage(tmp_path)
    with pytest.raises(errors.ConfigError, match="in use"):
        _storage(tmp_path)
    storage.close()


@pytest.mark.parametrize("bad", [-1, 0, 2**63, "../../etc", "5", 1.0, True, None])
def test_bad_block_ids_are_refused(tmp_path, bad):
    storage = _storage(tmp_path)
    with pytest.raises(errors.InvalidArgument):
        storage.create(bad, 1, CHUNK)
    with pytest.raises(errors.InvalidArgument):
        storage.get(bad)
    with pytest.raises(errors.InvalidArgument):
        storage.delete(bad, 1)
    assert not list((tmp_path / "current" / "rbw").iterdir())
    storage.close()


def _finalized_meta(tmp_path, block_id, genstamp=1):
    return tmp_path / "current" / "finalized" / f"{block_id % 256:02x}" / f"blk_{block_id}_{genstamp}.meta"


@pytest.mark.parametrize("damage", ["missing", "truncated", "header", "short"])
def test_block_without_a_valid_meta_is_corrupt(tmp_path, damage):
    storage = _storage(tmp_path)
    _write(storage, 42, os.urandom(5 * CHUNK))
    storage.close()
    meta = _finalized_meta(tmp_path, 42)
    raw = meta.read_bytes()
    if damage == "missing":
        meta.unlink()
    elif damage == "truncated":
        meta.write_bytes(raw[:10])
    elif damage == "header":
        meta.write_bytes(b"garbage!" + raw[8:])
    else:
        meta.write_bytes(raw[:-8])
    again = _storage(tmp_path)
    replica = again.get(42)
    assert replica.state == CORRUPT and replica.reason
    with pytest.raises(errors.ChecksumError, match="corrupt"):
        again.open_reader(42, 1)
    again.close()


def test_interrupted_finalize_is_completed_at_start(tmp_path):
    storage = _storage(tmp_path)
    data = os.urandom(3 * CHUNK)
    _write(storage, 77, data, finalize=False)
    storage.close()
    # A crash between the meta rename and the block rename.
    sub = tmp_path / "current" / "finalized" / f"{77:02x}"
    sub.mkdir()
    os.rename(tmp_path / "current" / "rbw" / "blk_77_1.meta", sub / "blk_77_1.meta")
    again = _storage(tmp_path)
    assert again.get(77).state == FINALIZED
    assert _read_all(again, 77) == data
    again.close()


def test_existing_replica_and_capacity(tmp_path):
    storage = _storage(tmp_path, capacity_bytes=BLOCK + 20)
    _write(storage, 5, b"x" * 10)
    with pytest.raises(errors.FileExists):
        storage.create(5, 1, CHUNK)
    with pytest.raises(errors.DiskFull, match="disk full"):
        storage.create(6, 1, CHUNK)   # less than one block left
    assert storage.delete(5, 1) is not None
    assert storage.get(5) is None and storage.used_bytes == 0
    writer = storage.create(6, 1, CHUNK)
    with pytest.raises(OSError) as e:
        for offset in range(0, 2 * BLOCK, CHUNK):
            writer.write(offset, b"y" * CHUNK, checksums_of(b"y" * CHUNK))
    assert e.value.errno == errno.ENOSPC
    writer.abort()
    assert storage.get(6) is None and storage.used_bytes == 0
    assert not list((tmp_path / "current").rglob("blk_6*"))
    storage.close()


def test_genstamps(tmp_path):
    storage = _storage(tmp_path)
    _write(storage, 9, b"abc", genstamp=3)
    with pytest.raises(errors.ReplicaNotFound, match="older"):
        storage.open_reader(9, 4)
    assert storage.delete(9, 2) is None       # DELETE of an older genstamp keeps a newer replica
    assert storage.delete(9, 3).block_id == 9
    storage.close()


def test_meta_format_on_disk(tmp_path):
    storage = _storage(tmp_path)
    data = os.urandom(2 * CHUNK + 1)
    _write(storage, 11, data)
    meta = meta_format.decode_finalized(_finalized_meta(tmp_path, 11).read_bytes(), len(data))
    assert meta.chunk_size == CHUNK and meta.checksums == checksums_of(data)
    storage.close()
