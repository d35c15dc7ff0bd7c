"""Runs one task attempt as a child process and watches it: a new interpreter
(AttemptProcess) or a fork of the job's warm runner (WarmAttemptProcess, warm.py).

Used by the Worker daemon (daemon.py). The child is `python -m mapreduce.worker.task`
in its own session (so a kill reaches anything user code started), its stderr goes to
the attempt's log file, and its protocol lines come back on a pipe. An attempt that
sends nothing for its timeout is killed and failed; one that exits without a result
(a crash, os._exit, a signal) is failed with the end of its log.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mapreduce.worker.warm import JobRunner

log = logging.getLogger("mapreduce.worker")

# A protocol line longer than this is a broken child, not a message.
MAX_PROTOCOL_LINE_BYTES = 1024 * 1024
LOG_TAIL_BYTES = 4000
KILL_WAIT_S = 5.0


@dataclass
class AttemptOutcome:
    succeeded: bool
    error: str = ""
    counters: list[list] = field(default_factory=list)


class AttemptProcess:
    """riders: uber mode's reduce attempts run in this process after its map, by
    attempt id, with their outcomes as the process reported them (an
    {"uber_result": {"attempt_id", "result", "counters" | "error"}} line each,
    before the map's own result)."""

    def __init__(self, attempt_id: str, spec: dict, timeout_s: float,
                 log_path: pathlib.Path, env: dict[str, str]) -> None:
        self.attempt_id = attempt_id
        self.spec = spec
        self.timeout_s = timeout_s
        self.log_path = log_path
        self.env = env
        self.progress = 0.0
        self._process: asyncio.subprocess.Process | None = None
        self.killed = False
        self.riders: dict[str, AttemptOutcome] = {}

    async def run(self) -> AttemptOutcome:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            # The child works in the package folder (shipped files open by name); -P
            # keeps that folder off the front of sys.path, so a shipped file can never
            # shadow the engine's own modules.
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-P", "-m", "mapreduce.worker.task",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log_file, start_new_session=True, env=self.env,
                cwd=self.spec["package_dir"], limit=MAX_PROTOCOL_LINE_BYTES)
        if self.killed:  # killed while starting
            self._signal()
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(self.spec).encode())
        await process.stdin.drain()
        process.stdin.close()
        outcome = None
        try:
            outcome = await self._read(process.stdout)
        finally:
            if outcome is None:
                self._signal()
            await self._reap()
        if outcome is not None:
            return outcome
        if self.killed:
            return AttemptOutcome(False, "killed")
        return AttemptOutcome(False, f"task process exited with code {process.returncode} "
                                     f"without a result; end of its log:\n{self._log_tail()}")

    async def _read(self, stdout: asyncio.StreamReader) -> AttemptOutcome | None:
        while True:
            try:
                line = await asyncio.wait_for(stdout.readline(), self.timeout_s)
            except asyncio.TimeoutError:
                self._signal()
                await self._reap()
                return AttemptOutcome(False, f"attempt timed out: no progress for "
                                             f"{self.timeout_s:g} s; end of its log:\n"
                                             f"{self._log_tail()}")
            except ValueError:  # longer than the stream limit
                return AttemptOutcome(False, "task process sent a malformed message")
            if not line:
                return None
            try:
                message = json.loads(line)
            except ValueError:
                return AttemptOutcome(False, "task process sent a malformed message")
            if "progress" in message:
                self.progress = float(message["progress"])
            elif isinstance(message.get("uber_result"), dict):
                self._rider_result(message["uber_result"])
            elif message.get("result") == "succeeded":
                return AttemptOutcome(True, counters=list(message.get("counters", [])))
            elif message.get("result") == "failed":
                return AttemptOutcome(False, str(message.get("error", "")))

    def _rider_result(self, result: dict) -> None:
        attempt_id = str(result.get("attempt_id", ""))
        if attempt_id not in self.spec.get("uber_reduces_ids", ()):
            return   # not one this process was given
        if result.get("result") == "succeeded":
            self.riders[attempt_id] = AttemptOutcome(True, counters=list(result.get("counters", [])))
        else:
            self.riders[attempt_id] = AttemptOutcome(False, str(result.get("error", "")))

    def kill(self) -> None:
        """Stops the attempt for good (the JobTracker no longer wants it)."""
        self.killed = True
        self._signal()

    def _signal(self) -> None:
        """SIGKILL to the child's whole process group."""
        if self._process is not None and self._process.returncode is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def _reap(self) -> None:
        if self._process is None:
            return
        try:
            await asyncio.wait_for(self._process.wait(), KILL_WAIT_S)
        except asyncio.TimeoutError:
            log.error("%s: task process %d did not exit after SIGKILL", self.attempt_id,
                      self._process.pid)

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, self.log_path.stat().st_size - LOG_TAIL_BYTES))
                return f.read().decode("utf-8", "replace").strip() or "(empty)"
        except OSError:
            return "(no log)"


class WarmAttemptProcess(AttemptProcess):
    """An attempt forked by the job's warm runner (warm.py) instead of a new
    interpreter: the same protocol on a pipe, the same log file, killed the same way
    (its pid leads its own session). It is not the Worker's child, so its end is the
    end of its protocol pipe."""

    def __init__(self, attempt_id: str, spec: dict, timeout_s: float,
                 log_path: pathlib.Path, runner: "JobRunner") -> None:
        super().__init__(attempt_id, spec, timeout_s, log_path, {})
        self._runner = runner
        self._pid: int | None = None
        self._ended = False

    async def run(self) -> AttemptOutcome:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._pid = await self._runner.start_attempt(self.spec, write_fd, log_fd)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
            os.close(log_fd)
        if self.killed:  # killed while starting
            self._signal()
        loop = asyncio.get_running_loop()
        stdout = asyncio.StreamReader(limit=MAX_PROTOCOL_LINE_BYTES)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout), os.fdopen(read_fd, "rb", 0))
        outcome = None
        try:
            outcome = await self._read(stdout)
        finally:
            if outcome is None:
                self._signal()
            self._ended = True
            transport.close()
        if outcome is not None:
            return outcome
        if self.killed:
            return AttemptOutcome(False, "killed")
        return AttemptOutcome(False, "task process exited without a result; end of its "
                                     f"log:\n{self._log_tail()}")

    def _signal(self) -> None:
        if self._pid is not None and not self._ended:
            try:
                os.killpg(self._pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    async def _reap(self) -> None:
        """Nothing to wait for: the runner reaps its children."""
