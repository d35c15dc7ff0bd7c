"""`python -m benchmarks` end to end on tiny sizes (the hidden --smoke flag): every
benchmark runs against real local clusters and the JSON has the promised shape.
No timing is asserted: the figures of a smoke run mean nothing."""
from __future__ import annotations

import json
import numbers
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

from benchmarks.__main__ import NAMES

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Every benchmark at tiny sizes, on a machine shared with other work: generous.
RUN_TIMEOUT_S = 420


def bench_dirs() -> list[pathlib.Path]:
    return list(pathlib.Path(tempfile.gettempdir()).glob("minidfs-bench-*"))


def run_harness(tmp_path: pathlib.Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    # The harness's clusters live in its own minidfs-bench-* temporary dir, removed
    # when it ends. subprocess.run kills only the harness on a timeout, and daemons
    # run in their own sessions: the dirs it left behind name what is still running.
    before = set(bench_dirs())
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out),
                               *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)
    finally:
        for left in set(bench_dirs()) - before:
            stop_left_over_clusters(left)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())


def stop_left_over_clusters(scratch: pathlib.Path) -> None:
    from cluster import LocalCluster

    for conf in scratch.rglob("cluster.toml"):
        try:
            LocalCluster.attach(conf.parent).down()
        except Exception:  # noqa: BLE001 - best effort: stop every other one too
            pass


def check_entry(name: str, entry: dict) -> None:
    assert {"ours", "baseline", "ratio", "unit", "target", "met", "detail"} <= set(entry), name
    assert "error" not in entry, (name, entry["error"])
    if "skipped" in entry:
        assert entry["skipped"] and entry["ours"] is None, name
        return
    assert isinstance(entry["ours"], numbers.Real) and entry["ours"] > 0, name
    assert entry["unit"], name
    if entry["baseline"] is None:
        assert entry["ratio"] is None, name
    else:
        assert entry["baseline"] > 0
        assert entry["ratio"] == pytest.approx(entry["ours"] / entry["baseline"], rel=1e-3), name
    assert entry["met"] in (True, False, None), name


@pytest.mark.timeout(RUN_TIMEOUT_S + 30)
def test_every_benchmark_runs_and_json_has_its_shape(tmp_path):
    proc, data = run_harness(tmp_path)
    for name in ("put", "get", "nn_ops.mkdir", "nn_ops.create", "nn_ops.stat", "nn_memory",
                 "nn_scale", "rereplication", "rereplication.detect"):
        assert name in data, name
        assert "skipped" not in data[name], name
    assert data["put"]["target"] == "ratio >= 2" and data["nn_memory"]["unit"] == "B/file"
    # Benchmarks that have not landed are listed as skipped, not left out or faked.
    for name in ("wordcount", "wordcount_inmapper", "small_job", "failover"):
        assert name in data, name
    for name, entry in data.items():
        check_entry(name, entry)
    assert "| NAME" in proc.stdout and "machine:" in proc.stdout


def test_only_and_usage_errors(tmp_path):
    _, data = run_harness(tmp_path, "--only", "nn_memory")
    assert list(data) == ["nn_memory"]
    check_entry("nn_memory", data["nn_memory"])
    bad = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown benchmark nope" in bad.stderr
    assert set(NAMES) >= {"put", "get", "nn_ops", "nn_memory", "rereplication", "failover"}
