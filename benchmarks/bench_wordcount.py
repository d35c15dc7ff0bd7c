"""Benchmarks `wordcount` and `wordcount_inmapper`: word count on the cluster against
the best plain Python over the same text, in the same run.

Run by the harness (`python -m benchmarks --only wordcount`). A generated corpus
(examples/gen_corpus.py: Zipf pseudo-words, ASCII spaces and newlines; 4 files, each
one block, so 4 map tasks) is put into a local cluster of 3 DataNodes and 2 Workers
(2 slots each on this 2-core machine). Two figures, seconds from submit to the
job's success (its output committed):
  wordcount           examples/wordcount.py (mapper yields (word, 1), combiner and
                      reducer sum), 2 reducers; baseline: one process, the same
                      files from local disk in 8 MiB reads, Counter(chunk.split());
  wordcount_inmapper  examples/wordcount_inmapper.py (a Counter per map task, pairs
                      from mapper_final); baseline: the same Counter as wordcount
                      (multiprocessing.Pool(2), one file per call, is in the detail);
  small_job           wall seconds of `mapreduce run examples/wordcount.py` over a
                      small one-block file (SMALL_JOB_BYTES of the corpus: the map's
                      own work is tens of ms, so the figure is a job's fixed cost),
                      as a user types it (a new process: import, submit, wait);
                      baseline: `minidfs ls /` in the same cluster, the fixed cost
                      of any command; median of 3 each;
  streaming,          word count as streaming jobs (shell commands; Python scripts),
  streaming_python    beside the wordcount job's seconds (benchmarks/bench_streaming.py).
The ratio is ours / baseline (time: lower is better). Each job's output is read back
and compared with the baseline's counts: a wrong answer is an error, not a figure.
The baselines split bytes (bytes.split) where the mapper splits str (str.split);
they agree because the corpus separates words by ASCII spaces and newlines only,
and the comparison proves it on every run. Baselines run after the cluster is
down, so its idle daemons do not slow them.

Peers, when the optional extra is installed (`pip install .[peers]`) and the sizes
ask for them: mrjob 0.7.4's local runner, dask.bag (processes, 2 workers) and
PySpark local[2] count the same corpus from local disk, each in its own process,
each checked against the baseline's counts; rows `wordcount.<peer>` (seconds,
beside the same Counter baseline). PySpark's JVM start is not in its figure.
"""
from __future__ import annotations

import collections
import importlib.util
import json
import multiprocessing
import os
import pathlib
import subprocess
import sys
import time
from typing import Callable

from benchmarks import bench_streaming
from benchmarks.harness import MIB, Result, Sizes, Target, progress, skipped
from cluster import LocalCluster
from cluster.local import module_available
from examples import gen_corpus

DATANODES = 3
WORKERS = 2
REDUCERS = 2
CORPUS_FILES = 4
CORPUS_SEED = 6
BASELINE_READ_BYTES = 8 * MIB
BASELINE_PROCESSES = 2
DFS_CORPUS = "/bench/corpus"
PUT_SLICE_BYTES = 8 * MIB
WORDCOUNT_TARGET = Target("ratio", "<=", 1.0)
INMAPPER_TARGET = Target("ratio", "<=", 0.8)
SMALL_JOB_TARGET = Target("ratio", "<=", 3.0)
SMALL_JOB_RUNS = 3
SMALL_JOB_INPUT = "/bench/small/one-block.txt"
# What "a small job" is: a one-block input whose map work is small beside the fixed
# cost being measured (a 50 MB block is a throughput figure, which wordcount gives).
SMALL_JOB_BYTES = 1024 * 1024
# A peer that takes longer than this is reported as too slow, not waited for.
PEER_TIMEOUT_S = 240.0

Counts = dict[str, int]


def unavailable() -> str | None:
    if not module_available("mapreduce.worker.server"):
        return "MapReduce has not landed (no mapreduce.worker.server)"
    return None


# ---- the corpus ------------------------------------------------------------------------

def _write_corpus_file(args: tuple[str, int, int]) -> str:
    path, size, seed = args
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in gen_corpus.lines(size, seed):
            f.write(line + "\n")
    return path


