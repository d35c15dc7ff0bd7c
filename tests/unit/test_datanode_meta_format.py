import pytest

from minidfs.datanode import meta_format as mf


def _meta(checksums, chunk=65536):
    return mf.encode_header(chunk) + mf.encode_checksums(checksums)


def test_round_trip():
    meta = mf.decode(_meta([1, 2**64 - 1, 0]))
    assert meta.chunk_size == 65536 and meta.checksums == [1, 2**64 - 1, 0]
    assert mf.decode_finalized(_meta([7, 8]), 65537).checksums == [7, 8]
    assert mf.decode_finalized(_meta([]), 0).checksums == []
    assert mf.checksum_offset(2) == mf.HEADER_BYTES + 16


@pytest.mark.parametrize("garbage", [
    b"",
    b"MDFSMETA",                                           # header cut short
    b"XXXXXXXX" + _meta([1])[8:],                          # wrong magic
    _meta([1])[:8] + b"\x02\x00" + _meta([1])[10:],        # unknown version
    mf.HEADER.pack(mf.MAGIC, 1, 0, 0),                     # chunk size 0
    _meta([1, 2])[:-3],                                    # torn checksum
])
def test_garbled_meta_is_corrupt(garbage):
    with pytest.raises(mf.MetaCorrupt):
        mf.decode(garbage)


def test_finalized_needs_one_checksum_per_chunk():
    with pytest.raises(mf.MetaCorrupt, match="expected 2"):
        mf.decode_finalized(_meta([1]), 65537)
    with pytest.raises(mf.MetaCorrupt):
        mf.decode_finalized(_meta([1, 2, 3]), 65537)


def test_rbw_length_is_what_the_meta_covers():
    assert mf.rbw_length(_meta([1, 2], 512), 5000)[1] == 1024
    assert mf.rbw_length(_meta([1, 2], 512), 700)[1] == 700
