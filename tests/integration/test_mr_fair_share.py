"""Fair sharing on a real cluster: a 1-split job submitted behind a 40-split job gets
slots as soon as any free up and finishes first; `mapreduce list` shows the shares."""
import json
import os
import subprocess
import sys
import threading

import pytest

from examples import gen_corpus
from mapreduce import Job

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LONG_SPLITS = 40
MAP_SLOTS = 4          # two Workers on a two-core machine (slots = cores)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, fs):
    local = tmp_path_factory.mktemp("inputs")
    long_path, = gen_corpus.generate(str(local / "long"), files=1,
                                     total_bytes=LONG_SPLITS * 64 * 1024 - 4096, seed=2)
    short_path, = gen_corpus.generate(str(local / "short"), files=1, total_bytes=20_000, seed=3)
    fs.put(long_path, "/long.txt")
    fs.put(short_path, "/short.txt")
    assert len(fs.stat("/long.txt")["blocks"]) == LONG_SPLITS
    return long_path, short_path


class Counting(Job):
    def mapper(self, offset, line):
        for word in line.split():
            yield word, 1

    def reducer(self, word, counts):
        yield word, sum(counts)


class SlowCounting(Counting):
    def mapper_init(self):
        import time
        time.sleep(1.5)


def mapreduce_cli(*args):
    return subprocess.run([sys.executable, "-m", "mapreduce.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_short_job_behind_a_long_one_finishes_first(cluster, fs, inputs, wait_until):
    from mapreduce.client import JobTrackerClient

    conf = str(cluster.conf_path)
    seen = []
    outcome = {}

    def run_long():
        try:
            outcome["long"] = SlowCounting().run(input="/long.txt", output="/long-out",
                                                 conf=conf, progress=seen.append)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            outcome["error"] = e

    thread = threading.Thread(target=run_long, daemon=True)
    thread.start()
    try:
        long_id = wait_until(lambda: next((s["job_id"] for s in seen if s.get("submitted")), None),
                             60.0, "the long job submitted")
        with JobTrackerClient(conf) as jobtracker:
            wait_until(lambda: jobtracker.status(long_id)["running_attempts"] >= MAP_SLOTS,
                       60.0, "the long job holding every map slot")
            alone = json.loads(mapreduce_cli("list", "--json", "--conf", conf).stdout)
            assert {j["job_id"]: j["share"] for j in alone}[long_id] == pytest.approx(1.0)
            short = Counting().run(input="/short.txt", output="/short-out", conf=conf)
            behind = jobtracker.status(long_id)
            listing = mapreduce_cli("list", "--conf", conf)
        # FIFO would start the short job's map only once all 40 long maps had
        # started, so at least 40 - 4 of them would be done by now.
        assert behind["state"] == "running"
        assert behind["maps_completed"] < LONG_SPLITS - MAP_SLOTS, behind
        header, *rows = listing.stdout.splitlines()
        assert header.split() == ["JOB_ID", "STATE", "MAP", "REDUCE", "SHARE", "NAME"]
        cells = {r.split()[0]: r.split() for r in rows}
        assert cells[long_id][1] == "running" and cells[long_id][4].endswith("%")
        assert cells[short.job_id][1:2] + cells[short.job_id][4:5] == ["succeeded", "-"]
    finally:
        thread.join(240.0)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["long"].counters["job"]["launched_maps"] >= LONG_SPLITS
