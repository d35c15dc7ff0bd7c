"""Benchmark `guards`: what per-user throttling and the audit log cost the NameNode.

Two single-NameNode clusters run side by side in the same run: one with the
defaults (throttle on - generous limits, so nothing is refused - and the audit log
writing a line per operation), the baseline with both off
(throttle_user_requests_per_s = 0, throttle_user_concurrent_calls = 0,
audit_log_enabled = false). The malformed-request guard is on in both (it is not a
setting). Each kind - mkdir (durable) and stat (GetFileInfo) - is measured from 8
caller processes (bench_nn_ops's callers), baseline and ours back to back, so the
shared machine drifts as little as possible between them. ratio = ours / baseline.
Skipped in --smoke (its time is over a minute whatever the sizes).
"""
from __future__ import annotations

import pathlib

from benchmarks.bench_nn_ops import CLIENTS, ROOT, _minidfs_caller, _run_callers
from benchmarks.harness import Result, Sizes, progress, skipped
from cluster import LocalCluster

KINDS = ("mkdir", "stat")
OFF = {"throttle_user_requests_per_s": 0.0, "throttle_user_concurrent_calls": 0,
       "audit_log_enabled": False}


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    if sizes.name == "smoke":
        # Two clusters and four rounds of 8 caller processes are over a minute even at
        # tiny sizes; the smoke run's budget is for every benchmark together.
        return [skipped("guards", "not in --smoke (run --quick --only guards)")]
    ops = sizes.nn_ops_per_client
    with LocalCluster(workdir / "guarded", datanodes=1, replication=1) as guarded, \
            LocalCluster(workdir / "bare", datanodes=1, replication=1, **OFF) as bare:
        for cluster in (guarded, bare):
            with cluster.client() as fs:
                for index in range(CLIENTS):
                    fs.mkdir(f"{ROOT}/c{index}", parents=True)
        figures, baselines = {}, {}
        for kind in KINDS:
            progress(f"guards: {kind} baseline (throttle and audit off, {CLIENTS} x {ops})")
            baselines[kind] = _run_callers(_minidfs_caller, (str(bare.conf_path), kind), ops)
            progress(f"guards: {kind} (throttle and audit on, {CLIENTS} x {ops})")
            figures[kind] = _run_callers(_minidfs_caller, (str(guarded.conf_path), kind), ops)
        audit_bytes = (guarded.conf_path.parent / "logs" / "nn1-audit.log").stat().st_size
    detail = {"clients": CLIENTS, "ops_per_client": ops, "audit_log_bytes": audit_bytes,
              "baseline": "same cluster shape with throttling and the audit log off"}
    return [Result(f"guards.{kind}", figures[kind], baselines[kind], "ops/s", None, detail)
            for kind in KINDS]
