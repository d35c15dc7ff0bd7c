"""`python -m benchmarks [--quick] [--only NAME[,NAME]] [--json FILE]`: every benchmark.

Each benchmark starts its own local cluster(s) in a temporary folder (always
torn down, also on Ctrl-C), measures its figure and its baseline side by side,
and the results are printed as a table on stdout (progress goes to stderr) and,
with --json, written as {NAME: {"ours", "baseline", "ratio", "unit", ...}}.
A benchmark whose subsystem has not landed yet is reported as skipped, with
why. Exit status: 0 when every benchmark that ran produced its figures (met
targets or not), 1 when one failed, 2 on a usage error, 130 on Ctrl-C.
See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import pathlib
import shutil
import sys
import tempfile
import time

from benchmarks import harness
from benchmarks.harness import Result
from cluster.local import module_available

# (module in benchmarks/, the names --only selects it by), in run order.
GROUPS = (
    ("bench_put_get", ("put", "get")),
    ("bench_nn_ops", ("nn_ops",)),
    ("bench_nn_memory", ("nn_memory",)),
    ("bench_nn_scale", ("nn_scale",)),
    ("bench_rereplication", ("rereplication",)),
    ("bench_wordcount", ("wordcount", "wordcount_inmapper", "small_job", "streaming",
                         "streaming_python")),
    ("bench_failover", ("failover",)),
    ("bench_webhdfs", ("webhdfs_put", "webhdfs_get")),
    ("bench_small_files", ("small_files",)),
    ("bench_secure", ("secure_put", "secure_get", "secure_mkdir")),
    ("bench_guards", ("guards",)),
    ("bench_append", ("append",)),
    ("bench_quota", ("quota",)),
    ("bench_nn_reads", ("nn_reads", "nn_reads.active_cpu")),
    ("bench_read_spread", ("read_spread",)),
)
NAMES = tuple(name for _, names in GROUPS for name in names)


def _missing_reason(module: str) -> str:
    """Why a benchmark module that does not exist yet cannot run."""
    if module == "bench_wordcount" and not module_available("mapreduce.worker.server"):
        return "MapReduce has not landed (no mapreduce.worker.server)"
    if module in ("bench_failover", "bench_nn_reads") and not module_available("minidfs.journalnode.server"):
        return "HA has not landed (no JournalNode)"
    return f"benchmarks/{module}.py is not written yet"


def _run_group(module: str, names: tuple[str, ...], sizes: harness.Sizes,
               workdir: pathlib.Path) -> list[Result]:
    try:
        bench = importlib.import_module(f"benchmarks.{module}")
    except ModuleNotFoundError as e:
        if e.name != f"benchmarks.{module}":
            raise
        return [harness.skipped(name, _missing_reason(module)) for name in names]
    unavailable = getattr(bench, "unavailable", None)
    why = unavailable() if unavailable is not None else None
    if why:
        return [harness.skipped(name, why) for name in names]
    return bench.run(sizes, workdir)


def _parse_only(text: str | None, parser: argparse.ArgumentParser) -> set[str]:
    if not text:
        return set(NAMES)
    chosen = {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(chosen - set(NAMES))
    if unknown:
        parser.error(f"--only: unknown benchmark {', '.join(unknown)} (known: {', '.join(NAMES)})")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="minidfs benchmarks, each beside a baseline measured in the same run")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes: under 3 minutes on 2 cores")
    parser.add_argument("--only", metavar="NAME[,NAME]",
                        help=f"run only these ({', '.join(NAMES)}); put and get always run "
                             "together, get reads the file put wrote")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON here")
    parser.add_argument("--nn-scale-files", type=int, metavar="N",
                        help="files in the nn_scale NameNode (default: 1000000, "
                             "100000 with --quick)")
    # Tiny sizes for tests/integration/test_benchmarks_smoke.py: shape, not speed.
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = _parse_only(args.only, parser)
    sizes = harness.SMOKE if args.smoke else harness.QUICK if args.quick else harness.FULL
    if args.nn_scale_files is not None:
        if args.nn_scale_files < 1:
            parser.error("--nn-scale-files must be at least 1")
        sizes = dataclasses.replace(sizes, nn_scale_files=args.nn_scale_files)

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="minidfs-bench-"))
    results: list[Result] = []
    started = time.monotonic()
    try:
        print(f"machine: {harness.machine_description(workdir)}", flush=True)
        print(f"sizes: {sizes.name}", flush=True)
        for module, names in GROUPS:
            if not only & set(names):
                continue
            harness.progress(f"{module} ...")
            try:
                results += _run_group(module, names, sizes, workdir / module)
            except Exception as e:   # noqa: BLE001 - one broken benchmark must not hide the rest
                harness.progress(f"{module} failed: {type(e).__name__}: {e}")
                results += [harness.failed(name, f"{type(e).__name__}: {e}") for name in names]
    except KeyboardInterrupt:
        print("interrupted: every cluster and server started was stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(harness.format_table(results))
    print(f"total time: {time.monotonic() - started:.0f} s", flush=True)
    if args.json:
        harness.write_json(results, args.json)
    return 1 if any(r.error is not None for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
