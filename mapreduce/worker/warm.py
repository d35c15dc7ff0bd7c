"""The Worker's side of the warm task runners (zygote.py): start the zygote, open one
job runner per job, start attempts in it.

Used by the Worker daemon (daemon.py) and by attempts.WarmAttemptProcess. Starting
an attempt costs a fork of a process that has everything imported (tens of ms)
instead of a new interpreter importing gRPC, the DFS client and the engine (about
0.2 s of CPU, seconds on a loaded machine). When the zygote cannot be started or
dies, attempts are started the old way, one fresh interpreter each.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys

log = logging.getLogger("mapreduce.worker")

ZYGOTE_MODULE = "mapreduce.worker.zygote"
REPLY_TIMEOUT_S = 30.0


class JobRunner:
    """One job's runner process: attempts of that job start here, one at a time."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._buffer = b""

    async def start_attempt(self, spec: dict, protocol_fd: int, log_fd: int) -> int:
        """Forks the attempt; its pid (the leader of its own session)."""
        async with self._lock:
            return await asyncio.to_thread(self._start, spec, protocol_fd, log_fd)

    def _start(self, spec: dict, protocol_fd: int, log_fd: int) -> int:
        message = json.dumps({"spec": spec}).encode() + b"\n"
        socket.send_fds(self._conn, [message], [protocol_fd, log_fd])
        while b"\n" not in self._buffer:
            data = self._conn.recv(4096)
            if not data:
                raise OSError("the job runner exited")
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return int(json.loads(line)["pid"])

    def close(self) -> None:
        self._conn.close()


class WarmRunners:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._control: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._jobs: dict[str, JobRunner] = {}

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-m", ZYGOTE_MODULE, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=self._env, stdin=subprocess.DEVNULL,
                start_new_session=True)
        except OSError as e:
            ours.close()
            log.warning("no warm task runners (attempts start a new interpreter): %s", e)
            return
        finally:
            theirs.close()
        ours.settimeout(REPLY_TIMEOUT_S)
        self._control = ours

    def available(self) -> bool:
        return (self._control is not None and self._process is not None
                and self._process.poll() is None)

    def job(self, job_id: str) -> JobRunner | None:
        """The job's runner, forked from the zygote on first use; None without one."""
        runner = self._jobs.get(job_id)
        if runner is not None or not self.available():
            return runner
        assert self._control is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self._control, [b"j"], [theirs.fileno()])
        except OSError as e:
            ours.close()
            log.warning("warm task runner unavailable: %s", e)
            return None
        finally:
            theirs.close()
        ours.settimeout(REPLY_TIMEOUT_S)
        runner = self._jobs[job_id] = JobRunner(ours)
        return runner

    def end_job(self, job_id: str) -> None:
        runner = self._jobs.pop(job_id, None)
        if runner is not None:
            runner.close()

    def stop(self) -> None:
        for job_id in list(self._jobs):
            self.end_job(job_id)
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, 9)
                self._process.wait()
