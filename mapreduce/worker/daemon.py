"""The Worker: heartbeats to the JobTracker and runs the attempts it is given.

Created by mapreduce/worker/server.py. One heartbeat at a time (so the JobTracker
always sees a consistent list of running attempts): it carries the free slots, the
running attempts' progress and the results of finished ones (re-sent until a
heartbeat is answered); the reply brings new attempts, attempts to kill and finished
jobs whose local files can go. A finished attempt triggers the next heartbeat at once
(Hadoop's out-of-band heartbeat), and so does the JobTracker's doorbell (WatchWork, a
stream that says "there may be work": a job was submitted, a map finished elsewhere),
so a new job's tasks and the reduces after the last map start without waiting for
the heartbeat interval, and an idle Worker only heartbeats for liveness.

A Worker has `slots` map slots and as many reduce slots (cluster.toml `slots`, 0 =
the number of cores): separate pools, so reducers waiting for re-run maps never hold
the slots those maps need. Each attempt runs in a process of its own (attempts.py),
forked by the job's warm runner (warm.py, zygote.py: the engine imported once per
Worker, the job's module once per job) after the job's package was fetched once per
job into the local job folder (layout.py). A map attempt's output
stays on local disk for the shuffle server until the job is cleaned up.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import shutil
import time
from dataclasses import dataclass, field

import grpc

import mapreduce
from mapreduce import ids
from mapreduce.rpc import jobtracker_pb2 as pb
from mapreduce.rpc import jobtracker_pb2_grpc
from mapreduce.topology import worker_datanode
from mapreduce.worker import layout
from mapreduce.worker.attempts import AttemptOutcome, AttemptProcess, WarmAttemptProcess
from mapreduce.worker.warm import WarmRunners
from minidfs.config import ClusterConfig, NodeConfig
from minidfs.errors import ConfigError
from minidfs.rpc import channels

log = logging.getLogger("mapreduce.worker")

MAX_SLOTS = 64
# Results kept for re-sending while the JobTracker is unreachable.
MAX_UNSENT_RESULTS = 256
MAX_ERROR_CHARS = 16_000
HEARTBEAT_FAILURE_LOG_EVERY = 20
STOP_WAIT_S = 5.0


@dataclass
class RunningAttempt:
    assignment: pb.TaskAssignment
    task: asyncio.Task | None = None
    process: AttemptProcess | None = None
    killed: bool = False
    # Uber mode: the reduce attempts that run in this map attempt's process, and
    # whether its process spec is made (after which no reduce can join).
    riders: list["RunningAttempt"] = field(default_factory=list)
    spec_made: bool = False
    host: "RunningAttempt | None" = None    # a rider's map attempt


@dataclass
class PackageInfo:
    path: pathlib.Path
    module_name: str
    module_file: str
    class_name: str
    files: list[str] = field(default_factory=list)
    cert_dir: str = ""    # secure mode: the job's own certificate (job_credentials.py)


class WorkerDaemon:
    def __init__(self, conf: ClusterConfig, node: NodeConfig) -> None:
        if conf.jobtracker is None:
            raise ConfigError(f"{conf.path}: no jobtracker configured")
        self.conf = conf
        self.node = node
        self.data_dir = node.data_dir
        self.slots = min(MAX_SLOTS, node.slots or os.cpu_count() or 1)
        self.incarnation = f"{time.time_ns()}-{os.getpid()}"
        self.datanode = worker_datanode(conf, node) or ""
        self.interval_s = conf.settings.mapreduce_heartbeat_interval_s
        self.running: dict[str, RunningAttempt] = {}
        self.unsent: list[pb.AttemptResult] = []
        self.wake = asyncio.Event()
        self.heard_from_jobtracker = False
        self._packages: dict[str, PackageInfo] = {}
        self._package_locks: dict[str, asyncio.Lock] = {}
        self._channel = channels.aio_channel(conf.jobtracker.address)
        self._jt = jobtracker_pb2_grpc.JobTrackerStub(self._channel)
        self._child_env = _child_env()
        self._warm = WarmRunners(self._child_env)

    def prepare(self) -> None:
        """A new incarnation starts empty: the JobTracker re-runs whatever the last one had."""
        jobs = layout.jobs_dir(self.data_dir)
        if jobs.exists():
            shutil.rmtree(jobs)
        jobs.mkdir(parents=True)
        self._warm.start()

    async def run(self) -> None:
        doorbell = asyncio.get_running_loop().create_task(self._watch_work())
        try:
            await self._heartbeats()
        finally:
            doorbell.cancel()
            await asyncio.gather(doorbell, return_exceptions=True)

    async def _watch_work(self) -> None:
        """Wakes the heartbeat loop whenever the JobTracker says there may be work;
        reconnects after an interval when the stream breaks or ends."""
        while True:
            try:
                async for _ in self._jt.WatchWork(pb.WorkRequest(worker=self.node.name)):
                    self.wake.set()
            except grpc.RpcError:
                pass
            await asyncio.sleep(self.interval_s)

    async def _heartbeats(self) -> None:
        failures = 0
        while True:
            sent = list(self.unsent)
            try:
                reply = await self._jt.Heartbeat(self._heartbeat(sent),
                                                 timeout=channels.METADATA_DEADLINE_S)
            except grpc.RpcError as e:
                if failures % HEARTBEAT_FAILURE_LOG_EVERY == 0:
                    log.warning("heartbeat to the JobTracker failed: %s", e.details() or e.code())
                failures += 1
                await asyncio.sleep(self.interval_s)
                continue
            failures = 0
            self.heard_from_jobtracker = True
            del self.unsent[:len(sent)]
            self.interval_s = reply.heartbeat_interval_s or self.interval_s
            for attempt_id in reply.kill:
                await self._kill(attempt_id)
            for job_id in reply.cleanup_jobs:
                await self._cleanup(job_id)
            for assignment in reply.assignments:
                self._start(assignment)
            try:
                await asyncio.wait_for(self.wake.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()

    def known_to_jobtracker(self) -> bool:
        return self.heard_from_jobtracker

    async def stop(self) -> None:
        tasks = [entry.task for entry in self.running.values() if entry.task is not None]
        for attempt_id in list(self.running):
            await self._kill(attempt_id)
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)
        await asyncio.to_thread(self._warm.stop)
        await self._channel.close()

    def _heartbeat(self, finished: list[pb.AttemptResult]) -> pb.HeartbeatRequest:
        busy = {ids.MAP: 0, ids.REDUCE: 0}
        for entry in self.running.values():
            busy[entry.assignment.kind] += 1
        request = pb.HeartbeatRequest(
            worker=self.node.name, incarnation=self.incarnation,
            free_map_slots=max(0, self.slots - busy[ids.MAP]),
            free_reduce_slots=max(0, self.slots - busy[ids.REDUCE]), finished=finished)
        for attempt_id, entry in self.running.items():
            progress = entry.process.progress if entry.process else 0.0
            request.running.append(pb.AttemptProgress(attempt_id=attempt_id, progress=progress))
        return request

    # ---- attempts -----------------------------------------------------------

    def _start(self, assignment: pb.TaskAssignment) -> None:
        attempt_id = assignment.attempt_id
        if attempt_id in self.running:
            return
        entry = RunningAttempt(assignment)
        host = self.running.get(assignment.uber_map_attempt_id or "\0")
        if host is not None and not host.spec_made and not host.killed:
            # Uber mode: runs in the map's process (reported by _run_attempt).
            entry.host = host
            host.riders.append(entry)
            self.running[attempt_id] = entry
            return
        self.running[attempt_id] = entry
        entry.task = asyncio.get_running_loop().create_task(self._run_attempt(entry))

    async def _run_attempt(self, entry: RunningAttempt) -> None:
        a = entry.assignment
        outcome = AttemptOutcome(False, "killed")
        try:
            package = await self._package(a.job_id)
            attempt_dir = layout.attempt_dir(self.data_dir, a.attempt_id)
            await asyncio.to_thread(attempt_dir.mkdir, parents=True, exist_ok=True)
            spec = self._spec(a, package, attempt_dir)
            entry.spec_made = True
            if entry.riders:
                spec["uber_reduces"] = [await self._rider_spec(r, package) for r in entry.riders]
                spec["uber_reduces_ids"] = [r.assignment.attempt_id for r in entry.riders]
            log_path = layout.attempt_log(self.data_dir, a.attempt_id)
            runner = self._warm.job(a.job_id)
            entry.process = (
                WarmAttemptProcess(a.attempt_id, spec, a.timeout_s, log_path, runner)
                if runner is not None else
                AttemptProcess(a.attempt_id, spec, a.timeout_s, log_path, self._child_env))
            for rider in entry.riders:
                rider.process = entry.process
            if not entry.killed:
                log.info("%s starting%s", a.attempt_id, "".join(
                    f" with {r.assignment.attempt_id} (uber)" for r in entry.riders))
                outcome = await entry.process.run()
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001 - reported as the attempt's failure
            log.exception("%s could not run", a.attempt_id)
            outcome = AttemptOutcome(False, f"worker {self.node.name} could not run the attempt: {e}")
        finally:
            self.running.pop(a.attempt_id, None)
            for rider in entry.riders:
                self.running.pop(rider.assignment.attempt_id, None)
        # Results go out before any await, so no heartbeat can show an attempt that is
        # neither running nor finished (the JobTracker would re-run it).
        if entry.killed:
            log.info("%s killed", a.attempt_id)
        else:
            self._report(a, outcome)
            for rider in entry.riders:
                ride = entry.process.riders.get(rider.assignment.attempt_id) if entry.process else None
                if ride is None:
                    ride = AttemptOutcome(False, f"its uber map attempt {a.attempt_id} ended "
                                                 f"first: {outcome.error or 'without running it'}")
                if not rider.killed:
                    self._report(rider.assignment, ride)
        self.wake.set()
        keep_output = outcome.succeeded and a.kind == ids.MAP and a.num_reducers > 0
        if not keep_output or entry.killed:
            await asyncio.to_thread(_remove, layout.attempt_dir(self.data_dir, a.attempt_id))
        for rider in entry.riders:
            await asyncio.to_thread(_remove, layout.attempt_dir(self.data_dir,
                                                                rider.assignment.attempt_id))

    def _report(self, a: pb.TaskAssignment, outcome: AttemptOutcome) -> None:
        log.info("%s %s", a.attempt_id, "succeeded" if outcome.succeeded else "failed")
        result = pb.AttemptResult(attempt_id=a.attempt_id, succeeded=outcome.succeeded,
                                  error=outcome.error[-MAX_ERROR_CHARS:])
        for group, name, value in outcome.counters:
            result.counters.append(pb.Counter(group=str(group), name=str(name), value=int(value)))
        if len(self.unsent) < MAX_UNSENT_RESULTS:
            self.unsent.append(result)

    async def _rider_spec(self, rider: RunningAttempt, package: PackageInfo) -> dict:
        attempt_dir = layout.attempt_dir(self.data_dir, rider.assignment.attempt_id)
        await asyncio.to_thread(attempt_dir.mkdir, parents=True, exist_ok=True)
        return self._spec(rider.assignment, package, attempt_dir)

    def _spec(self, a: pb.TaskAssignment, package: PackageInfo, attempt_dir: pathlib.Path) -> dict:
        assert self.conf.path is not None and self.conf.jobtracker is not None
        return {
            "attempt_id": a.attempt_id, "path": a.path, "start": a.start, "length": a.length,
            "num_reducers": a.num_reducers, "num_maps": a.num_maps, "output": a.output,
            "conf": str(self.conf.path), "datanode": self.datanode,
            "jobtracker": self.conf.jobtracker.address,
            "package_dir": str(package.path), "attempt_dir": str(attempt_dir),
            "module_name": package.module_name, "module_file": package.module_file,
            "class_name": package.class_name, "files": package.files,
            "user": a.user,
            # Secure mode: the task acts with the job's certificate only, in a child
            # with a scrubbed environment and the settings' rlimits (task.sandbox).
            "cert_dir": package.cert_dir,
            "sandbox": {"cpu_s": self.conf.settings.task_cpu_limit_s,
                        "memory_bytes": self.conf.settings.task_memory_limit_bytes}
            if package.cert_dir else None,
        }

    async def _kill(self, attempt_id: str) -> None:
        entry = self.running.get(attempt_id)
        if entry is None:
            # A finished map whose output the JobTracker no longer wants.
            try:
                await asyncio.to_thread(_remove, layout.attempt_dir(self.data_dir, attempt_id))
            except ValueError:
                pass
            return
        entry.killed = True
        if entry.host is not None:
            # A rider shares its map's process: both go (the JobTracker re-runs the
            # map, which it no longer sees running).
            await self._kill(entry.host.assignment.attempt_id)
        elif entry.process is not None:
            entry.process.kill()
        elif entry.task is not None:
            entry.task.cancel()

    async def _cleanup(self, job_id: str) -> None:
        for attempt_id, entry in list(self.running.items()):
            if entry.assignment.job_id == job_id:
                await self._kill(attempt_id)
        self._packages.pop(job_id, None)
        self._package_locks.pop(job_id, None)
        self._warm.end_job(job_id)
        await asyncio.to_thread(_remove, layout.job_dir(self.data_dir, job_id))

    # ---- job packages -------------------------------------------------------

    async def _package(self, job_id: str) -> PackageInfo:
        lock = self._package_locks.setdefault(job_id, asyncio.Lock())
        async with lock:
            info = self._packages.get(job_id)
            if info is None:
                package = await self._jt.GetJobPackage(pb.JobRequest(job_id=job_id),
                                                       timeout=channels.METADATA_DEADLINE_S)
                path = layout.package_dir(self.data_dir, job_id)
                await asyncio.to_thread(_write_package, path, package)
                cert_dir = ""
                if package.job_cert_pem:
                    cert_dir = str(await asyncio.to_thread(
                        _write_job_credentials, layout.job_dir(self.data_dir, job_id), package))
                info = PackageInfo(path, package.module_name, package.module_file,
                                   package.class_name, [f.name for f in package.files], cert_dir)
                self._packages[job_id] = info
            return info


def _write_package(path: pathlib.Path, package: pb.JobPackage) -> None:
    """Writes the package into a fresh folder, then renames it into place."""
    tmp = path.with_name(path.name + ".tmp")
    _remove(tmp)
    tmp.mkdir(parents=True)
    for f in package.files:
        (tmp / f.name).write_bytes(f.data)
    (tmp / package.module_file).write_bytes(package.source)
    env = {e.name: e.value for e in package.env}
    (tmp / layout.ENV_FILE).write_text(json.dumps(env), encoding="utf-8")
    _remove(path)
    os.replace(tmp, path)


def _write_job_credentials(job_dir: pathlib.Path, package: pb.JobPackage) -> pathlib.Path:
    """The job's cert dir (0700, key 0600) beside its package: what its tasks act with."""
    from minidfs.security import credentials, pki

    out = job_dir / "credentials"
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    pki.write_private(out / pki.KEY_FILE, package.job_key_pem)
    (out / pki.CERT_FILE).write_bytes(package.job_cert_pem)
    own = credentials.current()
    (out / pki.CA_CERT).write_bytes(own.ca_pem if own is not None else b"")
    return out


def _remove(path: pathlib.Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _child_env() -> dict[str, str]:
    """The task processes import this very checkout, whatever their working folder."""
    source_root = str(pathlib.Path(mapreduce.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env
