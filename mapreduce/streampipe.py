"""One streaming command process: lines in on stdin, `key<TAB>value` lines out on stdout.

Used by the streaming job (mapreduce/streaming.py) for its mapper, combiner and
reducer commands, in the inline runner's process and in a Worker's task child alike.
The command runs under `/bin/sh -c` in a working folder holding the shipped files.

Why stdout is spooled to a file: the engine pulls input through the task one record
at a time and cannot take output while it is writing a record, so a command that
prints much while still reading (or prints everything at the end, like `sort`)
would fill a bounded buffer and deadlock, or an unbounded one would fill memory.
A thread copies stdout to a spool file as it comes; the pairs are read back from
it only after the command exited with status 0, so a failed command leaves no
output behind, and memory stays one read chunk.

Hadoop Streaming's rules: each output line splits at its first tab into key and
value; a line without a tab is the key alone (its value None, written back as the
line unchanged); lines must be UTF-8. stderr goes to the task's log; its last lines
are kept for the error message, and `reporter:counter:GROUP,NAME,AMOUNT` lines
increment counters.
"""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any, Iterator

from mapreduce.runfile import MAX_RECORD_BYTES
from minidfs.errors import JobError

STDERR_TAIL_LINES = 20
MAX_STDERR_LINE_CHARS = 1000
SPOOL_CHUNK_BYTES = 1024 * 1024
# One output line is one record: the engine's record limit bounds it (and the memory
# a line without an end could take).
MAX_LINE_BYTES = MAX_RECORD_BYTES
COPY_CHUNK_BYTES = 64 * 1024
# Counters a command may create through reporter:counter lines (the engine's own
# limit of 120 per task still applies on top).
MAX_COMMAND_COUNTERS = 100
COMMAND_NOT_FOUND_STATUS = 127
COUNTER_PREFIX = "reporter:counter:"
STATUS_PREFIX = "reporter:status:"


class StreamingError(JobError):
    """A streaming command failed or printed what the contract does not allow. The
    message says everything; a Python traceback of the engine would only bury it."""

    without_traceback = True


def split_line(line: str) -> tuple[str, str | None]:
    """Hadoop Streaming's output rule: key up to the first tab, the rest is the value."""
    key, tab, value = line.partition("\t")
    return (key, value) if tab else (line, None)


def _pair_of(line: str) -> tuple[str, str | None]:
    """split_line of one output line without its newline (a trailing \r dropped)."""
    if line[-1:] == "\r":
        line = line[:-1]
    key, tab, value = line.partition("\t")
    return (key, value) if tab else (line, None)


def join_pair(key: Any, value: Any) -> bytes:
    """The stdin line of one (key, value) record: the exact inverse of split_line."""
    text = str(key) if value is None else f"{key}\t{value}"
    return text.encode("utf-8", "surrogateescape") + b"\n"


