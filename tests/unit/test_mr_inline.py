"""The Job API through the inline runner: hooks, formats, counters, errors."""
import json
import os

import pytest

from mapreduce import Job
from minidfs.errors import FileExists, FileNotFound, InvalidArgument, JobError


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def output_lines(result):
    return [line.rstrip("\n") for p in result.output_paths for line in open(p, encoding="utf-8")]


class Failing(Job):
    def mapper(self, offset, line):
        if "boom" in line:
            raise ValueError(f"cannot map {line!r}")
        yield line, 1


def test_user_exception_is_job_error_with_user_traceback(tmp_path):
    write(tmp_path / "in" / "a.txt", "ok\nboom here\n")
    out = tmp_path / "out"
    with pytest.raises(JobError) as info:
        Failing().run(input=str(tmp_path / "in"), output=str(out), runner="inline")
    message = str(info.value)
    assert "Traceback (most recent call last)" in message
    assert "ValueError: cannot map 'boom here'" in message
    assert 'in mapper' in message and "test_mr_inline.py" in message
    # The traceback starts at the user's code, not in the engine.
    first_frame = message.split("Traceback (most recent call last):\n", 1)[1].splitlines()[0]
    assert "test_mr_inline.py" in first_frame
    assert not (out / "_SUCCESS").exists() and not (out / "_temporary").exists()


def test_existing_output_and_missing_input_are_refused(tmp_path):
    write(tmp_path / "in" / "a.txt", "x\n")
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExists, match="output directory already exists"):
        Job().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"), runner="inline")
    with pytest.raises(FileNotFound, match="input does not exist"):
        Job().run(input=str(tmp_path / "nope"), output=str(tmp_path / "o2"), runner="inline")
    assert not (tmp_path / "o2").exists()
    with pytest.raises(InvalidArgument):
        Job().run(input=str(tmp_path / "in"), output=str(tmp_path / "o3"), runner="bogus")
    with pytest.raises(InvalidArgument):
        Job().run(input=str(tmp_path / "in"), output=str(tmp_path / "o3"), reducers=-1,
                  runner="inline")


class Hooks(Job):
    def mapper_init(self):
        self.seen = 0
        yield "init", self.input_path.endswith(".txt")

    def mapper(self, offset, line):
        self.seen += 1
        self.increment_counter("user", "lines")
        yield line, offset

    def mapper_final(self):
        yield "final", self.seen

    def reducer_init(self):
        yield "reducer_init", None

    def reducer(self, key, values):
        yield key, sorted(values)

    def reducer_final(self):
        yield "reducer_final", {"done": True}


def test_hooks_counters_and_output_format(tmp_path):
    write(tmp_path / "in" / "a.txt", "x\ny\nx\n")
    result = Hooks().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"),
                         runner="inline")
    assert output_lines(result) == [
        "reducer_init", "final\t[3]", "init\t[true]", "x\t[0,4]", "y\t[2]",
        'reducer_final\t{"done":true}',
    ]
    assert result.counter("user", "lines") == 3
    assert result.counters["mapreduce"]["map_input_records"] == 3
    assert result.status == "succeeded" and result.timings["total_s"] >= 0


class MixedKeys(Job):
    def mapper(self, offset, line):
        for key in (line, len(line), float(len(line)), None, (line, 1), b"raw", True):
            yield key, line


def test_mixed_key_types_sort_by_type_rank(tmp_path):
    write(tmp_path / "in" / "a.txt", "bb\na\n")
    result = MixedKeys().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"),
                             runner="inline")
    keys = [line.split("\t")[0] for line in output_lines(result)]
    assert keys == ["None", "None", "True", "True", "1", "1.0", "2", "2.0", "a", "bb",
                    "raw", "raw", '["a",1]', '["bb",1]']


class FirstLetter(Job):
    def mapper(self, offset, line):
        yield line, None

    def partitioner(self, key, num_reducers):
        return 0 if key < "m" else num_reducers - 1

    def reducer(self, key, values):
        for _ in values:
            yield key, None


def test_custom_partitioner_and_null_values(tmp_path):
    write(tmp_path / "in" / "a.txt", "zeta\nalpha\nmu\nbeta\nalpha\n")
    result = FirstLetter().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"),
                               reducers=3, runner="inline")
    contents = [open(p).read() for p in result.output_paths]
    assert contents == ["alpha\nalpha\nbeta\n", "", "mu\nzeta\n"]


def test_map_only_and_empty_input(tmp_path):
    write(tmp_path / "in" / "a.txt", "one\ntwo\n")
    write(tmp_path / "in" / "empty.txt", "")
    write(tmp_path / "in" / "_ignored", "hidden\n")
    result = Job().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"), reducers=0,
                       runner="inline", split_size=4)
    assert [os.path.basename(p) for p in result.output_paths] == ["part-m-00000", "part-m-00001"]
    assert output_lines(result) == ["0\tone", "4\ttwo"]


class ShippedFile(Job):
    def mapper_init(self):
        with open(self.file_path("stop.json")) as f:
            self.stop = set(json.load(f))

    def mapper(self, offset, line):
        for word in line.split():
            if word not in self.stop:
                yield word, 1

    def reducer(self, word, counts):
        yield word, sum(counts)


def test_shipped_files(tmp_path):
    write(tmp_path / "in" / "a.txt", "the cat and the hat\n")
    stop = write(tmp_path / "stop.json", '["the", "and"]')
    result = ShippedFile().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"),
                               runner="inline", files=[stop])
    assert output_lines(result) == ["cat\t1", "hat\t1"]


class BadYield(Job):
    def mapper(self, offset, line):
        yield "only-a-key"


def test_mapper_must_yield_pairs(tmp_path):
    write(tmp_path / "in" / "a.txt", "x\n")
    with pytest.raises(JobError, match=r"mapper must yield \(key, value\) pairs"):
        BadYield().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"), runner="inline")


def test_progress_callback(tmp_path):
    write(tmp_path / "in" / "a.txt", "x\ny\n")
    seen = []
    Job().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"), reducers=2,
              runner="inline", split_size=2, progress=seen.append)
    assert seen[-1]["state"] == "succeeded"
    assert seen[-1]["map_progress"] == 1.0 and seen[-1]["reduce_progress"] == 1.0
