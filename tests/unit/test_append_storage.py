"""A DataNode's disk under append and hflush (no processes): the short last chunk
rewritten longer with its new checksum, reads of a replica being written (visible
length, the short chunk's checksum), cuts inside a chunk, lease recovery's
finalize_recovery, and the hflushed / appended replacement policy."""
from __future__ import annotations

import pytest

from minidfs import errors
from minidfs.checksum import checksum_chunks, first_bad_chunk
from minidfs.client.pipeline_recovery import should_replace
from minidfs.datanode import meta_format
from minidfs.datanode.storage import FINALIZED, RBW, Storage

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


def read_verified(storage, block_id: int, genstamp: int) -> bytes:
    reader = storage.open_reader(block_id, genstamp)
    try:
        data, sums = reader.read(0, reader.length)
    finally:
        reader.close()
    assert first_bad_chunk(data, sums, CHUNK) is None
    return data


def meta_checksums(replica) -> list[int]:
    return meta_format.decode(replica.meta_path.read_bytes()).checksums


def test_short_last_chunk_is_rewritten_longer(storage):
    data = data_of(3 * CHUNK + 500)
    writer = storage.create(1, 1, CHUNK)
    writer.write(0, data[:CHUNK + 100], checksum_chunks(data[:CHUNK + 100], CHUNK))
    # hflush sent 100 bytes of chunk 1; the next request resends them, longer.
    writer.write(CHUNK, data[CHUNK:], checksum_chunks(data[CHUNK:], CHUNK))
    assert writer.bytes_written == len(data)
    replica = writer.finalize()
    assert meta_checksums(replica) == checksum_chunks(data, CHUNK)
    assert read_verified(storage, 1, 1) == data
    assert storage.used_bytes == len(data) + meta_format.checksum_offset(4)


def test_a_rewrite_may_not_shrink_or_skip(storage):
    data = data_of(CHUNK + 100)
    writer = storage.create(2, 1, CHUNK)
    writer.write(0, data, checksum_chunks(data, CHUNK))
    with pytest.raises(errors.InvalidArgument):        # shorter than what is there
        writer.write(CHUNK, data[CHUNK:CHUNK + 50], checksum_chunks(data[CHUNK:CHUNK + 50], CHUNK))
    with pytest.raises(errors.InvalidArgument):        # not the chunk boundary below
        writer.write(0, data, checksum_chunks(data, CHUNK))
    writer.write(CHUNK, data[CHUNK:], checksum_chunks(data[CHUNK:], CHUNK))   # the same again: fine
    writer.close()


def test_reading_a_replica_being_written_stops_at_its_visible_length(storage):
    data = data_of(2 * CHUNK + 300)
    writer = storage.create(3, 1, CHUNK)
    writer.write(0, data, checksum_chunks(data, CHUNK))
    writer.visible_length = CHUNK + 10          # what the pipeline acknowledged
    replica = storage.get(3)
    assert storage.visible_length(replica) == CHUNK + 10
    # The short chunk read back gets a checksum of what was read, not the stored one
    # (which covers the whole chunk).
    assert read_verified(storage, 3, 1) == data[:CHUNK + 10]
    writer.close()


def test_recover_cuts_inside_a_chunk_and_resumes(storage):
    data = data_of(2 * CHUNK + 700)
    writer = storage.create(4, 1, CHUNK)
    writer.write(0, data, checksum_chunks(data, CHUNK))
    writer.close()
    cut = CHUNK + 33
    resumed = storage.recover(4, 2, cut, CHUNK)
    assert meta_checksums(storage.get(4)) == checksum_chunks(data[:cut], CHUNK)
    more = data_of(900, 5)
    tail = data[CHUNK:cut] + more
    resumed.write(CHUNK, tail, checksum_chunks(tail, CHUNK))
    resumed.finalize()
    assert read_verified(storage, 4, 2) == data[:cut] + more


