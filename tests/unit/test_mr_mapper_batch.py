"""Job.mapper_batch(offsets, lines) through the inline runner: the same records as a
per-line mapper, in order, with the combiner, map-only and the refusals."""
import collections
import os

import pytest

from mapreduce import Job
from mapreduce.steps import Step
from minidfs.errors import InvalidArgument, JobError

TEXT = "".join(f"w{i % 7} w{i % 3} é{i % 2}\r\n" if i % 5 == 0 else f"w{i % 11} x\n"
               for i in range(3000))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


def output(result):
    return sorted(line.rstrip("\n") for p in result.output_paths
                  for line in open(p, encoding="utf-8"))


class PerLine(Job):
    combiner = Job.sum_values

    def mapper(self, offset, line):
        for word in line.split():
            yield word, 1

    def reducer(self, word, counts):
        yield word, sum(counts)


class Batched(PerLine):
    mapper = Job.mapper          # back to the default: mapper_batch maps this job

    def mapper_batch(self, offsets, lines):
        assert len(offsets) == len(lines) and offsets == sorted(offsets)
        for word in " ".join(lines).split():
            yield word, 1


class Offsets(Job):
    def mapper_batch(self, offsets, lines):
        return list(zip(offsets, lines))


class OffsetsPerLine(Job):
    def mapper(self, offset, line):
        yield offset, line


def run(job, tmp_path, name, reducers=2, split_size="4KiB"):
    return job.run(input=str(tmp_path / "in"), output=str(tmp_path / name), reducers=reducers,
                   runner="inline", split_size=split_size)


def test_batched_word_count_equals_the_per_line_one_and_counter(tmp_path):
    write(tmp_path / "in" / "a.txt", TEXT)
    batched = run(Batched(), tmp_path, "b")
    assert output(batched) == output(run(PerLine(), tmp_path, "p"))
    want = collections.Counter(TEXT.split())
    assert output(batched) == sorted(f"{w}\t{n}" for w, n in want.items())
    assert batched.counters["mapreduce"]["map_input_records"] == 3000


def test_offsets_and_lines_are_the_per_line_records_map_only(tmp_path):
    write(tmp_path / "in" / "a.txt", TEXT)
    batched = run(Offsets(), tmp_path, "b", reducers=0)
    per_line = run(OffsetsPerLine(), tmp_path, "p", reducers=0)
    assert output(batched) == output(per_line)
    assert len(output(batched)) == 3000


def test_both_mapper_and_mapper_batch_is_refused(tmp_path):
    class Both(PerLine):
        def mapper_batch(self, offsets, lines):
            return None
    write(tmp_path / "in" / "a.txt", "a\n")
    with pytest.raises(InvalidArgument, match="both mapper and mapper_batch"):
        run(Both(), tmp_path, "o")


def test_mapper_batch_with_steps_is_refused(tmp_path):
    class WithSteps(Batched):
        def steps(self):
            return [Step(reducer=self.reducer)]
    write(tmp_path / "in" / "a.txt", "a\n")
    with pytest.raises(InvalidArgument, match="steps"):
        run(WithSteps(), tmp_path, "o")


def test_what_a_batch_yields_is_checked(tmp_path):
    class Bad(Job):
        def mapper_batch(self, offsets, lines):
            yield "not a pair"
    write(tmp_path / "in" / "a.txt", "a\n")
    with pytest.raises(JobError, match="mapper_batch must yield"):
        run(Bad(), tmp_path, "o")