def make_corpus(directory: pathlib.Path, total_bytes: int) -> list[str]:
    """gen_corpus.generate's files (same names, same bytes), two written at a time."""
    directory.mkdir(parents=True, exist_ok=True)
    per_file = max(1, total_bytes // CORPUS_FILES)
    jobs = [(str(directory / f"doc-{i:04d}.txt"), per_file, CORPUS_SEED * 1_000_003 + i)
            for i in range(CORPUS_FILES)]
    with multiprocessing.Pool(BASELINE_PROCESSES) as pool:
        return pool.map(_write_corpus_file, jobs)


# ---- baselines -------------------------------------------------------------------------

def count_file(path: str) -> collections.Counter:
    """Words of one file: bytes.split over 8 MiB reads, a word cut by a read carried on."""
    counts: collections.Counter = collections.Counter()
    carry = b""
    with open(path, "rb") as f:
        while chunk := f.read(BASELINE_READ_BYTES):
            words = (carry + chunk).split() if carry else chunk.split()
            carry = words.pop() if words and not chunk[-1:].isspace() else b""
            counts.update(words)
    if carry:
        counts[carry] += 1
    return counts


def _decoded(counts: collections.Counter) -> Counts:
    out: Counts = {}
    for word, n in counts.items():
        key = word.decode("utf-8", "replace")
        out[key] = out.get(key, 0) + n
    return out


def counter_baseline(paths: list[str]) -> tuple[float, Counts]:
    start = time.perf_counter()
    total: collections.Counter = collections.Counter()
    for path in paths:
        total.update(count_file(path))
    counts = _decoded(total)
    return time.perf_counter() - start, counts


def pool_baseline(paths: list[str]) -> tuple[float, Counts]:
    start = time.perf_counter()
    total: collections.Counter = collections.Counter()
    with multiprocessing.Pool(BASELINE_PROCESSES) as pool:
        for counts in pool.imap_unordered(count_file, paths):
            total.update(counts)
    counts = _decoded(total)
    return time.perf_counter() - start, counts


# ---- ours ------------------------------------------------------------------------------

def _put_corpus(fs, paths: list[str]) -> None:
    fs.mkdir(DFS_CORPUS, parents=True)
    for path in paths:
        with open(path, "rb") as src, fs.open(f"{DFS_CORPUS}/{os.path.basename(path)}", "wb") as dst:
            while data := src.read(PUT_SLICE_BYTES):
                dst.write(data)


def _read_counts(fs, output_paths: list[str]) -> Counts:
    counts: Counts = {}
    for path in output_paths:
        with fs.open(path, "rb") as f:
            text = f.read().decode("utf-8")
        for line in text.splitlines():
            word, n = line.rsplit("\t", 1)
            counts[word] = int(n)
    return counts


def _run_job(cluster, fs, job, output: str) -> tuple[float, Counts, dict]:
    start = time.perf_counter()
    result = job.run(input=DFS_CORPUS, output=output, reducers=REDUCERS, conf=cluster.conf_path)
    seconds = time.perf_counter() - start
    mr = result.counters.get("mapreduce", {})
    detail = {
        "map_phase_seconds": round(result.timings["map_s"], 3),
        "reduce_phase_seconds": round(result.timings["reduce_s"], 3),
        "maps": result.counter("job", "launched_maps"),
        "data_local_maps": result.counter("job", "data_local_maps"),
        "map_input_records": mr.get("map_input_records", 0),
        "map_output_records": mr.get("map_output_records", 0),
        "map_output_records_per_map_second": round(
            mr.get("map_output_records", 0) / max(1e-9, result.timings["map_s"])),
    }
    return seconds, _read_counts(fs, result.output_paths), detail


def _small_job(cluster, fs, corpus_file: str) -> Result:
    """`mapreduce run` of word count over one block, and `minidfs ls /`, as commands."""
    block_bytes = min(SMALL_JOB_BYTES, cluster.conf.settings.block_size_bytes)
    with open(corpus_file, "rb") as src, fs.open(SMALL_JOB_INPUT, "wb") as dst:
        data = src.read(block_bytes)
        dst.write(data[:data.rfind(b"\n") + 1])
    bin_dir = os.path.dirname(sys.executable)
    conf = str(cluster.conf_path)
    runs, lists = [], []
    for i in range(SMALL_JOB_RUNS):
        start = time.perf_counter()
        subprocess.run([os.path.join(bin_dir, "minidfs"), "--conf", conf, "ls", "/"],
                       check=True, capture_output=True)
        lists.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([os.path.join(bin_dir, "mapreduce"), "run", "examples/wordcount.py",
                        "--conf", conf, "--input", SMALL_JOB_INPUT, "--output",
                        f"/bench/small/out{i}"], check=True, capture_output=True,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        runs.append(time.perf_counter() - start)
    return Result("small_job", sorted(runs)[len(runs) // 2], sorted(lists)[len(lists) // 2],
                  "s", SMALL_JOB_TARGET, {
                      "input_bytes": data.rfind(b"\n") + 1, "runs_seconds": [round(r, 3) for r in runs],
                      "ls_seconds": [round(r, 3) for r in lists],
                      "baseline": "`minidfs ls /` as a command, same cluster, median"})


def _check(name: str, got: Counts, want: Counts) -> None:
    if got != want:
        missing = sorted(set(want) - set(got))[:3]
        wrong = sorted(w for w in set(want) & set(got) if want[w] != got[w])[:3]
        raise RuntimeError(f"{name}: result differs from the baseline's counts "
                           f"({len(got)} vs {len(want)} words; missing {missing}, "
                           f"different {[(w, got[w], want[w]) for w in wrong]})")


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    from examples.wordcount import WordCount
    from examples.wordcount_inmapper import InMapperWordCount

    total = sizes.wordcount_bytes
    progress(f"wordcount: generating a {total / 1e6:g} MB corpus in {CORPUS_FILES} files")
    paths = make_corpus(workdir / "corpus", total)
    corpus_bytes = sum(os.path.getsize(p) for p in paths)
    with LocalCluster(workdir / "cluster", datanodes=DATANODES, workers=WORKERS) as cluster:
        with cluster.client() as fs:
            progress(f"wordcount: putting the corpus into a cluster of {DATANODES} DataNodes "
                     f"and {WORKERS} Workers")
            _put_corpus(fs, paths)
            progress("wordcount: WordCount (mapper, combiner, reducer)")
            wc_s, wc_counts, wc_detail = _run_job(cluster, fs, WordCount(), "/bench/wc")
            progress("wordcount: InMapperWordCount (mapper_final)")
            im_s, im_counts, im_detail = _run_job(cluster, fs, InMapperWordCount(), "/bench/wc2")
            progress("wordcount: streaming word counts (shell commands; Python scripts)")
            streaming, streaming_counts = bench_streaming.run(
                cluster, fs, DFS_CORPUS, REDUCERS, wc_s, workdir / "streaming", _read_counts)
            progress("wordcount: a one-block `mapreduce run` against `minidfs ls /`")
            small = _small_job(cluster, fs, paths[0])
    progress("wordcount: baselines (Counter in one process; multiprocessing.Pool(2))")
    counter_s, want = counter_baseline(paths)
    pool_s, pool_counts = pool_baseline(paths)
    _check("wordcount", wc_counts, want)
    _check("wordcount_inmapper", im_counts, want)
    _check("wordcount_inmapper baseline (Pool)", pool_counts, want)
    for name, counts in streaming_counts:
        _check(name, counts, want)
    common = {"corpus_bytes": corpus_bytes, "files": CORPUS_FILES, "words": sum(want.values()),
              "distinct_words": len(want), "datanodes": DATANODES, "workers": WORKERS,
              "reducers": REDUCERS}
    results = [
        Result("wordcount", wc_s, counter_s, "s", WORDCOUNT_TARGET, {
            **common, **wc_detail,
            "baseline": f"collections.Counter(chunk.split()) over {BASELINE_READ_BYTES // MIB} "
                        "MiB reads, one process, local disk"}),
        Result("wordcount_inmapper", im_s, counter_s, "s", INMAPPER_TARGET, {
            **common, **im_detail,
            "baseline": "the wordcount baseline (Counter, one process)",
            f"pool{BASELINE_PROCESSES}_seconds": round(pool_s, 3)}),
        small,
        *streaming,
    ]
    if sizes.wordcount_peers:
        results += _peers(paths, workdir / "peers", counter_s, want)
    return results


# ---- peers (optional extra `peers`) -----------------------------------------------------

MRJOB_SCRIPT = '''
from mrjob.job import MRJob

class MRWordCount(MRJob):
    def mapper(self, _, line):
        for word in line.split():
            yield word, 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)

if __name__ == "__main__":
    MRWordCount.run()
'''

DASK_SCRIPT = '''
import json, sys, time
import dask.bag as db
paths, out = json.loads(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
counts = dict(db.read_text(paths, blocksize="16MiB").str.split().flatten().frequencies()
              .compute(scheduler="processes", num_workers=2))
seconds = time.perf_counter() - start
json.dump({"seconds": seconds, "counts": counts}, open(out, "w"))
'''

SPARK_SCRIPT = '''
import json, operator, sys, time
from pyspark import SparkConf, SparkContext
paths, out = json.loads(sys.argv[1]), sys.argv[2]
conf = (SparkConf().setMaster("local[2]").setAppName("wordcount")
        .set("spark.ui.enabled", "false").set("spark.driver.memory", "2g"))
sc = SparkContext(conf=conf)
sc.setLogLevel("ERROR")
start = time.perf_counter()
counts = (sc.textFile(",".join(paths)).flatMap(lambda line: line.split())
          .map(lambda w: (w, 1)).reduceByKey(operator.add).collectAsMap())
seconds = time.perf_counter() - start
sc.stop()
json.dump({"seconds": seconds, "counts": counts}, open(out, "w"))
'''


def _run_mrjob(paths: list[str], folder: pathlib.Path) -> tuple[float, Counts]:
    script = folder / "mr_word_count.py"
    script.write_text(MRJOB_SCRIPT)
    out_dir = folder / "mrjob-out"
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script), "-r", "local", "--no-conf",
                    "--output-dir", str(out_dir), *paths],
                   check=True, capture_output=True, timeout=PEER_TIMEOUT_S)
    seconds = time.perf_counter() - start
    counts: Counts = {}
    for part in sorted(out_dir.glob("part-*")):
        for line in part.read_text(encoding="utf-8").splitlines():
            word, n = line.split("\t")
            counts[json.loads(word)] = int(n)
    return seconds, counts