def test_append_reopens_a_finalized_replica(storage):
    data = data_of(CHUNK + 10)
    writer = storage.create(5, 1, CHUNK)
    writer.write(0, data, checksum_chunks(data, CHUNK))
    writer.finalize()
    reopened = storage.recover(5, 2, len(data), CHUNK)       # stage RECOVERY at its length
    assert storage.get(5).state == RBW and storage.get(5).genstamp == 2
    tail = data[CHUNK:] + b"appended"
    reopened.write(CHUNK, tail, checksum_chunks(tail, CHUNK))
    reopened.finalize()
    assert read_verified(storage, 5, 2) == data + b"appended"


def test_finalize_recovery_agrees_on_a_length_and_is_idempotent(storage):
    data = data_of(3 * CHUNK + 5)
    writer = storage.create(6, 4, CHUNK)
    writer.write(0, data, checksum_chunks(data, CHUNK))
    writer.close()                                  # the writer died: rbw, no finalize
    replica = storage.finalize_recovery(6, 4, 5, 2 * CHUNK + 77)
    assert (replica.state, replica.genstamp, replica.length) == (FINALIZED, 5, 2 * CHUNK + 77)
    assert read_verified(storage, 6, 5) == data[:2 * CHUNK + 77]
    assert storage.finalize_recovery(6, 4, 5, 2 * CHUNK + 77) is replica     # a retried command
    with pytest.raises(errors.ReplicaNotFound):
        storage.finalize_recovery(7, 1, 2, 0)
    with pytest.raises(errors.PreconditionFailed):       # more than the replica holds
        storage.finalize_recovery(6, 5, 6, 3 * CHUNK + 6)


def test_an_hflushed_or_appended_block_replaces_any_lost_node():
    assert not should_replace(3, 2)
    assert should_replace(3, 2, flushed=True)
    assert not should_replace(3, 3, flushed=True)
    assert not should_replace(2, 1, flushed=True)      # below 3 replicas: never


def test_a_crash_while_rewriting_the_short_chunk_is_repaired_by_recovery(tmp_path, storage):
    import os

    data = data_of(2 * CHUNK)
    writer = storage.create(8, 1, CHUNK)
    writer.write(0, data[:CHUNK + 100], checksum_chunks(data[:CHUNK + 100], CHUNK))
    path = writer.replica.block_path
    writer.close()
    # The rewrite reached the block file, not the meta: the DataNode died in between.
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, data[CHUNK:], CHUNK)
    os.close(fd)
    storage.close()
    again = Storage(tmp_path / "dn", block_size_bytes=BLOCK)
    again.open()
    try:
        replica = again.get(8)
        assert (replica.state, replica.length) == (RBW, 2 * CHUNK)
        again.finalize_recovery(8, 1, 2, replica.length)
        assert read_verified(again, 8, 2) == data
    finally:
        again.close()


def test_framing_lets_a_request_rewrite_the_short_last_chunk():
    import os

    from minidfs.datanode.write_pipeline import check_request, parse_header
    from minidfs.rpc import common_pb2 as common
    from minidfs.rpc import datatransfer_pb2 as pb

    chunk = 65536
    header = parse_header(pb.WriteBlockRequest(header=pb.WriteHeader(
        block=common.Block(id=1, genstamp=1), chunk_size=chunk), seqno=0))

    def request(offset, size):
        data = os.urandom(size)
        return pb.WriteBlockRequest(seqno=9, offset=offset, data=data,
                                    checksums=checksum_chunks(data, chunk))

    received = chunk + 100                      # an hflush left a 100-byte chunk
    for ok in (request(chunk, 100), request(chunk, 5000), request(received, 0)):
        check_request(ok, header, received, 8, len(ok.data))
    for bad in (request(chunk, 50), request(0, 70000), request(received, 10)):
        with pytest.raises(errors.InvalidArgument):
            check_request(bad, header, received, 8, len(bad.data))
