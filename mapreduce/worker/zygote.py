"""Warm task runners: `python -P -m mapreduce.worker.zygote FD`, started by the Worker.

Started once per Worker (mapreduce/worker/warm.py) as a fresh exec'd process, so it
inherits nothing of the Worker's gRPC state. It imports the whole task engine (the
DFS client, gRPC, msgpack, the map and reduce code) once and creates no gRPC object,
so forking it is safe (gRPC forbids fork once channels or servers exist; here the
children create their own). Three levels:

  zygote       reads job connections (a socketpair end, passed over FD with
               SCM_RIGHTS) and forks a job runner for each;
  job runner   one per job, a fresh process per job so jobs never share state: it
               imports the job's module once (from the package folder, which is
               its working folder), then for every attempt message (a JSON line
               with the attempt's protocol pipe and log file as fds) forks
               an attempt and answers its pid;
  attempt      a new session (the Worker kills its process group), stderr and
               stdout to the log, the protocol on its pipe; runs task.run_attempt
               with the already imported class and leaves with os._exit.

A job runner ends when the Worker closes its connection (the job's cleanup); the
zygote ends when the Worker closes FD. Children are reaped automatically (SIGCHLD
ignored) except in an attempt, where user code may wait for its own children.
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import sys
import traceback

from mapreduce.worker import task
from mapreduce.worker.loader import load_job_class

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_FDS = 2


def _preload() -> None:
    """Imports what every attempt imports lazily (the DFS client and its streams, the
    JobTracker stubs, the secure-mode helpers), so a forked attempt imports nothing:
    measured, an attempt spent 60-90 ms of its CPU importing the client, more where
    no .pyc files are written. Importing creates no gRPC object, so forking stays safe."""
    import minidfs.client.append  # noqa: F401
    import minidfs.security.credentials  # noqa: F401
    import minidfs.client.client  # noqa: F401
    import minidfs.client.input_stream  # noqa: F401
    import minidfs.client.output_stream  # noqa: F401
    import mapreduce.rpc.jobtracker_pb2_grpc  # noqa: F401
    import mapreduce.textoutput  # noqa: F401
    import tomllib  # noqa: F401
    import grpc.experimental  # noqa: F401


def main(control_fd: int) -> int:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    _preload()
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 16, 1)
        except OSError:
            return 0
        if not fds:
            return 0   # the Worker closed the control socket
        if os.fork() == 0:
            control.close()
            os._exit(_job_runner(socket.socket(fileno=fds[0])))
        os.close(fds[0])


def _job_runner(conn: socket.socket) -> int:
    reader = _Messages(conn)
    job_class = None
    load_error = None
    loaded = False
    while True:
        message, fds = reader.next()
        if message is None:
            return 0
        spec = message["spec"]
        if not loaded:
            loaded = True
            try:
                os.chdir(spec["package_dir"])
                job_class = load_job_class(pathlib.Path(spec["package_dir"]),
                                           spec["module_name"], spec["module_file"],
                                           spec["class_name"])
            except BaseException:  # noqa: BLE001 - every attempt of the job reports it
                load_error = traceback.format_exc()
        pid = os.fork()
        if pid == 0:
            conn.close()
            os._exit(_attempt(spec, fds, job_class, load_error))
        for fd in fds:
            os.close(fd)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _attempt(spec: dict, fds: list[int], job_class, load_error: str | None) -> int:
    protocol_fd, log_fd = fds
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 2)
        os.dup2(log_fd, 1)
        os.close(null)
        os.close(log_fd)
        sys.stdout = sys.stderr
        protocol = os.fdopen(protocol_fd, "w", encoding="utf-8")
        if load_error is not None:
            task.Reporter(protocol).send({"result": "failed", "error": load_error})
            code = 1
        else:
            code = task.run_attempt(spec, protocol, job_class)
        sys.stderr.flush()
        return code
    except BaseException:  # noqa: BLE001 - the Worker sees a missing result
        return 1


class _Messages:
    """JSON lines with the fds that came with them."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""
        self.fds: list[int] = []

    def next(self) -> tuple[dict | None, list[int]]:
        while b"\n" not in self.buffer:
            try:
                data, fds, _, _ = socket.recv_fds(self.conn, 65536, MAX_FDS)
            except OSError:
                return None, []
            self.fds += fds
            if not data:
                return None, []
            self.buffer += data
            if len(self.buffer) > MAX_MESSAGE_BYTES:
                return None, []
        line, _, self.buffer = self.buffer.partition(b"\n")
        fds, self.fds = self.fds[:MAX_FDS], self.fds[MAX_FDS:]
        return json.loads(line), fds


if __name__ == "__main__":
    code = main(int(sys.argv[1]))
    os._exit(code)
