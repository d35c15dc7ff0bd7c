"""Benchmark `failover`: seconds from SIGKILL of the active NameNode to the first
successful write, on an HA local cluster (2 NameNodes, 3 JournalNodes, 3 DataNodes).

Run by the harness (`python -m benchmarks --only failover`). Each run: write a few
files (steady state), SIGKILL the active NameNode, and at once write a 1 KiB file
(create, write, close) through a `minidfs.Client` that knows both NameNodes,
retrying until it succeeds; the figure is the time from the kill to that close
returning. The killed NameNode is then started again and rejoins as a standby
before the next run, so runs alternate between nn1 and nn2 taking over. The
figure is the median of the runs (5; quick: 3).

Where the time goes (per run in "detail"): a monitor thread asks the standby's
GetHaStatus every MONITOR_INTERVAL_S for its view of the lease and its role, so a
run splits into
  lease_remaining_s   the active's own view of its lease just before the kill (it
                      must then lapse on a majority of JournalNodes);
  became_active_s     kill -> the standby answers as active (includes the lease,
                      the standby's next look, the nn2 stagger and the take-over);
  takeover_ms         the take-over itself (epoch + segment recovery + open +
                      lease), from the new active's log line;
  safe_mode_after_active_s  became active -> out of safe mode;
  client_s            became active -> the write returned (safe mode, the client's
                      backoff between passes over the NameNodes, then the write).
Two rows: `failover` with the cluster's default HA settings, and `failover.tuned`
with a shorter lease (TUNED_SETTINGS), a proposal whose risk benchmarks/README.md
discusses. No HA code is changed by this benchmark.
"""
from __future__ import annotations

import pathlib
import re
import statistics
import threading
import time
from typing import Any

from benchmarks.harness import Result, Sizes, Target, progress
from cluster import LocalCluster
from cluster.local import module_available
from minidfs import config, errors
from minidfs.client.ha_admin import ha_statuses

DATANODES = 3
TARGET = Target("ours", "<=", 3.0, "s")
TUNED_SETTINGS = {"ha_lease_duration_s": 1.5}
WRITE_BYTES = 1024
STEADY_FILES = 5
MONITOR_INTERVAL_S = 0.05
MONITOR_DEADLINE_S = 0.5
# A write that has not succeeded this long after the kill fails the benchmark.
WRITE_GIVE_UP_S = 60.0
STANDBY_READY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.1
_TAKEOVER_LINE = re.compile(r"is now active \(Primary\) in epoch (\d+) .* (\d+) ms after")


def unavailable() -> str | None:
    if not module_available("minidfs.journalnode.server"):
        return "HA has not landed (no JournalNode)"
    return None


class _Monitor(threading.Thread):
    """Watches one NameNode's GetHaStatus: when it became active and left safe mode."""

    def __init__(self, conf: config.ClusterConfig, name: str) -> None:
        super().__init__(daemon=True, name=f"monitor-{name}")
        self.conf = conf
        self.name_watched = name
        self.stop = threading.Event()
        self.active_at: float | None = None
        self.safe_mode_off_at: float | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            status = self._status()
            now = time.monotonic()
            if status is not None:
                if status["role"] == "active":
                    self.active_at = self.active_at or now
                    if not status["safe_mode"]:
                        self.safe_mode_off_at = self.safe_mode_off_at or now
            if self.safe_mode_off_at is not None:
                return
            self.stop.wait(MONITOR_INTERVAL_S)

    def _status(self) -> dict[str, Any] | None:
        only = config.ClusterConfig(self.conf.path, self.conf.settings,
                                    {self.name_watched: self.conf.node(self.name_watched)})
        row = ha_statuses(only, deadline_s=MONITOR_DEADLINE_S)[0]
        return None if row["role"] == "unreachable" else row


def _roles(conf: config.ClusterConfig) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in ha_statuses(conf)}


