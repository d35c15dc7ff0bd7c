"""Streaming jobs (shell commands as mapper / combiner / reducer), inline and on a real
cluster (JobTracker, two Workers, three DataNodes): word counts made of `tr`, `sort`,
`uniq -c`, `awk` and of a shipped Python script equal collections.Counter, and a
command that fails, is missing or prints non-UTF-8 fails the job with its stderr and
leaves no output marked complete."""
from __future__ import annotations

import collections
import os
import subprocess
import sys

import pytest

from examples import gen_corpus
from mapreduce.streaming import streaming_job
from minidfs.errors import JobError

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Words one per line, then counted: Hadoop Streaming's classic shell word count.
SPLIT_WORDS = "tr -s ' \\t' '\\n\\n' | grep -v '^$'"
COUNT_SORTED = "uniq -c | awk '{print $2 \"\\t\" $1}'"

WORD_MAPPER = """#!/usr/bin/env python3
import sys
for line in sys.stdin:
    for word in line.split():
        print(f"{word}\\t1")
        print(f"reporter:counter:wc,words,1", file=sys.stderr)
"""
SUM_REDUCER = """#!/usr/bin/env python3
import itertools, sys
pairs = (line.rstrip("\\n").split("\\t", 1) for line in sys.stdin)
for word, group in itertools.groupby(pairs, key=lambda p: p[0]):
    print(f"{word}\\t{sum(int(n) for _, n in group)}")
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    local = tmp_path_factory.mktemp("streaming-corpus")
    paths = gen_corpus.generate(str(local / "in"), files=2, total_bytes=200_000, seed=5)
    return str(local / "in"), paths


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streaming-scripts")
    (folder / "words.py").write_text(WORD_MAPPER)
    (folder / "sum.py").write_text(SUM_REDUCER)
    return str(folder / "words.py"), str(folder / "sum.py")


@pytest.fixture(scope="module")
def dfs_corpus(fs, corpus):
    _, paths = corpus
    fs.mkdir("/stream-in", parents=True)
    for path in paths:
        fs.put(path, "/stream-in/" + os.path.basename(path))
    return "/stream-in"


def word_counts(paths):
    return collections.Counter(w for p in paths for line in open(p, encoding="utf-8")
                               for w in line.split())


def parse(parts: list[bytes]) -> dict[str, int]:
    got: dict[str, int] = {}
    for part in parts:
        for line in part.decode("utf-8").splitlines():
            word, count = line.split("\t")
            assert word not in got
            got[word] = int(count)
    return got


def local_parts(result) -> list[bytes]:
    return [open(p, "rb").read() for p in result.output_paths]


def dfs_parts(fs, result) -> list[bytes]:
    out = []
    for path in result.output_paths:
        with fs.open(path, "rb") as f:
            out.append(f.read())
    return out


def test_inline_shell_word_count_equals_counter(corpus, tmp_path):
    local, paths = corpus
    job = streaming_job(mapper=SPLIT_WORDS, reducer=COUNT_SORTED)
    result = job().run(input=local, output=str(tmp_path / "wc"), reducers=3,
                       runner="inline", split_size=32 * 1024)
    assert result.counters["job"]["launched_maps"] > 2   # several splits per file
    assert parse(local_parts(result)) == dict(word_counts(paths))
    assert os.path.exists(tmp_path / "wc" / "_SUCCESS")


def test_inline_python_script_word_count_with_combiner(corpus, scripts, tmp_path):
    local, paths = corpus
    words, summer = scripts
    job = streaming_job(mapper="words.py", combiner="python3 sum.py", reducer="python3 sum.py")
    result = job().run(input=local, output=str(tmp_path / "wc"), reducers=2,
                       runner="inline", files=[words, summer])
    expected = word_counts(paths)
    assert parse(local_parts(result)) == dict(expected)
    assert result.counters["wc"]["words"] == sum(expected.values())
    # The combiner ran: far fewer records reached the reducers than words were mapped.
    assert result.counters["mapreduce"]["reduce_input_records"] < sum(expected.values()) // 2


def test_lines_without_a_tab_and_the_identity_reducer(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("b\tone\na\nc\t\n")
    result = streaming_job(mapper="cat")().run(
        input=str(tmp_path / "in"), output=str(tmp_path / "out"), runner="inline")
    # Sorted by key; a line without a tab is a key alone and comes back unchanged.
    assert local_parts(result) == [b"a\nb\tone\nc\t\n"]


@pytest.mark.parametrize("command, message", [
    ("exit 1", "streaming mapper `exit 1` exited with status 1"),
    ("echo broken >&2; exit 3", "exited with status 3; its stderr ends:\nbroken"),
    ("no-such-command-here", "status 127 (command not found)"),
    ("printf 'ok\\tgood\\nbad\\377line\\n'", "printed a line that is not UTF-8 (output line 2"),
])
def test_bad_mapper_fails_the_job_and_leaves_nothing_complete(tmp_path, command, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x y\n")
    with pytest.raises(JobError) as failed:
        streaming_job(mapper=command)().run(input=str(tmp_path / "in"),
                                            output=str(tmp_path / "out"), runner="inline")
    assert message in str(failed.value)
    assert "Traceback" not in str(failed.value)
    assert os.listdir(tmp_path / "out") == []


def test_bad_reducer_fails_the_job(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x y\n")
    with pytest.raises(JobError, match="streaming reducer `cat; exit 2` exited with status 2"):
        streaming_job(mapper=SPLIT_WORDS, reducer="cat; exit 2")().run(
            input=str(tmp_path / "in"), output=str(tmp_path / "out"), runner="inline")
    assert os.listdir(tmp_path / "out") == []


def mapreduce_cli(*args):
    return subprocess.run([sys.executable, "-m", "mapreduce.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=180)


def test_cluster_shell_word_count_equals_counter_and_inline(cluster, fs, corpus, dfs_corpus,
                                                            tmp_path):
    local, paths = corpus
    job = streaming_job(mapper=SPLIT_WORDS, reducer=COUNT_SORTED)
    result = job().run(input=dfs_corpus, output="/stream-wc", reducers=2,
                       conf=cluster.conf_path)
    parts = dfs_parts(fs, result)
    assert parse(parts) == dict(word_counts(paths))
    assert fs.exists("/stream-wc/_SUCCESS") and not fs.exists("/stream-wc/_temporary")
    inline = job().run(input=local, output=str(tmp_path / "wc"), reducers=2,
                       runner="inline", split_size=64 * 1024)
    assert local_parts(inline) == parts


def test_cluster_shell_command_with_shipped_script(cluster, fs, corpus, dfs_corpus, scripts):
    _, paths = corpus
    words, summer = scripts
    done = mapreduce_cli("streaming", "--input", dfs_corpus, "--output", "/stream-py",
                         "--mapper", "words.py", "--combiner", "python3 sum.py",
                         "--reducer", "python3 sum.py", "--reducers", "2",
                         "--file", words, "--file", summer, "--conf", str(cluster.conf_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("job_")
    parts = [fs.cat(f"/stream-py/part-0000{i}") for i in range(2)]
    assert parse(parts) == dict(word_counts(paths))
    assert "words=" in done.stderr   # the script's reporter:counter lines


def test_cluster_failing_command_is_one_clear_error(cluster, fs, dfs_corpus):
    done = mapreduce_cli("streaming", "--input", dfs_corpus, "--output", "/stream-bad",
                         "--mapper", "no-such-command-here", "--conf", str(cluster.conf_path))
    assert done.returncode == 1
    assert "\nmapreduce streaming: job " in done.stderr   # after the progress lines
    assert "no-such-command-here` exited with status 127 (command not found)" in done.stderr
    assert not fs.exists("/stream-bad/_SUCCESS")
    usage = mapreduce_cli("streaming", "--input", dfs_corpus, "--output", "/x")
    assert usage.returncode == 2 and "--mapper" in usage.stderr


def test_a_line_without_end_is_bounded(tmp_path, monkeypatch):
    from mapreduce import streampipe

    monkeypatch.setattr(streampipe, "MAX_LINE_BYTES", 2 * 1024 * 1024)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x\n")
    with pytest.raises(JobError, match="printed a line longer than 2097152 bytes"):
        streaming_job(mapper="head -c 3000000 /dev/zero | tr '\\\\0' a")().run(
            input=str(tmp_path / "in"), output=str(tmp_path / "out"), runner="inline")


def test_cluster_retries_a_command_that_failed_once(cluster, fs, corpus, dfs_corpus, tmp_path):
    _, paths = corpus
    # The first attempt to get here fails (mkdir succeeds once); its retry does the work.
    once = tmp_path / "failed-once"
    job = streaming_job(mapper=f"if mkdir {once} 2>/dev/null; then echo first >&2; exit 1; fi; "
                               f"{SPLIT_WORDS}", reducer=COUNT_SORTED)
    result = job().run(input=dfs_corpus, output="/stream-retry", reducers=2,
                       conf=cluster.conf_path)
    assert once.is_dir()
    assert result.counters["job"]["failed_map_attempts"] == 1
    assert parse(dfs_parts(fs, result)) == dict(word_counts(paths))
