"""A JobTracker SIGKILLed mid-map, mid-reduce and mid-commit, then restarted: the
running job resumes (keeping the map outputs its live Workers still hold), the
client's run carries on through the restart, and the output is byte for byte the
inline runner's, committed exactly once."""
import os
import threading

import pytest

from examples import gen_corpus
from mapreduce import Job

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024}
JOB_WAIT_S = 240.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, fs):
    local = tmp_path_factory.mktemp("corpus")
    paths = gen_corpus.generate(str(local / "in"), files=2, total_bytes=400_000, seed=5)
    fs.mkdir("/corpus", parents=True)
    for path in paths:
        fs.put(path, "/corpus/" + os.path.basename(path))
    return str(local / "in")


@pytest.fixture
def jobtracker_back(cluster):
    """Whatever a test did to the JobTracker (and Workers), they run again afterwards."""
    try:
        yield
    finally:
        for name in ("jt", "w1", "w2"):
            if {n["name"]: n["state"] for n in cluster.status()}[name] != "running":
                cluster.start(name)


class WordCounting(Job):
    def mapper(self, offset, line):
        for word in line.split():
            yield word, 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)


class SlowMaps(WordCounting):
    def mapper_init(self):
        import time
        time.sleep(1.0)


class SlowReduces(WordCounting):
    def reducer_init(self):
        import time
        time.sleep(2.0)


