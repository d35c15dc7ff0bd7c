"""The Spark runner (`runner="spark"`) runs the same Job classes as the cluster: on the
same input its part files equal the cluster runner's byte for byte, reading and
writing minidfs through webhdfs://; a multi-step job chains its steps in Spark, a
streaming job runs its commands in Spark's tasks; a user's exception fails the job
with its traceback. One SparkContext (local[2]) serves
the module: Spark starts slowly on a loaded machine. Needs `pip install .[spark]` and
a Java 17+ runtime (.ci/run installs both)."""
from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
    if os.environ.get("CI"):   # .ci/run installs both: missing there is a failure
        raise RuntimeError("CI must install the spark extra and Java (see .ci/run)")
    pytest.skip("needs `pip install .[spark]` and a Java 17+ runtime", allow_module_level=True)

from examples import gen_corpus
from examples.inverted_index import InvertedIndex
from examples.top_words import TopWords
from examples.wordcount import WordCount
from examples.wordcount_inmapper import InMapperWordCount
from mapreduce import Job
from minidfs.errors import FileExists, JobError

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024}
# Spark's start-up alone took 20-40 s on the loaded 2-core machine.
SPARK_TEST_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def spark():
    from mapreduce.runners.spark import spark_context

    context = spark_context("local[2]")
    try:
        yield context
    finally:
        context.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    local = tmp_path_factory.mktemp("spark-corpus")
    return str(local / "in"), gen_corpus.generate(str(local / "in"), files=3,
                                                  total_bytes=150_000, seed=21)


def dfs_bytes(fs, paths):
    out = []
    for path in paths:
        with fs.open(path, "rb") as f:
            out.append(f.read())
    return out


@pytest.mark.timeout(SPARK_TEST_TIMEOUT_S)
def test_spark_output_equals_the_cluster_runners_byte_for_byte(spark, cluster, fs, corpus):
    _, paths = corpus
    for path in paths:
        fs.put(path, "/spark-in/" + os.path.basename(path))
    base = f"webhdfs://{cluster.conf.node('nn1').http_address}"
    for job, name in ((WordCount(), "wc"), (InvertedIndex(), "index"),
                      (InMapperWordCount(), "inmapper")):     # mapper_batch
        on_cluster = job.run(input="/spark-in", output=f"/{name}-cluster", reducers=3,
                             conf=cluster.conf_path)
        on_spark = job.run(input=f"{base}/spark-in", output=f"{base}/{name}-spark",
                           reducers=3, runner="spark", spark_master="local[2]")
        assert on_spark.runner == "spark"
        assert [p.rsplit("/", 1)[1] for p in on_spark.output_paths] == \
            ["part-00000", "part-00001", "part-00002"]
        spark_parts = dfs_bytes(fs, [f"/{name}-spark/part-0000{i}" for i in range(3)])
        assert spark_parts == dfs_bytes(fs, on_cluster.output_paths)
        assert fs.exists(f"/{name}-spark/_SUCCESS")
        assert on_spark.counters["mapreduce"]["reduce_output_records"] == \
            on_cluster.counters["mapreduce"]["reduce_output_records"]
        assert on_spark.counters["job"]["launched_reduces"] == 3
    with pytest.raises(FileExists, match="output directory already exists"):
        WordCount().run(input=f"{base}/spark-in", output=f"{base}/wc-spark", runner="spark")


class LongLines(Job):
    """Map-only, through mapper_batch: the offsets and lines of the longer lines."""
    def mapper_batch(self, offsets, lines):
        return [(offset, line) for offset, line in zip(offsets, lines) if len(line) > 60]


class Fails(Job):
    def mapper(self, offset, line):
        raise ValueError(f"bad line at {offset}")


@pytest.mark.timeout(SPARK_TEST_TIMEOUT_S)
def test_spark_multi_step_streaming_and_a_failing_job(spark, corpus, tmp_path):
    local, _ = corpus
    inline = TopWords().run(input=local, output=str(tmp_path / "inline"), runner="inline")
    on_spark = TopWords().run(input=local, output=str(tmp_path / "spark"), runner="spark")
    assert open(on_spark.output_paths[0], "rb").read() == open(inline.output_paths[0], "rb").read()
    assert [s["counters"]["job"]["launched_reduces"] for s in on_spark.steps] == [2, 1]
    # A streaming job is a Job too: its commands run in the Spark tasks.
    from mapreduce.streaming import streaming_job

    words = streaming_job(mapper="tr -s ' ' '\\n' | grep -v '^$'",
                          reducer="uniq -c | awk '{print $2 \"\\t\" $1}'")
    shell_inline = words().run(input=local, output=str(tmp_path / "sh-inline"), reducers=2,
                               runner="inline")
    shell_spark = words().run(input=local, output=str(tmp_path / "sh-spark"), reducers=2,
                              runner="spark")
    assert [open(p, "rb").read() for p in shell_spark.output_paths] == \
        [open(p, "rb").read() for p in shell_inline.output_paths]
    long_inline = LongLines().run(input=local, output=str(tmp_path / "long-inline"), reducers=0,
                                  runner="inline")
    long_spark = LongLines().run(input=local, output=str(tmp_path / "long-spark"), reducers=0,
                                 runner="spark")
    def lines_of(result):
        return sorted(line for p in result.output_paths for line in open(p, "rb"))
    assert lines_of(long_spark) == lines_of(long_inline)
    assert long_spark.counters["mapreduce"]["map_output_records"] > 0
    with pytest.raises(JobError, match=r"(?s)Traceback.*ValueError: bad line at 0"):
        Fails().run(input=local, output=str(tmp_path / "fails"), runner="spark")
    assert not os.path.exists(tmp_path / "fails" / "_SUCCESS")