class CommandPipe:
    """Starts `command`; write() feeds its stdin; finish() waits and yields its pairs."""

    def __init__(self, role: str, command: str, cwd: str, env: dict[str, str]) -> None:
        self.role = role
        self.command = command
        self._spool = tempfile.TemporaryFile(dir=cwd, prefix=f".{role}-stdout-")
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._counters: dict[tuple[str, str], int] = {}
        self._stdin_closed = False
        self._spool_error = ""
        try:
            self._proc = subprocess.Popen(
                ["/bin/sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, cwd=cwd, env=env, bufsize=COPY_CHUNK_BYTES)
        except OSError as e:
            self._spool.close()
            raise StreamingError(f"streaming {role} `{command}` could not start: {e}") from None
        self._threads = [threading.Thread(target=self._copy_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()

    def write(self, data: bytes) -> None:
        """Feeds stdin; a command that stopped reading (exited early, like `head`) is
        not an error here: its exit status decides."""
        if self._stdin_closed:
            return
        try:
            self._proc.stdin.write(data)   # type: ignore[union-attr]
        except (BrokenPipeError, ValueError):
            self._stdin_closed = True

    def finish(self, counters: Any = None) -> Iterator[tuple[str, str | None]]:
        """Closes stdin, waits for the command, raises StreamingError unless it exited
        0, then yields its output pairs (raising at the first line that is not UTF-8).
        counters: the task's counters, for the command's reporter:counter lines."""
        try:
            self._close_stdin()
            status = self._proc.wait()
            for thread in self._threads:
                thread.join()
            if counters is not None:
                for (group, name), n in self._counters.items():
                    counters.increment(group, name, n)
            if status != 0:
                raise StreamingError(self._failure(status))
            if self._spool_error:
                raise StreamingError(f"streaming {self.role} `{self.command}`: {self._spool_error}")
            yield from self._pairs()
        finally:
            self.close()

    def close(self) -> None:
        """Ends the command if it still runs (a failed task) and drops the spool."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_stdin()
        self._spool.close()

    def _close_stdin(self) -> None:
        if not self._stdin_closed:
            self._stdin_closed = True
            try:
                self._proc.stdin.close()   # type: ignore[union-attr]
            except BrokenPipeError:
                pass

    def _failure(self, status: int) -> str:
        if status < 0:
            how = f"was killed by signal {-status}"
        elif status == COMMAND_NOT_FOUND_STATUS:
            how = "exited with status 127 (command not found)"
        else:
            how = f"exited with status {status}"
        tail = "\n".join(self._tail)
        message = f"streaming {self.role} `{self.command}` {how}"
        return f"{message}; its stderr ends:\n{tail}" if tail else f"{message} (no stderr)"

    def _pairs(self) -> Iterator[tuple[str, str | None]]:
        """The spooled output's pairs, decoded a chunk of whole lines at a time (a
        newline byte is never inside a UTF-8 sequence, so this equals decoding each
        line; the per-line work is one partition)."""
        self._spool.seek(0)
        rest = b""
        lines_before = 0
        while True:
            chunk = self._spool.read(SPOOL_CHUNK_BYTES)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if len(rest) > MAX_LINE_BYTES:
                number = lines_before + data.count(b"\n") + 1
                raise StreamingError(
                    f"streaming {self.role} `{self.command}` printed a line longer than "
                    f"{MAX_LINE_BYTES} bytes (output line {number})")
            if data:
                lines = self._decode(data, lines_before).split("\n")
                lines.pop()   # after the last newline: nothing
                lines_before += len(lines)
                yield from map(_pair_of, lines)
        if rest:
            yield _pair_of(self._decode(rest, lines_before))

    def _decode(self, data: bytes, lines_before: int) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            start = data.rfind(b"\n", 0, e.start) + 1
            end = data.find(b"\n", e.start)
            line = data[start:end if end >= 0 else len(data)]
            number = lines_before + data.count(b"\n", 0, start) + 1
            raise StreamingError(
                f"streaming {self.role} `{self.command}` printed a line that is not UTF-8 "
                f"(output line {number}, byte {e.start - start}): {line[:80]!r}") from None

    def _copy_stdout(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            while chunk := stdout.read1(COPY_CHUNK_BYTES):
                self._spool.write(chunk)
            self._spool.flush()
        except OSError as e:
            # A full disk: keep draining, or the command blocks on its stdout for ever.
            self._spool_error = f"its output could not be spooled: {e}"
            while stdout.read1(COPY_CHUNK_BYTES):
                pass

    def _read_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        for raw in stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")[:MAX_STDERR_LINE_CHARS]
            if line.startswith(COUNTER_PREFIX) and self._count(line[len(COUNTER_PREFIX):]):
                continue
            if line.startswith(STATUS_PREFIX):
                continue
            self._tail.append(line)
            # The task's stderr is its log (on a Worker, the attempt's log file).
            sys.stderr.write(f"[{self.role}] {line}\n")

    def _count(self, spec: str) -> bool:
        """reporter:counter:GROUP,NAME,AMOUNT (Hadoop Streaming); False if malformed."""
        parts = spec.rsplit(",", 2)
        if len(parts) != 3:
            return False
        group, name, amount = parts
        try:
            n = int(amount)
        except ValueError:
            return False
        key = (group, name)
        if key not in self._counters and len(self._counters) >= MAX_COMMAND_COUNTERS:
            return False
        self._counters[key] = self._counters.get(key, 0) + n
        return True


def working_folder(shipped: dict[str, str]) -> str:
    """A fresh folder with a copy of every shipped file, executable (Hadoop puts
    shipped files in the task's working folder, so `--mapper ./wc.py` runs)."""
    folder = tempfile.mkdtemp(prefix="streaming-")
    for name, path in shipped.items():
        target = os.path.join(folder, name)
        with open(path, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(COPY_CHUNK_BYTES):
                dst.write(chunk)
        os.chmod(target, 0o755)
    return folder


def command_env(folder: str, extra: dict[str, str]) -> dict[str, str]:
    """The task's environment, the working folder first on PATH (so a shipped script
    runs by its bare name), plus Hadoop Streaming's job variables."""
    env = dict(os.environ)
    env["PATH"] = folder + os.pathsep + env.get("PATH", os.defpath)
    env.update(extra)
    return env
