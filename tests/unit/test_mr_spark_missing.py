"""`runner="spark"` without Java (or pyspark) says what is missing before anything runs."""
from __future__ import annotations

import pytest

from examples.wordcount import WordCount
from minidfs.errors import PreconditionFailed


def test_spark_runner_without_java_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    (tmp_path / "in").write_text("a b\n")
    with pytest.raises(PreconditionFailed, match=r"the spark runner needs .*a Java 17\+ runtime"):
        WordCount().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"), runner="spark")
    assert not (tmp_path / "out").exists()
