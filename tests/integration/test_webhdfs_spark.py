"""PySpark through `webhdfs://` with its bundled Hadoop client, unchanged: it reads a
directory of text files from minidfs, counts words and writes the result back
(FileOutputCommitter: mkdirs, chunked CREATE, RENAME, DELETE, _SUCCESS). Needs
`pip install .[spark]` and a Java 17+ runtime (.ci/run installs both)."""
from __future__ import annotations

import importlib.util
import io
import os
import shutil

import pytest

if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
    if os.environ.get("CI"):   # .ci/run installs both: missing there is a failure
        raise RuntimeError("CI must install the spark extra and Java (see .ci/run)")
    pytest.skip("needs `pip install .[spark]` and a Java 17+ runtime", allow_module_level=True)

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 0, "block_size": 64 * 1024, "replication": 2}
LINES_PER_FILE = 3000


def test_spark_reads_a_directory_and_writes_back(cluster, fs):
    from pyspark.sql import SparkSession

    for i in range(3):
        text = "".join(f"alpha beta {i}\n" for _ in range(LINES_PER_FILE))
        fs.put(io.BytesIO(text.encode()), f"/spark/in/part-{i}.txt")
    base = f"webhdfs://{cluster.conf.node('nn1').http_address}"
    spark = (SparkSession.builder.master("local[2]").appName("minidfs-webhdfs")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "2")
             .getOrCreate())
    try:
        lines = spark.read.text(f"{base}/spark/in")
        assert lines.count() == 3 * LINES_PER_FILE
        words = lines.selectExpr("explode(split(value, ' ')) as word").groupBy("word").count()
        words.write.mode("overwrite").csv(f"{base}/spark/out")
        counts = {r["word"]: r["count"] for r in spark.read.csv(f"{base}/spark/out")
                  .toDF("word", "count").selectExpr("word", "cast(count as int) count").collect()}
    finally:
        spark.stop()
    assert counts == {"alpha": 3 * LINES_PER_FILE, "beta": 3 * LINES_PER_FILE,
                      "0": LINES_PER_FILE, "1": LINES_PER_FILE, "2": LINES_PER_FILE}
    names = {e["path"].rsplit("/", 1)[1] for e in fs.ls("/spark/out")}
    assert "_SUCCESS" in names and not any("_temporary" in n for n in names)