def _run_script(source: str) -> Callable[[list[str], pathlib.Path], tuple[float, Counts]]:
    def run_peer(paths: list[str], folder: pathlib.Path) -> tuple[float, Counts]:
        out = folder / "result.json"
        subprocess.run([sys.executable, "-c", source, json.dumps(paths), str(out)],
                       check=True, capture_output=True, timeout=PEER_TIMEOUT_S)
        data = json.loads(out.read_text())
        return data["seconds"], data["counts"]
    return run_peer


PEERS = (
    ("mrjob", "mrjob", _run_mrjob, "mrjob 0.7.4 local runner (mapper, combiner, reducer)"),
    ("dask", "dask.bag", _run_script(DASK_SCRIPT),
     "dask.bag read_text(16 MiB blocks).str.split().flatten().frequencies(), "
     "processes scheduler, 2 workers"),
    ("pyspark", "pyspark", _run_script(SPARK_SCRIPT),
     "PySpark local[2] textFile.flatMap.map.reduceByKey.collectAsMap (JVM start not timed)"),
)


def _peers(paths: list[str], workdir: pathlib.Path, counter_s: float,
           want: Counts) -> list[Result]:
    results = []
    for name, module, run_peer, what in PEERS:
        row = f"wordcount.{name}"
        if importlib.util.find_spec(module.split(".")[0]) is None:
            progress(f"wordcount: {name} is not installed (pip install .[peers])")
            continue
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        progress(f"wordcount: peer {what}")
        try:
            seconds, counts = run_peer(paths, folder)
        except subprocess.TimeoutExpired:
            results.append(skipped(row, f"took over {PEER_TIMEOUT_S:g} s"))
            continue
        except subprocess.CalledProcessError as e:
            # An optional peer that breaks is reported, and does not fail the run.
            last = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            results.append(skipped(row, f"{name} failed: {' '.join(last)[:200]}"))
            continue
        _check(row, counts, want)
        results.append(Result(row, seconds, counter_s, "s", None, {
            "peer": what, "baseline": "the wordcount baseline (Counter, one process)"}))
    return results