def _wait_for(condition, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"failover: timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


def _active_and_hot_standby(conf: config.ClusterConfig) -> tuple[str, str] | None:
    """(active, standby) once one NameNode is active and the other is in sync."""
    roles = _roles(conf)
    active = [n for n, r in roles.items() if r["role"] == "active"]
    standby = [n for n, r in roles.items()
               if r["role"] == "standby" and r["state"] == "ActiveSecondary"]
    return (active[0], standby[0]) if active and standby else None


def _write(fs, path: str) -> None:
    with fs.open(path, "wb") as f:
        f.write(b"x" * WRITE_BYTES)


def _write_until_ok(fs, path: str, killed_at: float) -> tuple[float, int]:
    """Seconds from the kill until a write succeeded, and how many attempts raised."""
    failures = 0
    while True:
        try:
            _write(fs, path)
            return time.monotonic() - killed_at, failures
        except (errors.Unavailable, errors.PreconditionFailed):
            # The client already retried with its own backoff (Unavailable), or the
            # new active is still in safe mode (PreconditionFailed): try again.
            failures += 1
            if time.monotonic() - killed_at > WRITE_GIVE_UP_S:
                raise
            time.sleep(POLL_INTERVAL_S)


def _takeover_ms(log_text: str, epoch_before: int) -> int | None:
    for match in reversed(list(_TAKEOVER_LINE.finditer(log_text))):
        if int(match.group(1)) > epoch_before:
            return int(match.group(2))
    return None


def _one_run(cluster: LocalCluster, fs, run: int) -> dict[str, Any]:
    conf = cluster.conf
    active, standby = _wait_for(lambda: _active_and_hot_standby(conf),
                                STANDBY_READY_TIMEOUT_S, "an active and an in-sync standby")
    for i in range(STEADY_FILES):
        _write(fs, f"/bench/failover/steady-{run}-{i}")
    monitor = _Monitor(conf, standby)
    monitor.start()
    # The active's own (conservative) view of its lease, just before the kill.
    before = _roles(conf)[active]
    killed_at = time.monotonic()
    cluster.kill(active, "KILL")
    try:
        seconds, failed_attempts = _write_until_ok(fs, f"/bench/failover/after-kill-{run}", killed_at)
        _wait_for(lambda: monitor.active_at is not None, 10.0, f"{standby} to report active")
    finally:
        monitor.stop.set()
        monitor.join()
    became_active_s = monitor.active_at - killed_at
    row = {
        "killed": active, "took_over": standby, "seconds": round(seconds, 3),
        "lease_remaining_s": before["lease_remaining_ms"] / 1000,
        "became_active_s": round(became_active_s, 3),
        "takeover_ms": _takeover_ms(cluster.log(standby), before["epoch"]),
        "client_s": round(seconds - became_active_s, 3),
        "failed_write_attempts": failed_attempts,
    }
    if monitor.safe_mode_off_at is not None:
        row["safe_mode_off_s"] = round(monitor.safe_mode_off_at - killed_at, 3)
        row["safe_mode_after_active_s"] = round(monitor.safe_mode_off_at - monitor.active_at, 3)
    progress(f"failover: run {run + 1}: {active} killed, {standby} active after "
             f"{became_active_s:.2f} s, write ok after {seconds:.2f} s")
    cluster.start(active)
    return row


def _measure(workdir: pathlib.Path, runs: int, settings: dict[str, Any]) -> list[dict[str, Any]]:
    with LocalCluster(workdir, datanodes=DATANODES, workers=0, ha=True, **settings) as cluster:
        with cluster.client() as fs:
            fs.mkdir("/bench/failover", parents=True)
            return [_one_run(cluster, fs, run) for run in range(runs)]


def _result(name: str, rows: list[dict[str, Any]], settings: dict[str, Any]) -> Result:
    def median(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(statistics.median(values), 3) if values else None

    defaults = config.Settings()
    lease_s = settings.get("ha_lease_duration_s", defaults.ha_lease_duration_s)
    return Result(name, statistics.median(r["seconds"] for r in rows), None, "s", TARGET, {
        "runs": rows, "ha_lease_duration_s": lease_s,
        "ha_tail_interval_s": settings.get("ha_tail_interval_s", defaults.ha_tail_interval_s),
        "median_lease_remaining_s": median("lease_remaining_s"),
        "median_became_active_s": median("became_active_s"),
        "median_takeover_ms": median("takeover_ms"),
        "median_safe_mode_after_active_s": median("safe_mode_after_active_s"),
        "median_client_s": median("client_s"),
        "what": "SIGKILL of the active NameNode -> a 1 KiB create+write+close returned"})


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    runs = sizes.failover_runs
    progress(f"failover: {runs} runs with the default HA settings")
    default_rows = _measure(workdir / "default", runs, {})
    progress(f"failover: {runs} runs with {TUNED_SETTINGS}")
    tuned_rows = _measure(workdir / "tuned", runs, TUNED_SETTINGS)
    return [_result("failover", default_rows, {}),
            _result("failover.tuned", tuned_rows, TUNED_SETTINGS)]
