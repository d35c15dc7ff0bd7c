"""Shipping a job: packaging its source, writing the package on a Worker, importing it
in a task process; loading job files in the shell; the JobTracker's history."""
import json
import os
import sys

import pytest

from mapreduce import Job, shipping
from mapreduce.cli import load_job_file
from mapreduce.jobtracker.history import History
from mapreduce.rpc import jobtracker_pb2 as pb
from mapreduce.worker.daemon import _write_package
from mapreduce.worker.loader import load_job_class
from minidfs.errors import InvalidArgument

JOB_SOURCE = '''
import os
from mapreduce import Job

class Shout(Job):
    def mapper(self, offset, line):
        yield line.upper() + os.environ.get("SUFFIX", ""), 1

class Other(Job):
    pass
'''


class TopLevel(Job):
    pass


def test_package_needs_a_top_level_class_and_bounded_files(tmp_path):
    package = shipping.package(TopLevel, [])
    assert package.class_name == "TopLevel" and package.module_file == "test_mr_shipping.py"
    assert b"class TopLevel(Job)" in package.source

    class Local(Job):
        pass

    with pytest.raises(InvalidArgument, match="top level"):
        shipping.package(Local, [])
    with pytest.raises(InvalidArgument, match="does not exist"):
        shipping.package(TopLevel, [str(tmp_path / "missing")])
    a, b = tmp_path / "a", tmp_path / "b"
    (a).mkdir(), (b).mkdir()
    (a / "x.txt").write_text("1")
    (b / "x.txt").write_text("2")
    with pytest.raises(InvalidArgument, match="two shipped files are named x.txt"):
        shipping.package(TopLevel, [str(a / "x.txt"), str(b / "x.txt")])


def test_written_package_imports_in_a_task_process(tmp_path, monkeypatch):
    message = pb.JobPackage(module_name="shout_job", module_file="shout_job.py",
                            source=JOB_SOURCE.encode(), class_name="Shout",
                            files=[pb.ShippedFile(name="data.txt", data=b"hello")],
                            env=[pb.EnvVar(name="SUFFIX", value="!")])
    package_dir = tmp_path / "jobs" / "package"
    _write_package(package_dir, message)
    assert sorted(os.listdir(package_dir)) == ["data.txt", "env.json", "shout_job.py"]
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("SUFFIX", raising=False)
    try:
        job_class = load_job_class(package_dir, "shout_job", "shout_job.py", "Shout")
        assert list(job_class().mapper(0, "hi")) == [("HI!", 1)]
        with pytest.raises(Exception, match="not a mapreduce.Job subclass"):
            load_job_class(package_dir, "shout_job", "shout_job.py", "os")
    finally:
        sys.modules.pop("shout_job", None)
        os.environ.pop("SUFFIX", None)


def test_shell_loads_the_named_or_only_job_class(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    two = tmp_path / "two_jobs.py"
    two.write_text(JOB_SOURCE)
    one = tmp_path / "one_job.py"
    one.write_text("from mapreduce import Job\nclass Only(Job):\n    pass\n")
    try:
        assert load_job_file(f"{two}:Shout").__name__ == "Shout"
        assert load_job_file(str(one)).__name__ == "Only"
        with pytest.raises(InvalidArgument, match="Job classes: Shout, Other"):
            load_job_file(str(two))
        with pytest.raises(InvalidArgument, match="not a Python job file"):
            load_job_file(str(tmp_path / "nope.py"))
    finally:
        sys.modules.pop("two_jobs", None)
        sys.modules.pop("one_job", None)


def test_history_round_trip_and_prune(tmp_path):
    history = History(tmp_path / "history", max_jobs=3)
    history.open()
    for i in range(1, 6):
        history.save({"job_id": f"job_1_{i:04d}", "state": "succeeded", "submitted_ms": i})
        os.utime(tmp_path / "history" / f"job_1_{i:04d}.json", (i, i))
    assert history.load("job_1_0002")["submitted_ms"] == 2
    assert history.load("../etc/passwd") is None
    history.prune()
    assert [r["job_id"] for r in history.load_all()] == ["job_1_0003", "job_1_0004", "job_1_0005"]
    (tmp_path / "history" / "job_1_0009.json").write_text("{not json")
    assert len(history.load_all()) == 3
    assert json.loads((tmp_path / "history" / "job_1_0005.json").read_text())["state"] == "succeeded"
