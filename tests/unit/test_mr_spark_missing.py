"""`runner="spark"` without Java (or pyspark) says what is missing before anything runs."""
from __future__ import annotations

import pathlib

import pytest

from examples.wordcount import WordCount
from minidfs.errors import PreconditionFailed

WORDCOUNT = str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "wordcount.py")


def test_spark_runner_without_java_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    (tmp_path / "in").write_text("a b\n")
    with pytest.raises(PreconditionFailed, match=r"the spark runner needs .*a Java 17\+ runtime"):
        WordCount().run(input=str(tmp_path / "in"), output=str(tmp_path / "out"), runner="spark")
    assert not (tmp_path / "out").exists()


def test_the_shell_says_it_in_one_line(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from mapreduce.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    (tmp_path / "in").write_text("a b\n")
    done = CliRunner().invoke(main, ["run", WORDCOUNT, "--runner", "spark",
                                     "--input", str(tmp_path / "in"),
                                     "--output", str(tmp_path / "out")])
    assert done.exit_code == 1
    assert done.output.strip().startswith("mapreduce run: the spark runner needs ")
    assert len(done.output.strip().splitlines()) == 1
