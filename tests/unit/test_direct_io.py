"""O_DIRECT replica I/O (datanode/direct_io.py): the bytes on disk are exactly the
bytes written, whatever mix of direct (aligned) and buffered (unaligned) writes and
rewrites of a short last chunk produced them, and reads agree with buffered reads.
The tests run on the test machine's file system; where it refuses O_DIRECT the
DirectFile / DirectReader constructors return None and the fallback is tested."""
import os

import pytest

from minidfs.checksum import checksum_chunks
from minidfs.datanode.direct_io import ALIGN_BYTES, DirectFile, DirectReader
from minidfs.datanode.storage import Storage

CHUNK = 64 * 1024
BLOCK = 8 * 1024 * 1024


def _storage(path, direct_io=True):
    s = Storage(path, block_size_bytes=BLOCK, direct_io=direct_io)
    s.open()
    return s


def _direct_supported(tmp_path) -> bool:
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    f = DirectFile.open(probe)
    if f is None:
        return False
    f.close()
    return True


def test_direct_file_writes_aligned_head_and_leaves_the_tail(tmp_path):
    if not _direct_supported(tmp_path):
        pytest.skip("file system without O_DIRECT")
    path = tmp_path / "blk"
    path.write_bytes(b"")
    data = os.urandom(3 * ALIGN_BYTES + 100)
    f = DirectFile.open(path)
    try:
        done = f.write(memoryview(data), 0)
        assert done == 3 * ALIGN_BYTES               # the unaligned 100 bytes are the caller's
        assert f.write(memoryview(data), 10) == 0    # an unaligned offset: nothing direct
    finally:
        f.close()
    assert path.read_bytes() == data[:done]


def test_direct_reader_matches_buffered_and_refuses_unaligned_offsets(tmp_path):
    path = tmp_path / "blk"
    data = os.urandom(5 * ALIGN_BYTES + 123)
    path.write_bytes(data)
    reader = DirectReader.open(path)
    if reader is None:
        pytest.skip("file system without O_DIRECT")
    try:
        assert reader.read(len(data), 0) == data
        assert reader.read(ALIGN_BYTES + 7, ALIGN_BYTES) == data[ALIGN_BYTES:2 * ALIGN_BYTES + 7]
        assert reader.read(10, 3) is None
        assert reader.read(4 * ALIGN_BYTES, 4 * ALIGN_BYTES) == data[4 * ALIGN_BYTES:]  # short at EOF
    finally:
        reader.close()


@pytest.mark.parametrize("direct_io", [True, False])
def test_replica_with_short_chunk_rewrites_reads_back_exactly(tmp_path, direct_io):
    """hflush / append: the short last chunk is written, then written again longer
    from its chunk boundary; direct and buffered writes mix on one file."""
    storage = _storage(tmp_path / "data", direct_io)
    data = os.urandom(3 * CHUNK + 5000)
    writer = storage.create(7, 1, CHUNK)
    writer.write(0, data[:CHUNK + 100], checksum_chunks(data[:CHUNK + 100], CHUNK))
    # The short chunk [CHUNK, CHUNK+100) again, longer: from its boundary.
    again = data[CHUNK:2 * CHUNK + 300]
    writer.write(CHUNK, again, checksum_chunks(again, CHUNK))
    rest = data[2 * CHUNK:]
    writer.write(2 * CHUNK, rest, checksum_chunks(rest, CHUNK))
    replica = writer.finalize()
    assert replica.length == len(data)
    assert replica.block_path.read_bytes() == data
    reader = storage.open_reader(7, 1)
    try:
        got, sums = reader.read(0, reader.length)
        assert got == data
        assert sums == checksum_chunks(data, CHUNK)
        got, _ = reader.read(CHUNK, CHUNK + 10)
        assert got == data[CHUNK:2 * CHUNK + 10]
    finally:
        reader.close()


def test_small_chunks_at_unaligned_offsets_fall_back_to_buffered(tmp_path):
    """A chunk size below the alignment puts requests at unaligned offsets."""
    storage = _storage(tmp_path / "data")
    chunk = 512
    data = os.urandom(20 * chunk + 17)
    writer = storage.create(9, 1, chunk)
    for offset in range(0, len(data), 3 * chunk):
        piece = data[offset:offset + 3 * chunk]
        writer.write(offset, piece, checksum_chunks(piece, chunk))
    replica = writer.finalize()
    assert replica.block_path.read_bytes() == data
    reader = storage.open_reader(9, 1)
    try:
        for offset in (0, 3 * chunk, 8 * chunk):
            got, _ = reader.read(offset, 5 * chunk)
            assert got == data[offset:offset + 5 * chunk]
    finally:
        reader.close()
