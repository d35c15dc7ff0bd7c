"""One task attempt in its own process: `python -m mapreduce.worker.task`.

Started by the Worker (mapreduce/worker/attempts.py) for every attempt, or forked by
a warm runner (mapreduce/worker/zygote.py, which calls run_attempt), so user code
that raises, hangs or calls os._exit only ends this process. It reads its assignment
as JSON on stdin, imports the job's module from the package folder, runs the map or
reduce task with the same engine code as the inline runner, and writes JSON lines on
its own copy of stdout:

    {"progress": 0.42}                                      every so often
    {"result": "succeeded", "counters": [[group, name, n], ...]}
    {"result": "failed", "error": "<traceback>"}

The process's stdout (fd 1) is pointed at stderr, which the Worker saves as the
attempt's log, so a user's print() cannot garble the protocol.
"""
from __future__ import annotations

import json
import os
import pathlib
import sys
import threading
import time
from typing import Any, BinaryIO, Callable

from mapreduce import counters as C
from mapreduce import ids
from mapreduce.committer import OutputCommitter
from mapreduce.counters import Counters
from mapreduce.dfs import DfsFileSystem
from mapreduce.splits import Split
from mapreduce.mapside import MapOutput
from mapreduce.tasks import run_map_task, run_reduce_task
from mapreduce.usercode import user_traceback
from mapreduce.worker.fetcher import AttemptKilled, Fetcher
from mapreduce.worker.loader import load_job_class
from minidfs.rpc import channels

PROGRESS_INTERVAL_S = 0.5
SHUFFLE_SHARE = 1 / 3   # of a reduce's progress, as in Hadoop (copy, then sort+reduce)


class Reporter:
    """Writes protocol lines; progress at most every PROGRESS_INTERVAL_S."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._last = 0.0

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self.send({"progress": round(min(1.0, max(0.0, fraction)), 4)})

    def send(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._stream.write(json.dumps(message) + "\n")
            self._stream.flush()


def _jobtracker(address: str):
    from mapreduce.rpc import jobtracker_pb2_grpc

    return jobtracker_pb2_grpc.JobTrackerStub(channels.sync_channel(address))


def _commit_output(fs: DfsFileSystem, jobtracker, spec: dict, part: str,
                   write: Callable[[BinaryIO], None]) -> None:
    """Writes the attempt's file under _temporary and moves it into the output only
    when the JobTracker grants this attempt the commit."""
    from mapreduce.rpc import jobtracker_pb2 as pb

    attempt = spec["attempt_id"]
    committer = OutputCommitter(fs, spec["output"])
    committer.setup_attempt(attempt)
    with fs.open_write(committer.attempt_file(attempt, part)) as out:
        write(out)
    reply = jobtracker.CanCommit(pb.CommitRequest(attempt_id=attempt),
                                 timeout=channels.METADATA_DEADLINE_S)
    if not reply.allowed:
        committer.abort_attempt(attempt)
        raise AttemptKilled(f"{attempt}: another attempt of this task committed")
    committer.commit_attempt(attempt, part)


def run(spec: dict, reporter: Reporter, job_class: type | None = None) -> Counters:
    """Runs the attempt in `spec`; job_class: the job's class when this process has
    imported it already (a warm runner), else it is imported here."""
    package = pathlib.Path(spec["package_dir"])
    if job_class is None:
        job_class = load_job_class(package, spec["module_name"], spec["module_file"],
                                   spec["class_name"])
    job = job_class()
    job._bind_files({name: str(package / name) for name in spec["files"]})
    from minidfs import Client

    # The task reads its input and writes its output as the job's submitter (secure
    # mode: with the job's own certificate, which decides the user).
    fs = DfsFileSystem(Client(spec["conf"], client_node=spec["datanode"],
                              user=spec["user"] or None, cert_dir=spec.get("cert_dir") or None))
    jobtracker = _jobtracker(spec["jobtracker"])
    scratch = spec["attempt_dir"]
    counters = Counters()
    attempt = ids.parse_attempt(spec["attempt_id"])
    if attempt.kind == ids.MAP:
        split = Split(spec["path"], spec["start"], spec["length"])
        map_output = None
        with fs.open_read(split.path) as stream:
            if spec["num_reducers"] > 0:
                map_output = run_map_task(job, split, stream, spec["num_reducers"], scratch,
                                          counters, progress=reporter.progress)
            else:
                _commit_output(fs, jobtracker, spec, ids.part_name(ids.MAP, attempt.index),
                               lambda out: run_map_task(job, split, stream, 0, scratch, counters,
                                                        text_out=out, progress=reporter.progress))
        for rider in spec.get("uber_reduces") or ():
            assert map_output is not None
            reporter.send({"uber_result": _run_uber_reduce(
                rider, job_class, fs, jobtracker, map_output, reporter)})
    else:
        fetcher = Fetcher(jobtracker, attempt.job_id, spec["attempt_id"], attempt.index,
                          scratch, lambda f: reporter.progress(f * SHUFFLE_SHARE),
                          fs.client.channel_pool)
        runs = fetcher.fetch_all(spec["num_maps"])
        counters.increment(C.FRAMEWORK, "reduce_shuffle_bytes", fetcher.bytes_fetched)
        _commit_output(fs, jobtracker, spec, ids.part_name(ids.REDUCE, attempt.index),
                       lambda out: run_reduce_task(
                           job, runs, scratch, out, counters,
                           progress=lambda f: reporter.progress(SHUFFLE_SHARE + f * (1 - SHUFFLE_SHARE))))
    fs.close()
    return counters


def _run_uber_reduce(spec: dict, job_class: type, fs: DfsFileSystem, jobtracker,
                     map_output: MapOutput, reporter: Reporter) -> dict:
    """Uber mode: a reduce attempt of this job run in this process right after its
    only map, over that map's local output (no fetch), with a job object of its own
    (as in a process of its own); its output commits like any reduce's. Returns its
    result for the protocol; its failure is its own, not the map's."""
    try:
        job = job_class()
        package = pathlib.Path(spec["package_dir"])
        job._bind_files({name: str(package / name) for name in spec["files"]})
        attempt = ids.parse_attempt(spec["attempt_id"])
        counters = Counters()
        runs = [(map_output.path, map_output.segments[attempt.index])]
        _commit_output(fs, jobtracker, spec, ids.part_name(ids.REDUCE, attempt.index),
                       lambda out: run_reduce_task(job, runs, spec["attempt_dir"], out, counters,
                                                   progress=reporter.progress))
    except Exception as e:  # noqa: BLE001 - the reduce attempt's failure
        return {"attempt_id": spec["attempt_id"], "result": "failed", "error": user_traceback(e)}
    return {"attempt_id": spec["attempt_id"], "result": "succeeded",
            "counters": counters.triples()}


