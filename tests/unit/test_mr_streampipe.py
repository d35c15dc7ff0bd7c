"""Streaming's pure parts: Hadoop Streaming's line rule and its inverse, and the module
a streaming job ships (it must define the same class with the same commands)."""
from __future__ import annotations

import pytest

from mapreduce import shipping
from mapreduce.streaming import StreamingJob, streaming_job
from mapreduce.streampipe import join_pair, split_line
from minidfs.errors import InvalidArgument


@pytest.mark.parametrize("line, pair", [
    ("k\tv", ("k", "v")), ("k\tv\tw", ("k", "v\tw")), ("k", ("k", None)),
    ("k\t", ("k", "")), ("", ("", None)), ("\tv", ("", "v")),
])
def test_split_line_and_join_pair_are_inverse(line, pair):
    assert split_line(line) == pair
    assert join_pair(*pair) == line.encode() + b"\n"


def test_a_streaming_job_ships_a_module_defining_itself():
    job = streaming_job(mapper="tr a b | cat 'x'", combiner=None, reducer='awk "{print}"')
    package = shipping.package(job, [])
    assert (package.module_name, package.module_file, package.class_name) == \
        ("minidfs_streaming", "minidfs_streaming.py", "Streaming")
    namespace: dict = {}
    exec(compile(package.source, package.module_file, "exec"), namespace)
    shipped = namespace["Streaming"]
    assert issubclass(shipped, StreamingJob)
    assert (shipped.mapper_command, shipped.combiner_command, shipped.reducer_command) == \
        ("tr a b | cat 'x'", None, 'awk "{print}"')


def test_empty_commands_are_refused():
    with pytest.raises(InvalidArgument, match="the mapper command must be a non-empty string"):
        streaming_job(mapper="  ")
    with pytest.raises(InvalidArgument, match="the mapper command"):
        streaming_job(mapper=None)   # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="the reducer command"):
        streaming_job(mapper="cat", reducer="")
