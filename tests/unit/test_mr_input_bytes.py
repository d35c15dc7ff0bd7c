"""Job.input_bytes through the inline runner: the mapper and mapper_batch get the lines
as bytes (offsets, cuts and CRLF handling as for text), and the refusals."""
import os

import pytest

from mapreduce import Job
from mapreduce.steps import Step
from minidfs.errors import InvalidArgument

DATA = b"w1 w2\r\nw\xff w1\n\xc3\xa9 w2\n" * 500


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def output(result):
    return sorted(line.rstrip("\n") for p in result.output_paths
                  for line in open(p, encoding="utf-8"))


class BytesCount(Job):
    input_bytes = True
    combiner = Job.sum_values

    def mapper(self, offset, line):
        assert type(line) is bytes
        for word in line.split():
            yield word.hex(), 1

    def reducer(self, word, counts):
        yield word, sum(counts)


class BytesBatchCount(BytesCount):
    mapper = Job.mapper

    def mapper_batch(self, offsets, lines):
        assert all(type(line) is bytes for line in lines)
        for word in b" ".join(lines).split():
            yield word.hex(), 1


class FirstBytes(Job):
    """Map-only: where each line starts and its raw bytes."""
    input_bytes = True

    def mapper(self, offset, line):
        yield offset, line.hex()


@pytest.mark.parametrize("job", [BytesCount(), BytesBatchCount()])
@pytest.mark.parametrize("split_size", ["1MiB", "333", "17"])
def test_mappers_count_the_raw_words(tmp_path, job, split_size):
    write(tmp_path / "in" / "a.txt", DATA)
    result = job.run(input=str(tmp_path / "in"), output=str(tmp_path / "o"), reducers=2,
                     runner="inline", split_size=split_size)
    want = {b"w1": 1000, b"w2": 1000, b"w\xff": 500, "é".encode(): 500}
    assert output(result) == sorted(f"{w.hex()}\t{n}" for w, n in want.items())


def test_lines_keep_their_offsets_and_lose_one_cr(tmp_path):
    write(tmp_path / "in" / "a.txt", b"ab\r\n\xff\r\r\nlast")
    result = FirstBytes().run(input=str(tmp_path / "in"), output=str(tmp_path / "o"),
                              reducers=0, runner="inline")
    assert output(result) == ["0\t6162", "4\tff0d", "8\t6c617374"]


def test_input_bytes_must_be_a_bool_and_not_with_steps(tmp_path):
    write(tmp_path / "in" / "a.txt", b"a\n")

    class NotBool(BytesCount):
        input_bytes = "yes"

    class WithSteps(BytesCount):
        def steps(self):
            return [Step(mapper=self.mapper, reducer=self.reducer)]

    for job, match in ((NotBool(), "input_bytes must be True or False"),
                       (WithSteps(), "input_bytes does not go with steps")):
        with pytest.raises(InvalidArgument, match=match):
            job.run(input=str(tmp_path / "in"), output=str(tmp_path / "o"), runner="inline")
    assert not os.path.exists(tmp_path / "o")
