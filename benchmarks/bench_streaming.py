"""Benchmarks `streaming` and `streaming_python`: word count as a streaming job (shell
commands as mapper and reducer) against the same word count as a Python Job, on the
same cluster and corpus, in the same run.

Called by benchmarks/bench_wordcount.py inside its cluster (3 DataNodes, 2 Workers,
the 4-file corpus already in /bench/corpus), right after its `wordcount` figure,
which is the baseline here: `examples/wordcount.py`, seconds from submit to success.

  streaming         mapper `tr -s ' ' '\\n'` (one word per line, no tab: the word is
                    the key), reducer `uniq -c | awk` over the sorted keys, 2 reducers;
  streaming_python  mapper and reducer are Python scripts shipped with --file (the
                    mapper prints `word\\t1`, a summing script is combiner and reducer).

The ratio is streaming / Python job (time: lower is better). Both outputs are read
back and compared with the Counter baseline's counts: a wrong answer is an error.
"""
from __future__ import annotations

import pathlib
import time
from typing import Any, Callable

from benchmarks.harness import Result

WORD_MAPPER = """#!/usr/bin/env python3
import sys
out = sys.stdout.write
for line in sys.stdin:
    for word in line.split():
        out(word + "\\t1\\n")
"""
SUM_SCRIPT = """#!/usr/bin/env python3
import sys
current, total = None, 0
for line in sys.stdin:
    word, _, n = line.rstrip("\\n").partition("\\t")
    if word != current:
        if current is not None:
            sys.stdout.write(f"{current}\\t{total}\\n")
        current, total = word, 0
    total += int(n)
if current is not None:
    sys.stdout.write(f"{current}\\t{total}\\n")
"""
SHELL_MAPPER = "tr -s ' ' '\\n' | grep -v '^$'"
SHELL_REDUCER = "uniq -c | awk '{print $2 \"\\t\" $1}'"


def run(cluster, fs, corpus: str, reducers: int, python_job_s: float, folder: pathlib.Path,
        read_counts: Callable[[Any, list[str]], dict[str, int]]
        ) -> tuple[list[Result], list[tuple[str, dict[str, int]]]]:
    """The two streaming rows (their counts checked by the caller once the baseline
    ran: (name, counts) pairs are returned beside the results)."""
    from mapreduce.streaming import streaming_job

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "words.py").write_text(WORD_MAPPER)
    (folder / "sum.py").write_text(SUM_SCRIPT)
    rows = [
        ("streaming", streaming_job(mapper=SHELL_MAPPER, reducer=SHELL_REDUCER), [],
         f"mapper `{SHELL_MAPPER}`, reducer `{SHELL_REDUCER}`"),
        ("streaming_python", streaming_job(mapper="words.py", combiner="python3 sum.py",
                                           reducer="python3 sum.py"),
         [str(folder / "words.py"), str(folder / "sum.py")],
         "mapper words.py (word<TAB>1), combiner and reducer sum.py, shipped with --file"),
    ]
    results, counts = [], []
    for name, job, files, how in rows:
        start = time.perf_counter()
        result = job().run(input=corpus, output=f"/bench/{name}", reducers=reducers,
                           conf=cluster.conf_path, files=files)
        seconds = time.perf_counter() - start
        counts.append((name, read_counts(fs, result.output_paths)))
        results.append(Result(name, seconds, python_job_s, "s", None, {
            "job": how, "maps": result.counter("job", "launched_maps"),
            "map_phase_seconds": round(result.timings["map_s"], 3),
            "reduce_phase_seconds": round(result.timings["reduce_s"], 3),
            "baseline": "examples/wordcount.py as a Python Job, same cluster and corpus, "
                        "same run"}))
    return results, counts
