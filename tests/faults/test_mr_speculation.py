"""A SIGSTOPped Worker: it never answers and is not declared lost (the timeout is far
longer than the job), so only speculative backups and re-run maps can finish the job."""
import collections
import os
import time

from examples import gen_corpus
from mapreduce import Job

WORKER_TIMEOUT_S = 120.0
CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024,
                   "mapreduce_worker_timeout_s": WORKER_TIMEOUT_S}


class SlowWordCount(Job):
    def mapper_init(self):
        time.sleep(1.0)

    def mapper(self, offset, line):
        for word in line.split():
            yield word, 1

    def reducer(self, word, counts):
        yield word, sum(counts)


def test_stopped_worker_is_worked_around_by_speculation(cluster, fs, tmp_path):
    paths = gen_corpus.generate(str(tmp_path / "in"), files=2, total_bytes=300_000, seed=8)
    fs.mkdir("/spec", parents=True)
    for path in paths:
        fs.put(path, "/spec/" + os.path.basename(path))
    stopped = []

    def progress(status):
        # Three running attempts of four map slots: both Workers are mapping.
        if not stopped and not status.get("submitted") and status["running_attempts"] >= 3:
            cluster.kill("w2", signal="STOP")
            stopped.append(time.monotonic())

    try:
        result = SlowWordCount().run(input="/spec", output="/spec-out", reducers=2,
                                     conf=cluster.conf_path, progress=progress)
    finally:
        if {n["name"]: n["state"] for n in cluster.status()}["w2"] == "paused":
            cluster.kill("w2", signal="CONT")
    assert stopped and time.monotonic() - stopped[0] < WORKER_TIMEOUT_S / 2
    got = {}
    for path in result.output_paths:
        with fs.open(path, "r") as f:
            for line in f:
                word, count = line.rstrip("\n").split("\t")
                got[word] = int(count)
    want = collections.Counter(w for p in paths for line in open(p, encoding="utf-8")
                               for w in line.split())
    assert got == dict(want)
    assert result.counters["job"]["speculative_attempts"] >= 1
