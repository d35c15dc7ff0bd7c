"""The benchmark harness: sizes, results, targets, the table and the JSON file.

Called by `python -m benchmarks` (benchmarks/__main__.py), which runs each
benchmark module's `run(sizes, workdir)` and hands the `Result`s it returns to
`print_table` / `write_json`. A benchmark measures its own baseline in the same
run, right beside its measurement, because the machine is shared and noisy:
only ratios taken side by side mean anything.

JSON: {NAME: {"ours", "baseline", "ratio", "unit", "target", "met", "detail"}}
plus "skipped": "<why>" (and null figures) for a benchmark that could not run.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
import sys
from typing import Any

import psutil

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs; one preset per harness mode."""

    name: str
    put_bytes: int
    nn_ops_per_client: int
    nn_memory_files: int
    rereplication_bytes: int
    # None: the local cluster's default dead-node interval (cluster/layout.py).
    dead_node_interval_s: float | None = None
    # Word count: corpus size (10^6-byte megabytes, as the issue states it), and
    # whether the optional peers (mrjob, dask, PySpark) run when installed.
    wordcount_bytes: int = 200_000_000
    wordcount_peers: bool = False
    # Failover: SIGKILLs of the active NameNode measured (the figure is their median).
    failover_runs: int = 5
    # nn_scale: single-block files in the NameNode under test.
    nn_scale_files: int = 1_000_000
    # Small files: how many 10 KiB files the tree copies move.
    small_files: int = 1000


FULL = Sizes("full", put_bytes=256 * MIB, nn_ops_per_client=1500,
             nn_memory_files=200_000, rereplication_bytes=256 * MIB,
             wordcount_bytes=200_000_000, wordcount_peers=True, failover_runs=5)
QUICK = Sizes("quick", put_bytes=64 * MIB, nn_ops_per_client=300,
              nn_memory_files=20_000, rereplication_bytes=64 * MIB,
              wordcount_bytes=30_000_000, failover_runs=3, nn_scale_files=100_000,
              small_files=300)
# For the smoke test only: checks every code path and the JSON shape, not speed.
# A short dead interval keeps the re-replication benchmark from idling 10 s.
SMOKE = Sizes("smoke", put_bytes=4 * MIB, nn_ops_per_client=20,
              nn_memory_files=2_000, rereplication_bytes=4 * MIB, dead_node_interval_s=3.0,
              wordcount_bytes=400_000, failover_runs=1, nn_scale_files=2_000,
              small_files=30)


@dataclasses.dataclass(frozen=True)
class Target:
    """A goal on the ratio or on our own figure, e.g. ratio >= 2.0."""

    on: str        # "ratio" or "ours"
    op: str        # ">=" or "<="
    value: float
    unit: str = ""

    def met(self, result: "Result") -> bool | None:
        figure = result.ratio if self.on == "ratio" else result.ours
        if figure is None:
            return None
        return figure >= self.value if self.op == ">=" else figure <= self.value

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.on} {self.op} {self.value:g}{unit}"


@dataclasses.dataclass
class Result:
    name: str
    ours: float | None
    baseline: float | None
    unit: str
    target: Target | None = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    skipped: str | None = None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        return self.target.met(self) if self.target is not None else None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ours": _round(self.ours), "baseline": _round(self.baseline),
            "ratio": _round(self.ratio), "unit": self.unit,
            "target": str(self.target) if self.target else "report",
            "met": self.met, "detail": self.detail,
        }
        if self.skipped is not None:
            out["skipped"] = self.skipped
        if self.error is not None:
            out["error"] = self.error
        return out


def skipped(name: str, why: str) -> Result:
    return Result(name, None, None, "", skipped=why)


def failed(name: str, error: str) -> Result:
    return Result(name, None, None, "", error=error)


def _round(x: float | None) -> float | None:
    # Six significant digits, not fixed decimals: a small ratio (0.0446) must keep
    # its relative precision.
    return None if x is None else float(f"{x:.6g}")


# ---- output ------------------------------------------------------------------------

COLUMNS = ("NAME", "ours", "baseline", "ratio", "unit", "target", "met?")


def _figure(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:,.0f}"


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    rows = []
    for r in results:
        if r.skipped is not None or r.error is not None:
            note = f"skipped: {r.skipped}" if r.skipped is not None else f"FAILED: {r.error}"
            rows.append((r.name, note, "", "", "", "", ""))
            continue
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        rows.append((r.name, _figure(r.ours), _figure(r.baseline), ratio, r.unit,
                     str(r.target) if r.target else "report", met))
    return rows


def format_table(results: list[Result]) -> str:
    """A Markdown table (it is pasted into benchmarks/README.md as it is)."""
    rows = [COLUMNS] + table_rows(results)
    # A skip reason is long: it does not widen the other columns.
    widths = [max(len(row[i]) for row in rows if i != 1 or row[2])
              for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def write_json(results: list[Result], path: str | os.PathLike[str]) -> None:
    data = {r.name: r.as_json() for r in results}
    pathlib.Path(path).write_text(json.dumps(data, indent=2) + "\n")


def machine_description(workdir: pathlib.Path) -> str:
    """One line: cores, CPU model, RAM, Python, grpcio, and the disk under workdir."""
    import grpc

    model = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = psutil.virtual_memory().total / 2**30
    disk = _disk_of(workdir)
    return (f"{os.cpu_count()} cores ({model}), {ram_gib:.1f} GiB RAM, "
            f"Python {platform.python_version()}, grpcio {grpc.__version__}, "
            f"{platform.system()} {platform.release()}, work dir on {disk}")


def _disk_of(path: pathlib.Path) -> str:
    best = None
    for part in psutil.disk_partitions(all=True):
        if str(path).startswith(part.mountpoint) and (best is None or
                                                      len(part.mountpoint) > len(best.mountpoint)):
            best = part
    if best is None:
        return str(path)
    return f"{best.device} ({best.fstype}, mounted at {best.mountpoint})"


def progress(message: str) -> None:
    """Progress lines go to stderr so stdout keeps only the table."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
