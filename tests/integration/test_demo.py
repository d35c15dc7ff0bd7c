"""`minidfs demo --quick` end to end as a real subprocess: the story's key lines, exit
statuses (0, and 130 on Ctrl-C once the cluster is up), and that no daemon of its home
outlives it (pids seen in the home's pid files while it ran, and a psutil scan)."""
from __future__ import annotations

import contextlib
import os
import pathlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import psutil

from cluster.demo import leftover_processes
from cluster.local import LocalCluster

REPO = pathlib.Path(__file__).resolve().parents[2]
DEMO_TIMEOUT_S = 240
INTERRUPT_TIMEOUT_S = 90


class DemoRun:
    """A running `minidfs demo --quick --home HOME`, stdout and stderr merged."""

    def __init__(self, home: pathlib.Path) -> None:
        self.home = home
        self.lines: list[str] = []
        self.pids: dict[str, int] = {}
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "minidfs.cli.main", "demo", "--quick", "--home", str(home)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)

    def read_until(self, pattern: str | None = None) -> bool:
        """Reads lines (noting the daemons' pids) until one matches pattern or EOF."""
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._note_pids()
            if pattern and re.search(pattern, line):
                return True
        return False

    def _note_pids(self) -> None:
        for path in (self.home / "pids").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                self.pids.setdefault(path.stem, int(path.read_text()))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@contextlib.contextmanager
def demo_run(home: pathlib.Path) -> Iterator[DemoRun]:
    run = DemoRun(home)
    try:
        yield run
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
        if (home / "cluster.toml").exists():
            LocalCluster(home).down()


def assert_nothing_left(run: DemoRun) -> None:
    assert len(run.pids) >= 12, run.pids          # every daemon was seen running
    alive = [f"{name}:{pid}" for name, pid in run.pids.items()
             if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
             and str(run.home) in " ".join(psutil.Process(pid).cmdline())]
    assert alive == []
    assert leftover_processes(run.home) == []
    assert list((run.home / "pids").glob("*.pid")) == []


def test_quick_demo_runs_the_whole_story(tmp_path):
    home = tmp_path / "demo"
    with demo_run(home) as run:
        run.read_until()
        code = run.proc.wait(DEMO_TIMEOUT_S)
        out = run.output
        assert code == 0, out
        for step in range(1, 8):
            assert f"[{step}/7]" in out
        assert re.search(r"top 10 of \d+ distinct words:\n\s+1\. \S+\s+[\d,]+", out), out
        assert "same counts as collections.Counter over the local files: yes" in out
        assert re.search(r"Watch it live: http://127\.0\.0\.1:\d+/", out), out
        assert re.search(r"data_local_maps\s+[1-9]", out), out
        assert re.search(r"NameNode: dn\d dead, [1-9]\d* blocks under-replicated", out), out
        assert re.search(r"fsck HEALTHY: \d+ blocks, 0 under-replicated, 0 missing",
                         out), out
        old = re.search(r"sending (nn\d) SIGKILL", out).group(1)
        new = re.search(r"first successful write \(SIGKILL -> file closed on (nn\d)\)",
                        out).group(1)
        assert new != old
        assert re.search(rf"{new}\s+active\s+Primary", out), out
        assert re.search(rf"{old}\s+down", out), out
        assert re.search(r"identical results: \d+ part files, [\d,]+ bytes, byte for byte",
                         out), out
        assert "no process of the demo is left" in out
        assert_nothing_left(run)


def test_ctrl_c_once_the_cluster_is_up_tears_down_and_exits_130(tmp_path):
    home = tmp_path / "demo"
    with demo_run(home) as run:
        assert run.read_until(r"^\[2/7\]"), run.output
        run.proc.send_signal(signal.SIGINT)
        run.read_until()
        code = run.proc.wait(INTERRUPT_TIMEOUT_S)
        assert code == 130, run.output
        assert "minidfs demo: interrupted; the cluster was stopped" in run.output
        assert "[7/7] Tear everything down" in run.output
        assert_nothing_left(run)


def test_a_home_that_holds_a_cluster_is_refused(tmp_path):
    (tmp_path / "cluster.toml").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "minidfs.cli.main", "demo", "--quick", "--home", str(tmp_path)],
        check=False, capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"minidfs demo: {tmp_path}: already holds a cluster; give the demo an empty folder"]
    assert result.stdout == ""
