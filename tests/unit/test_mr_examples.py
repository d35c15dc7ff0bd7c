"""Each example's inline result equals a plain sequential Python computation."""
import collections
import json
import os
import re

import pytest

from examples import gen_corpus
from examples.grep import Grep
from examples.inverted_index import InvertedIndex
from examples.sort import TotalOrderSort
from examples.wordcount import WordCount
from examples.wordcount_inmapper import InMapperWordCount


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    paths = gen_corpus.generate(str(root / "in"), files=3, total_bytes=120_000, seed=5)
    return str(root / "in"), paths


def all_lines(paths):
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield path, line.rstrip("\n")


def parse_output(result):
    pairs = []
    for path in result.output_paths:
        with open(path, encoding="utf-8") as f:
            pairs.extend(line.rstrip("\n").split("\t") for line in f)
    return pairs


def test_corpus_is_deterministic(tmp_path):
    a = gen_corpus.generate(str(tmp_path / "a"), files=2, total_bytes=5000, seed=9)
    b = gen_corpus.generate(str(tmp_path / "b"), files=2, total_bytes=5000, seed=9)
    assert [open(p, "rb").read() for p in a] == [open(p, "rb").read() for p in b]
    assert 4000 < sum(os.path.getsize(p) for p in a) < 6500


@pytest.mark.parametrize("job_class", [WordCount, InMapperWordCount])
@pytest.mark.parametrize("reducers,split_size", [(1, "1MiB"), (3, "7KiB"), (4, "999")])
def test_word_count(corpus, tmp_path, job_class, reducers, split_size):
    input_dir, paths = corpus
    want = collections.Counter(w for _, line in all_lines(paths) for w in line.split())
    result = job_class().run(input=input_dir, output=str(tmp_path / "out"), reducers=reducers,
                             runner="inline", split_size=split_size)
    got = {word: int(count) for word, count in parse_output(result)}
    assert got == dict(want)
    assert len(result.output_paths) == reducers
    assert os.path.exists(tmp_path / "out" / "_SUCCESS")
    for path in result.output_paths:  # each partition is sorted by key
        words = [line.split("\t")[0] for line in open(path, encoding="utf-8")]
        assert words == sorted(words)


def test_inverted_index(corpus, tmp_path):
    input_dir, paths = corpus
    want = collections.defaultdict(set)
    for path, line in all_lines(paths):
        for word in line.split():
            want[word].add(os.path.basename(path))
    result = InvertedIndex().run(input=input_dir, output=str(tmp_path / "out"), reducers=2,
                                 runner="inline", split_size="10KiB")
    got = {word: json.loads(docs) for word, docs in parse_output(result)}
    assert got == {word: sorted(docs) for word, docs in want.items()}


class GrepKa(Grep):
    pattern = r"\bka(lo)+\b"


def test_grep_with_class_pattern_map_only(corpus, tmp_path):
    input_dir, paths = corpus
    want = []
    for path in paths:
        pos = 0
        for raw in open(path, "rb"):
            line = raw.decode().rstrip("\n")
            if re.search(GrepKa.pattern, line):
                want.append(f"{path}:{pos}:{line}")
            pos += len(raw)
    result = GrepKa().run(input=input_dir, output=str(tmp_path / "out"), reducers=0,
                          runner="inline", split_size="8KiB")
    got = [line.rstrip("\n") for p in result.output_paths for line in open(p, encoding="utf-8")]
    assert got == want and want
    assert result.counter("grep", "matching_lines") == len(want)
    assert all(os.path.basename(p).startswith("part-m-") for p in result.output_paths)


def test_grep_with_pattern_from_environment(corpus, tmp_path, monkeypatch):
    input_dir, paths = corpus
    monkeypatch.setenv("GREP_PATTERN", "^ti")
    want = sum(1 for _, line in all_lines(paths) if line.startswith("ti"))
    result = Grep().run(input=input_dir, output=str(tmp_path / "out"), reducers=0,
                        runner="inline")
    assert result.counter("mapreduce", "map_output_records") == want


@pytest.mark.parametrize("reducers", [1, 4])
def test_total_order_sort(corpus, tmp_path, reducers):
    input_dir, paths = corpus
    want = sorted(line for _, line in all_lines(paths))
    result = TotalOrderSort().run(input=input_dir, output=str(tmp_path / "out"),
                                  reducers=reducers, runner="inline", split_size="16KiB")
    got = [line.rstrip("\n") for p in result.output_paths for line in open(p, encoding="utf-8")]
    assert got == want
    sizes = [os.path.getsize(p) for p in result.output_paths]
    assert min(sizes) > 0  # the sampled cut points spread the lines over every reducer
