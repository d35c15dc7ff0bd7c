"""Multi-step jobs (Job.steps()) on the inline runner: each step's output feeds the
next with its types, a two-step job equals its sequential computation, counters per
step, intermediate output removed, and bad plans / untakeable output are clear errors."""
from __future__ import annotations

import collections
import os

import pytest

from examples import gen_corpus
from examples.top_words import TopWords
from mapreduce import Job, Step
from mapreduce import steps as step_plan
from minidfs.errors import InvalidArgument, JobError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("steps-corpus")
    paths = gen_corpus.generate(str(root / "in"), files=2, total_bytes=60_000, seed=8)
    return str(root / "in"), paths


def top_ten(paths):
    counts = collections.Counter(w for p in paths for line in open(p, encoding="utf-8")
                                 for w in line.split())
    return sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:10]


def test_top_words_equals_its_sequential_computation(corpus, tmp_path):
    local, paths = corpus
    result = TopWords().run(input=local, output=str(tmp_path / "top"), runner="inline",
                            split_size=16 * 1024)
    lines = open(result.output_paths[0], encoding="utf-8").read().splitlines()
    assert [(w, int(c)) for w, c in (line.split("\t") for line in lines)] == top_ten(paths)
    assert sorted(os.listdir(tmp_path / "top")) == ["_SUCCESS", "part-00000"]
    first, second = result.steps
    assert first["counters"]["job"]["launched_reduces"] == 2
    assert second["counters"]["job"]["launched_reduces"] == 1
    assert second["counters"]["mapreduce"]["map_input_records"] == \
        first["counters"]["mapreduce"]["reduce_output_records"]
    assert result.counter("job", "launched_reduces") == 3
    assert result.job_id == second["job_id"] != first["job_id"]


class Typed(Job):
    """Keys and values keep their msgpack types across steps."""

    def steps(self):
        return [Step(mapper=self.emit, reducer=self.pack, reducers=3),
                Step(mapper=self.check, reducers=0)]

    def emit(self, offset, line):
        yield (line, len(line)), {"n": 1, "b": line.encode()}

    def pack(self, key, values):
        yield key, [v["b"] for v in values]

    def check(self, key, value):
        assert type(key) is tuple and type(key[1]) is int, key
        assert type(value) is list and all(type(b) is bytes for b in value), value
        yield f"{key[0]}:{key[1]}", len(value)


def test_types_survive_between_steps_and_map_only_last_step(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x\nyy\nx\n")
    result = Typed().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"),
                         runner="inline")
    got = sorted(line for p in result.output_paths for line in open(p).read().splitlines())
    assert got == ["x:1\t2", "yy:2\t1"]
    assert all(os.path.basename(p).startswith("part-m-") for p in result.output_paths)
    assert "_temporary" not in os.listdir(tmp_path / "out")


class Unpassable(Job):
    def steps(self):
        return [Step(reducer=self.to_set), Step()]

    def to_set(self, key, values):
        yield key, {1, 2}


def test_output_the_next_step_cannot_take_is_a_clear_error(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x\n")
    with pytest.raises(JobError, match=r"(?s)step 1 of 2: .*step 1 of 2: output value \{1, 2\} "
                                       r"cannot be passed to the next step"):
        Unpassable().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"),
                         runner="inline")
    assert os.listdir(tmp_path / "out") == []   # no intermediate or partial output left


class WrongArity(Job):
    def steps(self):
        return [Step(mapper=self.one_arg)]

    def one_arg(self, line):
        yield line, 1


class NotSteps(Job):
    def steps(self):
        return [self.mapper]


def test_bad_plans_are_refused_before_anything_runs(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x\n")
    with pytest.raises(InvalidArgument, match=r"step 1 of 1: mapper one_arg\(line\) "
                                              r"cannot be called with \(key, value\)"):
        WrongArity().run(input=str(tmp_path / "in"), output=str(tmp_path / "o1"), runner="inline")
    with pytest.raises(InvalidArgument, match="step 1 of 1: not a mapreduce.Step"):
        NotSteps().run(input=str(tmp_path / "in"), output=str(tmp_path / "o2"), runner="inline")
    assert not os.path.exists(tmp_path / "o1") and not os.path.exists(tmp_path / "o2")


def test_pair_encoding_round_trips_and_rejects_foreign_lines():
    # As through the shuffle: arrays in keys come back as tuples, in values as lists.
    for pair, expected in [(("w", 1), ("w", 1)), ((None, (3, "x")), (None, [3, "x"])),
                           (([1, [2]], {"a": b"\n\t"}), ((1, (2,)), {"a": b"\n\t"})),
                           ((1.5, None), (1.5, None))]:
        assert step_plan.decode_pair(step_plan.encode_pair(*pair)) == expected
    assert "\n" not in step_plan.encode_pair("a\nb", "c\td")
    with pytest.raises(JobError, match="not a previous step's output"):
        step_plan.decode_pair("plain text line")


def test_a_cluster_task_learns_its_step_from_the_package_environment(monkeypatch):
    from mapreduce.counters import Counters

    monkeypatch.setenv(step_plan.STEP_ENV, "1")
    job = TopWords()
    job._begin_task(Counters(), "/x")
    line = step_plan.encode_pair("word", 7)
    assert list(job.mapper(0, line)) == [(None, (7, "word"))]
    assert job.combiner is None and job.format_output("a", 1) == "a\t1"   # the last step
    monkeypatch.setenv(step_plan.STEP_ENV, "0")
    first = TopWords()
    first._begin_task(Counters(), "/x")
    assert list(first.mapper(0, "a b")) == [("a", 1), ("b", 1)]
    assert step_plan.decode_pair(first.format_output("a", 2)) == ("a", 2)
    monkeypatch.setenv(step_plan.STEP_ENV, "2")
    with pytest.raises(JobError, match="step 3: the job has 2 steps"):
        TopWords()._begin_task(Counters(), "/x")
