"""LineRecordReader: every line read exactly once, whatever the split size."""
import io
import itertools

import pytest

from mapreduce.linereader import LineRecordReader
from mapreduce.splits import BlockInfo, block_splits, fixed_splits


def expected_lines(data: bytes) -> list[tuple[int, str]]:
    """The sequential reference: split the whole file on newlines."""
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        text = data[pos:end].removesuffix(b"\n").removesuffix(b"\r")
        out.append((pos, text.decode("utf-8", "replace")))
        pos = end
    return out


def read_all(data: bytes, split_size: int, chunk: int = 1024 * 1024, tail: int = 4096):
    got, owned_bytes = [], 0
    for split in fixed_splits("f", len(data), split_size):
        reader = LineRecordReader(io.BytesIO(data), split.start, split.length, chunk, tail)
        got.extend(reader)
        owned_bytes += reader.bytes_read
    assert owned_bytes == len(data)  # every byte is counted by exactly one split
    return got


SAMPLES = [
    b"", b"\n", b"\n\n\n", b"a", b"a\n", b"ab\ncd", b"ab\ncd\n", b"\nab\n\ncd\n\n",
    b"x" * 50 + b"\n" + b"y\n" + b"z" * 37, b"one\r\ntwo\r\n\r\nthree",
    "héllo wörld\nnaïve\n".encode(), b"a\nbb\nccc\ndddd\neeeee\nffffff\n" * 3,
]


@pytest.mark.parametrize("data", SAMPLES)
def test_every_split_size_reads_each_line_once(data: bytes) -> None:
    want = expected_lines(data)
    for split_size in range(1, len(data) + 2):
        for chunk, tail in ((1024, 1024), (1, 1), (3, 2)):
            assert read_all(data, split_size, chunk, tail) == want, (split_size, chunk)


def test_exhaustive_small_inputs() -> None:
    """All strings over {a, \\n} up to length 9, all split sizes."""
    for n in range(0, 10):
        for combo in itertools.product(b"a\n", repeat=n):
            data = bytes(combo)
            want = expected_lines(data)
            for split_size in range(1, n + 2):
                assert read_all(data, split_size, chunk=2, tail=1) == want, (data, split_size)


def test_line_longer_than_many_splits() -> None:
    data = b"short\n" + b"L" * 1000 + b"\nend\n"
    assert read_all(data, 7) == [(0, "short"), (6, "L" * 1000), (1007, "end")]
    # The long line belongs to the split it starts in; the splits it covers are empty.
    per_split = [list(LineRecordReader(io.BytesIO(data), s.start, s.length))
                 for s in fixed_splits("f", len(data), 100)]
    assert per_split[0][-1][1] == "L" * 1000
    assert all(lines == [] for lines in per_split[1:10])


def test_crlf_and_invalid_utf8() -> None:
    data = b"a\r\nb\xff\n"
    assert read_all(data, 2) == [(0, "a"), (3, "b\ufffd")]


def test_block_splits_follow_blocks() -> None:
    blocks = [BlockInfo(10, ("dn1", "dn2")), BlockInfo(10, ("dn2",)), BlockInfo(3, ("dn3",)),
              BlockInfo(0, ())]
    splits = block_splits("/f", blocks)
    assert [(s.start, s.length, s.locations) for s in splits] == [
        (0, 10, ("dn1", "dn2")), (10, 10, ("dn2",)), (20, 3, ("dn3",))]


def test_progress_and_bytes_read() -> None:
    data = b"abc\ndef\nghi\n"
    reader = LineRecordReader(io.BytesIO(data), 4, 4)
    assert list(reader) == [(4, "def")]
    assert reader.bytes_read == 4 and reader.progress() == 1.0


def read_all_bytes(data: bytes, split_size: int, chunk: int, tail: int):
    got = []
    for split in fixed_splits("f", len(data), split_size):
        got.extend(LineRecordReader(io.BytesIO(data), split.start, split.length, chunk, tail,
                                    as_bytes=True))
    return got


@pytest.mark.parametrize("data", SAMPLES + [b"a\r\nb\xff\xfe\n\xc3\n\r\r\n"])
def test_as_bytes_gives_the_same_lines_undecoded(data: bytes) -> None:
    """A Job's input_bytes: the same offsets and cuts as the text lines, the bytes as
    they are (invalid UTF-8 kept, one trailing CR removed)."""
    want = []
    for offset, _ in expected_lines(data):
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end
        want.append((offset, data[offset:end].removesuffix(b"\r")))
    for split_size in range(1, len(data) + 2):
        for chunk, tail in ((1024, 1024), (1, 1), (3, 2)):
            got = read_all_bytes(data, split_size, chunk, tail)
            assert got == want, (split_size, chunk)
            assert all(type(line) is bytes for _, line in got)


def test_as_bytes_batches_are_lists_of_bytes() -> None:
    data = "é1\r\nx\n".encode() * 3000
    reader = LineRecordReader(io.BytesIO(data), 0, len(data), as_bytes=True)
    batches = list(reader.line_batches(1000))
    assert [len(lines) for _, lines in batches] == [1000] * 6
    assert batches[0][0][:3] == [0, 5, 7] and batches[0][1][:3] == ["é1".encode(), b"x", "é1".encode()]
    assert reader.records == 6000
