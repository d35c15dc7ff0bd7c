"""A multi-step job on a real cluster (JobTracker, two Workers, three DataNodes): each
step is a job of its own whose tasks learn their step from the job package, the
intermediate output lives under <output>/_temporary and is gone at the end, and the
result equals the sequential computation and the inline runner byte for byte."""
from __future__ import annotations

import collections
import os
import subprocess
import sys

from examples import gen_corpus
from examples.top_words import TopWords

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_top_words_on_the_cluster_equals_sequential_and_inline(cluster, fs, tmp_path):
    paths = gen_corpus.generate(str(tmp_path / "in"), files=2, total_bytes=150_000, seed=4)
    for path in paths:
        fs.put(path, "/top-in/" + os.path.basename(path))
    result = TopWords().run(input="/top-in", output="/top", conf=cluster.conf_path)
    assert result.output_paths == ["/top/part-00000"]
    text = fs.cat("/top/part-00000")
    counts = collections.Counter(w for p in paths for line in open(p, encoding="utf-8")
                                 for w in line.split())
    expected = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:10]
    assert [(w, int(c)) for w, c in (l.split("\t") for l in text.decode().splitlines())] == expected
    assert sorted(e["path"] for e in fs.ls("/top")) == ["/top/_SUCCESS", "/top/part-00000"]
    # Counters per step (the "mapreduce" group: committed attempts only, exact even
    # when a slow attempt got a speculative backup on this loaded machine).
    first, second = (s["counters"]["mapreduce"] for s in result.steps)
    assert second["map_input_records"] == first["reduce_output_records"] == len(counts)
    assert second["reduce_output_records"] == 10
    from mapreduce.client import JobTrackerClient

    with JobTrackerClient(cluster.conf_path) as jobtracker:
        names = {j["job_id"]: j["name"] for j in jobtracker.list()}
    assert [names[s["job_id"]] for s in result.steps] == [
        "examples.top_words.TopWords step 1/2", "examples.top_words.TopWords step 2/2"]
    inline = TopWords().run(input=str(tmp_path / "in"), output=str(tmp_path / "top"),
                            runner="inline", split_size=64 * 1024)
    assert open(inline.output_paths[0], "rb").read() == text

    done = subprocess.run([sys.executable, "-m", "mapreduce.cli", "run", "examples/top_words.py",
                           "--input", "/top-in", "--output", "/top-cli",
                           "--conf", str(cluster.conf_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Step 1 of 2 (" in done.stderr and "Step 2 of 2 (" in done.stderr
    assert fs.cat("/top-cli/part-00000") == text
