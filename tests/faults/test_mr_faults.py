"""MapReduce under faults: user code that hangs or dies, Workers SIGKILLed mid-map and
mid-reduce. Every job must still produce exactly the sequential result."""
import collections
import os
import time

import pytest

from examples import gen_corpus
from mapreduce import Job

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024,
                   "mapreduce_worker_timeout_s": 3.0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, fs):
    local = tmp_path_factory.mktemp("corpus")
    paths = gen_corpus.generate(str(local / "in"), files=2, total_bytes=400_000, seed=3)
    fs.mkdir("/corpus", parents=True)
    for path in paths:
        fs.put(path, "/corpus/" + os.path.basename(path))
    fs.put(paths[0], "/small.txt", block_size=1024 * 1024)
    return paths


@pytest.fixture
def shared_dir(tmp_path, monkeypatch):
    """A local folder the tasks see through $MR_TEST_DIR (shipped with pass_env)."""
    monkeypatch.setenv("MR_TEST_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def workers_back(cluster):
    """Whatever a test did to the Workers, they are running again afterwards."""
    try:
        yield
    finally:
        for name in ("w1", "w2"):
            state = {n["name"]: n["state"] for n in cluster.status()}[name]
            if state == "paused":
                cluster.kill(name, signal="CONT")
            elif state != "running":
                cluster.start(name)


def first_time(name):
    """True exactly once per test: the first attempt to get here."""
    try:
        os.close(os.open(os.path.join(os.environ["MR_TEST_DIR"], name),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


class CountingJob(Job):
    pass_env = ("MR_TEST_DIR",)

    def mapper(self, offset, line):
        for word in line.split():
            yield word, 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)


class HangOnce(CountingJob):
    task_timeout_s = 3.0

    def mapper_init(self):
        if first_time("hung"):
            time.sleep(3600)


class ExitOnce(CountingJob):
    def mapper_init(self):
        if first_time("exited"):
            os._exit(7)


class SlowMaps(CountingJob):
    def mapper_init(self):
        time.sleep(1.5)


class SlowReduces(CountingJob):
    def reducer_init(self):
        time.sleep(3.0)


def expected(paths):
    return dict(collections.Counter(w for p in paths for line in open(p, encoding="utf-8")
                                    for w in line.split()))


def output(fs, result):
    got = {}
    for path in result.output_paths:
        with fs.open(path, "r") as f:
            for line in f:
                word, count = line.rstrip("\n").split("\t")
                got[word] = int(count)
    return got


@pytest.mark.parametrize("job_class,output_dir", [(HangOnce, "/hang"), (ExitOnce, "/exit")])
def test_hanging_or_dying_attempt_fails_and_is_retried(cluster, fs, corpus, shared_dir,
                                                      job_class, output_dir):
    result = job_class().run(input="/small.txt", output=output_dir, conf=cluster.conf_path)
    assert output(fs, result) == expected(corpus[:1])
    assert result.counters["job"]["failed_map_attempts"] == 1


def kill_when(cluster, name, condition):
    killed = []

    def progress(status):
        if not killed and not status.get("submitted") and condition(status):
            cluster.kill(name)
            killed.append(status)
    return progress, killed


def test_worker_sigkilled_mid_map(cluster, fs, corpus, shared_dir, workers_back):
    # Four slots in all: three running attempts means both Workers are mapping.
    progress, killed = kill_when(cluster, "w2", lambda s: s["running_attempts"] >= 3
                                 and s["maps_completed"] < s["maps_total"])
    result = SlowMaps().run(input="/corpus", output="/killed-map", reducers=2,
                            conf=cluster.conf_path, progress=progress)
    assert killed and killed[0]["maps_completed"] < killed[0]["maps_total"]
    assert output(fs, result) == expected(corpus)
    assert result.counters["job"]["killed_attempts"] >= 1
    assert result.counters["job"].get("failed_map_attempts", 0) == 0


def test_worker_sigkilled_mid_reduce(cluster, fs, corpus, shared_dir, workers_back):
    # Four reducers fill all four slots once the maps are done: w2 runs two of them
    # and holds map outputs, which must be re-run too.
    progress, killed = kill_when(cluster, "w2", lambda s: s["maps_completed"] == s["maps_total"]
                                 and s["running_attempts"] >= 4)
    result = SlowReduces().run(input="/corpus", output="/killed-reduce", reducers=4,
                               conf=cluster.conf_path, progress=progress)
    assert killed and killed[0]["reduces_completed"] == 0
    assert output(fs, result) == expected(corpus)
    counters = result.counters["job"]
    assert counters["launched_reduces"] > 4
    assert counters.get("failed_reduce_attempts", 0) == 0


def running_attempts(cluster, job_id):
    """The job's running attempts (job page API): kind, worker."""
    import json
    import urllib.request

    from minidfs.config import load

    address = load(cluster.conf_path).jobtracker.http_address
    with urllib.request.urlopen(f"http://{address}/api/job/{job_id}", timeout=10) as reply:
        return [a for a in json.load(reply)["attempts"] if a["state"] == "running"]


def test_worker_sigkilled_mid_uber_job(cluster, fs, corpus, shared_dir, workers_back):
    """Uber mode: the map and its reduce run in one process on one Worker; SIGKILL
    that Worker mid-map and both are re-run the usual way elsewhere."""
    killed = []

    def progress(status):
        if killed or status.get("submitted") or not status.get("running_attempts"):
            return
        running = running_attempts(cluster, status["job_id"])
        if len(running) == 2:
            cluster.kill(running[0]["worker"])
            killed.append(running)

    result = SlowMaps().run(input="/small.txt", output="/killed-uber", conf=cluster.conf_path,
                            progress=progress)
    assert killed and sorted(a["kind"] for a in killed[0]) == ["m", "r"]
    assert killed[0][0]["worker"] == killed[0][1]["worker"]
    assert output(fs, result) == expected(corpus[:1])
    counters = result.counters["job"]
    assert counters["uber_reduces"] == 1
    assert counters["launched_maps"] == 2 and counters["launched_reduces"] == 2
    assert counters.get("failed_map_attempts", 0) == 0
