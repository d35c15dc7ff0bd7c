import os

import xxhash

from minidfs.checksum import CHUNK_SIZE_BYTES, checksum_chunks, chunk_count, first_bad_chunk


def test_chunk_count():
    assert [chunk_count(n, 4) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]


def test_checksum_chunks_are_xxh3_of_each_slice():
    data = os.urandom(2 * CHUNK_SIZE_BYTES + 10)
    sums = checksum_chunks(data)
    assert sums == [xxhash.xxh3_64_intdigest(data[i:i + CHUNK_SIZE_BYTES])
                    for i in range(0, len(data), CHUNK_SIZE_BYTES)]
    assert checksum_chunks(b"") == []
    assert checksum_chunks(memoryview(data)[:5], 4) == checksum_chunks(data[:5], 4)


def test_first_bad_chunk():
    data = bytearray(os.urandom(10 * 16))
    sums = checksum_chunks(data, 16)
    assert first_bad_chunk(data, sums, 16) is None
    data[3 * 16 + 1] ^= 1
    data[7 * 16] ^= 1
    assert first_bad_chunk(data, sums, 16) == 3


def test_first_bad_chunk_counts_missing_or_extra_checksums():
    data = os.urandom(40)
    sums = checksum_chunks(data, 16)
    assert first_bad_chunk(data, sums[:2], 16) == 2
    assert first_bad_chunk(data, sums + [1], 16) == 3
    assert first_bad_chunk(b"", [], 16) is None
    assert first_bad_chunk(b"", [5], 16) == 0
