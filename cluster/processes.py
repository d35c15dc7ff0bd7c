"""Daemon processes of a local cluster: start detached, pid files, liveness, signals.

Used by cluster.local.LocalCluster. A daemon is started as
`python -m minidfs.cli.main daemon KIND --conf cluster.toml --id NAME` in its own
session (so a Ctrl-C in the shell that started it does not reach it), stdin from
/dev/null, stdout+stderr appended to its log. Its pid goes to pids/<name>.pid.
Before any signal is sent, the pid is checked to still be our daemon (its command
line names the node), so a stale pid file never makes us signal a stranger.
"""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import psutil

import minidfs
from cluster.layout import Home
from minidfs.config import NodeConfig
from minidfs.errors import ClusterError

SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM,
           "STOP": signal.SIGSTOP, "CONT": signal.SIGCONT}
POLL_INTERVAL_S = 0.05
LOG_TAIL_LINES = 20
LOG_TAIL_MAX_BYTES = 64 * 1024

RUNNING, STOPPED, PAUSED = "running", "stopped", "paused"


def signal_name(sig: str | int) -> str:
    """"KILL" for "kill", "SIGKILL" or signal.SIGKILL; only the SIGNALS we send."""
    if isinstance(sig, int):
        for name, value in SIGNALS.items():
            if value == sig:
                return name
    else:
        name = sig.upper().removeprefix("SIG")
        if name in SIGNALS:
            return name
    raise ClusterError(f"{sig}: unknown signal (use {', '.join(SIGNALS)})")


def daemon_command(conf_path: pathlib.Path, node: NodeConfig) -> list[str]:
    return [sys.executable, "-m", "minidfs.cli.main", "daemon", node.kind,
            "--conf", str(conf_path), "--id", node.name]


def _child_env() -> dict[str, str]:
    # The daemons must import this very checkout even when it is not installed.
    source_root = str(pathlib.Path(minidfs.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn(home: Home, node: NodeConfig) -> subprocess.Popen[bytes]:
    """Starts one daemon detached and writes its pid file."""
    log_path = home.log_path(node.name)
    with open(log_path, "ab") as log:
        log.write(f"=== minidfs: starting {node.kind} {node.name} at "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
        log.flush()
        child = subprocess.Popen(
            daemon_command(home.conf_path, node), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, env=_child_env(),
            cwd=home.root)
    write_pid(home.pid_path(node.name), child.pid)
    return child


def write_pid(path: pathlib.Path, pid: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)


def read_pid(path: pathlib.Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _reap(pid: int) -> None:
    # Daemons started by this very process are its children: collect their exit
    # status so a dead one is not mistaken for a live zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def process_state(pid: int | None, name: str) -> str:
    """running / paused / stopped for the daemon `name` supposedly at `pid`."""
    if pid is None:
        return STOPPED
    _reap(pid)
    try:
        proc = psutil.Process(pid)
        status = proc.status()
        if status == psutil.STATUS_ZOMBIE:
            return RUNNING if _threads_still_exiting(pid) else STOPPED
        if not _is_our_daemon(proc, name):
            return STOPPED
    except psutil.ZombieProcess:
        # Turned zombie between the two reads (psutil raises it for the empty
        # command line of a zombie): the same question as above.
        return RUNNING if _threads_still_exiting(pid) else STOPPED
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return STOPPED
    return PAUSED if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP) else RUNNING


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _threads_still_exiting(pid: int) -> bool:
    """Whether a zombie process's other threads are still tearing down. A killed
    multi-threaded daemon's main thread turns zombie first; its descriptors (the
    listening socket among them) close only when the last thread exits, a few ms
    later. Counted as stopped in that window, a restarted node's port probe met the
    dying daemon's socket and reported it ready before it had bound its own
    (test_jt_restart: the next job's submit was refused)."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False       # gone, or no /proc here: nothing left to wait for


def _is_our_daemon(proc: psutil.Process, name: str) -> bool:
    cmdline = proc.cmdline()
    for i, arg in enumerate(cmdline[:-1]):
        if arg == "--id" and cmdline[i + 1] == name:
            return "daemon" in cmdline
    # Between fork and exec a child we just spawned shows an empty command line or
    # still ours; it is our daemon-to-be, not a stranger that reused the pid.
    return "--id" not in cmdline and proc.ppid() == os.getpid()


def send(pid: int, name: str, sig: signal.Signals) -> bool:
    """Signals the daemon if `pid` is still it; False if it is not running."""
    if process_state(pid, name) == STOPPED:
        return False
    if _is_zombie(pid):
        # Already exiting (its other threads still tearing down): nothing to send, and
        # its command line, gone with its memory, can no longer say it is ours.
        return True
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_stopped(pids: dict[str, int], timeout_s: float) -> dict[str, int]:
    """Waits until every daemon has exited; returns the ones still alive at timeout."""
    deadline = time.monotonic() + timeout_s
    alive = dict(pids)
    while alive:
        alive = {n: p for n, p in alive.items() if process_state(p, n) != STOPPED}
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    return alive


def log_tail(path: pathlib.Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - LOG_TAIL_MAX_BYTES))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
