"""Pipeline recovery on a DataNode's disk (Storage.recover) and the client's
replace-datanode-on-failure policy. No processes."""
from __future__ import annotations

import pytest

from minidfs import errors
from minidfs.checksum import checksum_chunks
from minidfs.client.pipeline_recovery import should_replace
from minidfs.datanode import meta_format
from minidfs.datanode.storage import CORRUPT, FINALIZED, RBW, Storage

CHUNK = 1024
BLOCK = 64 * 1024


@pytest.fixture
def storage(tmp_path):
    s = Storage(tmp_path / "dn", block_size_bytes=BLOCK)
    s.open()
    yield s
    s.close()


def data_of(size: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


def write(storage, block_id: int, data: bytes, genstamp: int = 1, finalize: bool = False):
    writer = storage.create(block_id, genstamp, CHUNK)
    writer.write(0, data, checksum_chunks(data, CHUNK))
    if finalize:
        return writer, writer.finalize()
    return writer, writer.replica


def read_all(storage, block_id: int, genstamp: int) -> bytes:
    reader = storage.open_reader(block_id, genstamp)
    try:
        data, sums = reader.read(0, reader.length)
        assert sums == checksum_chunks(data, CHUNK)
        return data
    finally:
        reader.close()


@pytest.mark.parametrize("finalize", [False, True])
def test_recover_cuts_renames_and_resumes(storage, finalize):
    old = data_of(5 * CHUNK + 100)
    running, _ = write(storage, 7, old, genstamp=3, finalize=finalize)
    writer = storage.recover(7, 4, 2 * CHUNK, CHUNK)
    replica = storage.get(7)
    assert (replica.genstamp, replica.length, replica.state) == (4, 2 * CHUNK, RBW)
    assert replica.meta_path.name == "blk_7_4.meta" and replica.block_path.parent == storage.volumes[0].rbw_dir
    assert not list(storage.volumes[0].finalized_dir.rglob("blk_7*")) and not (storage.volumes[0].rbw_dir / "blk_7_3.meta").exists()
    more = data_of(CHUNK + 5, seed=1)
    writer.write(2 * CHUNK, more, checksum_chunks(more, CHUNK))
    done = writer.finalize()
    assert done.state == FINALIZED and done.genstamp == 4
    assert read_all(storage, 7, 4) == old[:2 * CHUNK] + more
    meta_format.decode_finalized(done.meta_path.read_bytes(), done.length)
    # The broken pipeline's writer was stopped and can no longer touch the replica.
    if not finalize:
        with pytest.raises(OSError):
            running.write(5 * CHUNK + 100, b"x", checksum_chunks(b"x", CHUNK))
    assert storage.get(7) is done
    assert storage.used_bytes == done.block_path.stat().st_size + done.meta_path.stat().st_size


def test_recover_survives_a_restart(tmp_path, storage):
    write(storage, 8, data_of(3 * CHUNK), genstamp=1)
    writer = storage.recover(8, 2, CHUNK, CHUNK)
    writer.close()
    storage.close()
    again = Storage(tmp_path / "dn", block_size_bytes=BLOCK)
    again.open()
    replica = again.get(8)
    assert (replica.genstamp, replica.length, replica.state) == (2, CHUNK, RBW)
    again.close()


def test_recover_refuses_what_cannot_continue_the_block(storage):
    write(storage, 9, data_of(2 * CHUNK), genstamp=5)
    with pytest.raises(errors.PreconditionFailed, match="fewer than"):
        storage.recover(9, 6, 3 * CHUNK, CHUNK)
    with pytest.raises(errors.PreconditionFailed, match="not older"):
        storage.recover(9, 5, CHUNK, CHUNK)
    with pytest.raises(errors.PreconditionFailed, match="chunk size"):
        storage.recover(9, 6, CHUNK, 2 * CHUNK)
    # (A cut inside a chunk is fine since hflush / append: test_append_storage.py.)
    with pytest.raises(errors.ReplicaNotFound):
        storage.recover(10, 2, CHUNK, CHUNK)
    _, replica = write(storage, 11, data_of(CHUNK), finalize=True)
    storage.mark_corrupt(11, "test")
    assert storage.get(11).state == CORRUPT
    with pytest.raises(errors.ReplicaNotFound):
        storage.recover(11, 2, 0, CHUNK)
    # Nothing acked yet and nothing here: a new replica, as for a new pipeline.
    writer = storage.recover(12, 3, 0, CHUNK)
    assert storage.get(12).genstamp == 3 and writer.bytes_written == 0
    writer.close()


def test_replace_datanode_on_failure_policy():
    # HDFS's DEFAULT: replication >= 3 and at most half of it left.
    assert should_replace(3, 1) and not should_replace(3, 2)
    assert should_replace(5, 2) and not should_replace(5, 3)
    assert not should_replace(2, 1) and not should_replace(1, 0)