# Secure mode: the environment a task keeps; everything else (a Worker's settings,
# anything naming its key material) is dropped before user code runs.
SANDBOX_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "PYTHONUNBUFFERED",
                    "PYTHONHASHSEED", "TMPDIR")


def sandbox(spec: dict, keep_fd: int) -> None:
    """Secure mode, before any user code: a scrubbed environment in which the job's
    cert dir is the only key material ($MINIDFS_CERT_DIR, so a Client the user's code
    makes acts as the job's user too), no descriptor but stdio and the protocol pipe
    (a warm runner's fork inherits its connection to the Worker), and the CPU /
    address-space rlimits of the settings (0 = none). The attempt timeout is the
    Worker's (attempts.py)."""
    limits = spec.get("sandbox")
    if not limits:
        return
    import resource

    for low, high in ((3, keep_fd), (keep_fd + 1, 65536)):
        if low < high:
            os.closerange(low, high)

    kept = {k: v for k, v in os.environ.items() if k in SANDBOX_ENV_KEEP}
    os.environ.clear()
    os.environ.update(kept)
    os.environ["MINIDFS_CERT_DIR"] = spec["cert_dir"]
    os.environ["MINIDFS_USER"] = spec.get("user") or ""
    if limits.get("cpu_s"):
        resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"]))
    if limits.get("memory_bytes"):
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))


def run_attempt(spec: dict, protocol, job_class: type | None = None) -> int:
    """Runs one attempt and reports its result on `protocol`; the exit code."""
    reporter = Reporter(protocol)
    cpu_started = time.process_time()
    try:
        sandbox(spec, protocol.fileno())
        counters = run(spec, reporter, job_class)
        # Hadoop's CPU_MILLISECONDS: this process's user + system time, threads
        # included (the DFS reads), so a job shows how much of its time was work.
        counters.increment(C.FRAMEWORK, "cpu_milliseconds",
                           round((time.process_time() - cpu_started) * 1000))
    except BaseException as e:  # noqa: BLE001 - everything is this attempt's failure
        reporter.send({"result": "failed", "error": user_traceback(e)})
        return 1
    reporter.send({"result": "succeeded", "counters": counters.triples()})
    return 0


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        spec = json.loads(sys.stdin.read())
    except ValueError as e:
        Reporter(protocol).send({"result": "failed", "error": f"bad assignment: {e}"})
        return 1
    return run_attempt(spec, protocol)


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # Skip interpreter teardown: gRPC and DFS threads have nothing left to say.
    os._exit(code)