class Background:
    """Job.run in a thread, its progress statuses kept for the test to look at."""

    def __init__(self, job, **kwargs):
        self.statuses = []
        self.result = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(job, kwargs), daemon=True)
        self._thread.start()

    def _run(self, job, kwargs):
        try:
            self.result = job.run(progress=self.statuses.append, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            self.error = e

    def latest(self):
        found = [s for s in self.statuses if not s.get("submitted")]
        return found[-1] if found else None

    def join(self):
        self._thread.join(JOB_WAIT_S)
        assert not self._thread.is_alive(), "the job did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def same_as_inline(fs, result, job, local_input, tmp_path, reducers):
    inline = job.run(input=local_input, output=str(tmp_path / "inline"), reducers=reducers,
                     runner="inline", split_size=64 * 1024)
    got = []
    for path in result.output_paths:
        with fs.open(path, "rb") as f:
            got.append(f.read())
    assert [open(p, "rb").read() for p in inline.output_paths] == got
    names = sorted(e["path"].rsplit("/", 1)[1] for e in fs.ls(result.output))
    assert names == ["_SUCCESS"] + [f"part-{i:05d}" for i in range(reducers)]


def restart_when(cluster, run, wait_until, condition, what):
    status = wait_until(lambda: (s := run.latest()) is not None and condition(s) and s,
                        120.0, what)
    cluster.kill("jt")
    cluster.start("jt")
    return status


def test_sigkill_mid_map_resumes_and_keeps_finished_map_outputs(
        cluster, fs, corpus, tmp_path, wait_until, jobtracker_back):
    run = Background(SlowMaps(), input="/corpus", output="/mid-map", reducers=2,
                     conf=cluster.conf_path)
    killed = restart_when(cluster, run, wait_until,
                          lambda s: 2 <= s["maps_completed"] < s["maps_total"], "maps half done")
    result = run.join()
    same_as_inline(fs, result, SlowMaps(), corpus, tmp_path, 2)
    # Every map seen done before the kill was kept (its Worker lived on).
    assert result.counters["job"]["recovered_maps"] >= killed["maps_completed"]


def test_sigkill_mid_reduce_resumes_without_rerunning_the_maps(
        cluster, fs, corpus, tmp_path, wait_until, jobtracker_back):
    run = Background(SlowReduces(), input="/corpus", output="/mid-reduce", reducers=2,
                     conf=cluster.conf_path)
    killed = restart_when(cluster, run, wait_until,
                          lambda s: s["maps_completed"] == s["maps_total"]
                          and s["running_attempts"] >= 1 and s["reduces_completed"] == 0,
                          "reduces running")
    result = run.join()
    same_as_inline(fs, result, SlowReduces(), corpus, tmp_path, 2)
    # Both Workers lived on with their map outputs: not one map ran again.
    assert result.counters["job"]["recovered_maps"] == killed["maps_total"]


def test_sigkill_at_the_commit_leaves_exactly_one_output(
        cluster, fs, corpus, tmp_path, wait_until, jobtracker_back):
    run = Background(WordCounting(), input="/corpus", output="/mid-commit", reducers=2,
                     conf=cluster.conf_path)
    restart_when(cluster, run, wait_until, lambda s: s["state"] == "committing"
                 or s["reduces_completed"] == s["reduces_total"], "the job committing")
    result = run.join()
    same_as_inline(fs, result, WordCounting(), corpus, tmp_path, 2)
    assert not fs.exists("/mid-commit/_temporary")


def test_status_and_counters_of_a_resumed_job_survive_another_restart(
        cluster, fs, corpus, jobtracker_back):
    from mapreduce.client import JobTrackerClient

    result = WordCounting().run(input="/corpus", output="/history", reducers=1,
                                conf=cluster.conf_path)
    cluster.kill("jt")
    cluster.start("jt")
    with JobTrackerClient(cluster.conf_path) as jobtracker:
        status = jobtracker.status(result.job_id, reconnect_s=30.0)
        listed = {s["job_id"]: s for s in jobtracker.list()}
    assert status["state"] == "succeeded" and status["counters"] == result.counters
    assert listed[result.job_id]["output_paths"] == result.output_paths


def test_a_killed_job_stays_killed_across_a_restart(cluster, fs, corpus, wait_until,
                                                    jobtracker_back):
    from mapreduce.client import JobTrackerClient

    run = Background(SlowMaps(), input="/corpus", output="/killed", reducers=1,
                     conf=cluster.conf_path)
    status = wait_until(lambda: (s := run.latest()) is not None and s["running_attempts"] and s,
                        120.0, "the job running")
    with JobTrackerClient(cluster.conf_path) as jobtracker:
        assert jobtracker.kill(status["job_id"])["state"] == "killed"
    cluster.kill("jt")
    cluster.start("jt")
    with pytest.raises(Exception, match="killed"):
        run.join()
    with JobTrackerClient(cluster.conf_path) as jobtracker:
        assert jobtracker.status(status["job_id"], reconnect_s=30.0)["state"] == "killed"
    wait_until(lambda: not fs.exists("/killed/_temporary"), 30.0, "the output aborted")


class SlowMapsAndReduces(SlowMaps):
    def reducer_init(self):
        import time
        time.sleep(2.0)


def maps_done_on(cluster, job_id, worker):
    """Map attempts of this JobTracker start that succeeded on `worker` (job page API)."""
    import json
    import urllib.request

    from minidfs.config import load

    address = load(cluster.conf_path).jobtracker.http_address
    with urllib.request.urlopen(f"http://{address}/api/job/{job_id}", timeout=10) as reply:
        attempts = json.load(reply)["attempts"]
    return [a for a in attempts
            if a["kind"] == "m" and a["state"] == "succeeded" and a["worker"] == worker]


def test_two_restarts_and_a_worker_restarted_while_the_jobtracker_was_down(
        cluster, fs, corpus, tmp_path, wait_until, jobtracker_back):
    run = Background(SlowMapsAndReduces(), input="/corpus", output="/twice", reducers=2,
                     conf=cluster.conf_path)
    killed = restart_when(cluster, run, wait_until,
                          lambda s: 2 <= s["maps_completed"] < s["maps_total"], "maps half done")
    # Second kill once w2 holds a map output of this start and no reduce is done: w2
    # is killed too and comes back (a Worker starts only once a JobTracker knows it)
    # as a new incarnation, so its map outputs are gone and run again; w1's are kept.
    job_id = killed["job_id"]
    wait_until(lambda: (s := run.latest()) is not None and s["reduces_completed"] == 0
               and maps_done_on(cluster, job_id, "w2"), 120.0, "a map output on w2")
    cluster.kill("jt")
    cluster.kill("w2")
    cluster.start("jt")
    cluster.start("w2")
    result = run.join()
    same_as_inline(fs, result, SlowMapsAndReduces(), corpus, tmp_path, 2)
    assert result.counters["job"]["maps_rerun_for_lost_output"] >= 1
