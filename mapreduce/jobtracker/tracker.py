"""The JobTracker's shell around the pure scheduler: jobs' metadata, the clock, the
DFS work of submission and commit, history, and the periodic tick.

Called by the gRPC servicer (servicer.py), which only translates protobuf to the
plain arguments here and back. Scheduler calls are synchronous and happen on the
event loop, so they never interleave; DFS calls (listing input, committing output)
run in threads so they never block heartbeats.

Restarts (recovery.py, journal.py): a submission, each task's result, a job's commit
point, a kill and a job's end go to the JobTracker's edit log, the ones a client or a
commit relies on fsynced first. A restarted JobTracker resumes the jobs the log says
are unfinished: their committed tasks stay done, their map outputs stay done while
the Worker holding them comes back unrestarted, the rest run again, and a job that
was committing finishes its (idempotent) commit. A job's end is told to clients only
once its history record is on disk.

A job runs as its submitter (the user in the Submit call's metadata): its DFS work
here goes through that user's Client, its tasks get the user in their assignment,
and only they or a superuser (this process's user, or a member of the cluster's
superuser group) may see its status or kill it.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from mapreduce import ids
from mapreduce.committer import SUCCESS, OutputCommitter
from mapreduce.counters import Counters
from mapreduce.dfs import UserFileSystems
from mapreduce.fs import plan_splits
from mapreduce.jobtracker import recovery
from mapreduce.jobtracker.history import History
from mapreduce.jobtracker.journal import JobJournal
from mapreduce.jobtracker.model import Assignment, HeartbeatDecision, JobFinished, JobState
from mapreduce.jobtracker.scheduler import MapInput, Scheduler, SchedulerConfig
from mapreduce.jobtracker.signal import ChangeSignal
from mapreduce.rpc import jobtracker_pb2 as pb
from mapreduce.splits import Split
from mapreduce.topology import locality_key, racks_of
from minidfs import paths
from minidfs.config import ClusterConfig
from minidfs.errors import (
    FileNotFound, InvalidArgument, JobError, MinidfsError, PermissionDeniedError,
)
from minidfs.event_feed import EventFeed
from minidfs.namenode.user_groups import UserGroups

log = logging.getLogger("mapreduce.jobtracker")

TICK_INTERVAL_S = 0.25
# Finished jobs kept in memory for status/list; older ones are read from history.
MAX_RETAINED_JOBS = 200
MAX_NAME_CHARS = 200
MAX_REDUCERS = 1000
MAX_ENV_VARS = 64
MAX_TASK_TIMEOUT_S = 24 * 3600.0
MIN_TASK_TIMEOUT_S = 1.0
MAX_ATTEMPT_REPORTS = 256
# Task records are fsynced this long after the first unsynced one, all at once: an
# fsync per task result would also flush the Workers' fresh map output on a shared
# ext4 disk (data=ordered), and losing a second of them to a machine crash only
# re-runs those tasks (a SIGKILL loses none).
JOURNAL_SYNC_DELAY_S = 1.0
# With no job left running, a journal larger than this is rewritten to its header.
JOURNAL_COMPACT_BYTES = 4 * 1024 * 1024
FINISHED_STATES = ("succeeded", "failed", "killed")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass
class JobRecord:
    job_id: str
    name: str
    input: str
    output: str
    reducers: int
    splits: list[Split]
    package: pb.JobPackage
    task_timeout_s: float
    submitted_ms: int                         # wall clock, for people
    user: str = ""                            # the submitter
    finished_ms: int | None = None
    output_paths: list[str] = field(default_factory=list)
    generation: int = 0                       # of the JobTracker start that took it
    # A kill is told once journaled; until then a failed job still shows "running".
    end_durable: bool = False


class JobTracker:
    def __init__(self, conf: ClusterConfig, filesystems: UserFileSystems,
                 history: History, journal: JobJournal | None = None) -> None:
        self.conf = conf
        self.journal = journal or JobJournal(history.root.parent / "journal")
        self.generation = 1
        self._syncing: asyncio.Task | None = None
        self._shares_cache: tuple[Any, dict[str, float]] = (None, {})
        self.filesystems = filesystems
        self.users = UserGroups(conf.groups, conf.settings.superusergroup,
                                enabled=conf.settings.permissions_enabled)
        self.history = history
        settings = conf.settings
        self.heartbeat_interval_s = settings.mapreduce_heartbeat_interval_s
        self.events = EventFeed(conf.jobtracker.name if conf.jobtracker else "jobtracker")
        self.scheduler = Scheduler(SchedulerConfig(
            worker_timeout_ms=int(settings.mapreduce_worker_timeout_s * 1000),
            reduce_slowstart=settings.mapreduce_reduce_slowstart,
            uber=settings.mapreduce_uber,
            speculative=settings.mapreduce_speculative), self.events.emit)
        self.jobs: dict[str, JobRecord] = {}
        self.finished: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        # The attempts of the newest finished jobs, for their job pages (not in history).
        self.finished_attempts: collections.OrderedDict[str, list[dict[str, Any]]] = \
            collections.OrderedDict()
        self.stamp = time.strftime("%Y%m%d%H%M%S")
        self._sequence = itertools.count(1)
        self._submit_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        # Workers heartbeat at once on work_signal; watchers look again on status_signal.
        self.work_signal = ChangeSignal()
        self.status_signal = ChangeSignal()
        self._tasks: set[asyncio.Task] = set()
        self.workers = {w.name: w for w in conf.workers}

    # ---- lifecycle ----------------------------------------------------------

    def load_history(self) -> None:
        """Start-up: finished jobs from history, unfinished ones from the journal
        (resumed), then a compacted journal for this start (its generation first)."""
        self.history.open()
        recovered = recovery.replay(self.journal.read(), str(self.journal.path))
        self.generation = recovered.generation + 1
        history = self.history.load_all()
        ended = {r["job_id"] for r in history if r.get("state") in FINISHED_STATES}
        live = [j for j in recovered.live() if j.job_id not in ended]
        live_ids = {j.job_id for j in live}
        for record in history:
            if record["job_id"] in live_ids:
                continue
            if record.get("state") not in FINISHED_STATES:
                record["state"] = "failed"
                record["error"] = "the JobTracker stopped while the job ran"
                record["finished_ms"] = record.get("finished_ms") or _wall_ms()
                self.history.save(record)
            self._retain(record)
        self._sequence = itertools.count(recovery.next_sequence(
            self.stamp, [r["job_id"] for r in history] + list(recovered.jobs)))
        for job_id in self.finished:
            self.scheduler.add_stale_job(job_id)
        resumed = [j for j in live if self._resume(j)]
        self.journal.rewrite(recovery.compacted(
            recovery.Recovered(recovered.generation, {j.job_id: j for j in resumed}),
            self.generation))
        for job_id in self.journal.job_files():
            if job_id not in self.jobs:
                self.journal.drop_job(job_id)

    def _resume(self, journaled: recovery.JournaledJob) -> bool:
        """Puts a journaled, unfinished job back into the scheduler; False (and a
        failed history record) when it cannot be."""
        s, job_id = journaled.submit, journaled.job_id
        try:
            data = self.journal.load_job(job_id)
            if data is None:
                raise JobError("its submission file is missing")
            splits, package_bytes = recovery.decode_job_file(data)
            package = pb.JobPackage.FromString(package_bytes)
            maps = [MapInput(sp.locations, racks_of(self.conf, list(sp.locations)))
                    for sp in splits]
            resumes = self.generation - int(s["generation"])
            self.scheduler.restore_job(
                job_id, maps, int(s["reducers"]), _now_ms(), user=s["user"],
                # A map output on a Worker no longer in the cluster file is gone.
                done=[d for d in journaled.done_tasks()
                      if d.kind == ids.REDUCE or d.worker in self.workers],
                counters=journaled.counters(),
                attempt_base=resumes * (self.scheduler.config.max_attempts_total + 1))
        except (MinidfsError, DecodeError) as e:
            log.error("job %s cannot be resumed: %s", job_id, e)
            status = {"job_id": job_id, "name": s["name"], "state": "failed",
                      "input": s["input"], "output": s["output"], "user": s["user"],
                      "error": f"the JobTracker restarted and could not resume the job: {e}",
                      "submitted_ms": s["submitted_ms"], "finished_ms": _wall_ms(),
                      "counters": {}, "output_paths": []}
            for key in ("maps_total", "maps_completed", "reduces_total", "reduces_completed",
                        "map_progress", "reduce_progress", "running_attempts"):
                status[key] = 0
            self.history.save(status)
            self._retain(status)
            self.scheduler.add_stale_job(job_id)
            return False
        record = JobRecord(job_id, s["name"], s["input"], s["output"], int(s["reducers"]),
                           splits, package, float(s["timeout_s"]), int(s["submitted_ms"]),
                           s["user"], generation=int(s["generation"]))
        self.jobs[job_id] = record
        if journaled.killed:
            self.scheduler.kill_job(job_id, _now_ms())
            record.end_durable = True
        view = self.scheduler.view(job_id)
        log.info("job %s resumed: %d/%d maps and %d/%d reduces kept", job_id,
                 view.maps_completed, view.maps_total, view.reduces_completed,
                 view.reduces_total)
        return True

    async def run(self) -> None:
        """The tick loop: lost workers, and jobs that finished (commit / abort)."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_INTERVAL_S)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            lost = self.scheduler.tick(_now_ms())
            for name in lost:
                log.warning("worker %s lost: re-running its attempts and map outputs", name)
            if lost:
                self.work_signal.changed()
            for event in self.scheduler.drain_events():
                self.status_signal.changed()
                self._spawn(self._finish_job(event))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await asyncio.to_thread(self.journal.sync)
        except OSError as e:
            log.warning("journal sync at stop failed: %s", e)
        self.journal.close()

    def _sync_soon(self) -> None:
        """fsyncs the journal's new records soon, in the background (task records:
        losing one to a machine crash only re-runs that task)."""
        if self._syncing is None or self._syncing.done():
            self._syncing = asyncio.get_running_loop().create_task(self._sync_dirty())
            self._tasks.add(self._syncing)
            self._syncing.add_done_callback(self._tasks.discard)

    async def _sync_dirty(self) -> None:
        await asyncio.sleep(JOURNAL_SYNC_DELAY_S)
        while self.journal.dirty:
            try:
                await asyncio.to_thread(self.journal.sync)
            except OSError as e:
                log.warning("journal sync failed: %s", e)
                return

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- clients ------------------------------------------------------------

    def check_access(self, job_id: str, user: str) -> None:
        """Only the submitter or a superuser may look at or kill a job (Hadoop's job
        ACLs with their default of nobody else). A job from before owners were kept
        belongs to this JobTracker's user."""
        owner = self.status(job_id).get("user") or self.users.superuser
        if user != owner and not self.users.caller(user).is_super:
            raise PermissionDeniedError(
                f"{job_id}: permission denied: user={user} is not the job's owner ({owner})")

    async def submit(self, request: pb.SubmitRequest, user: str) -> str:
        _validate_submission(request)
        async with self._submit_lock:
            splits = await asyncio.to_thread(self._plan, request.input, request.output, user)
            job_id = ids.job_id(self.stamp, next(self._sequence))
            maps = [MapInput(s.locations, racks_of(self.conf, list(s.locations))) for s in splits]
            self.scheduler.check_submit(job_id, len(maps), request.reducers)
            record = JobRecord(job_id, request.name, request.input, request.output,
                               request.reducers, splits, request.package,
                               request.task_timeout_s, _wall_ms(), user,
                               generation=self.generation)
            # Durable before anyone hears of the job: a restart resumes it.
            await asyncio.to_thread(self.journal.save_job, job_id, recovery.encode_job_file(
                splits, request.package.SerializeToString()))
            self.journal.append(recovery.submit_record(
                job_id, record.name, record.input, record.output, record.reducers,
                record.task_timeout_s, record.submitted_ms, user, self.generation))
            await asyncio.to_thread(self.journal.sync)
            self.scheduler.submit(job_id, maps, request.reducers, _now_ms(), user=user)
        # No history record yet: the journal holds a running job, history its end.
        self.jobs[job_id] = record
        log.info("job %s submitted by %s: %s %s -> %s, %d maps, %d reduces", job_id, user,
                 request.name, request.input, request.output, len(splits), request.reducers)
        self._wake.set()
        self.work_signal.changed()
        return job_id

    def _plan(self, input_path: str, output: str, user: str) -> list[Split]:
        """Refuses an existing output and a missing input, then makes the splits and
        the output's _temporary folder (in a thread: these are DFS calls, as user)."""
        fs = self.filesystems.for_user(user)
        committer = OutputCommitter(fs, output)
        committer.check_output()
        splits = plan_splits(fs, input_path)
        committer.setup_job()
        return splits

    def status(self, job_id: str) -> dict[str, Any]:
        record = self.jobs.get(job_id)
        if record is None:
            found = self.finished.get(job_id) or self.history.load(job_id)
            if found is None:
                raise FileNotFound(f"{job_id}: no such job")
            return found
        return self._status(job_id, record)

    def _status(self, job_id: str, record: JobRecord, final: bool = False) -> dict[str, Any]:
        """A running job's status; its end shows only once durable (or `final`, the
        record that makes it durable)."""
        view = self.scheduler.view(job_id)
        state, error = view.state.value, view.error
        if view.state.finished and not (final or record.end_durable):
            state = "committing" if view.state is JobState.SUCCEEDED else "running"
            error = ""
        return {
            "job_id": job_id, "name": record.name, "state": state,
            "input": record.input, "output": record.output,
            "maps_total": view.maps_total, "maps_completed": view.maps_completed,
            "reduces_total": view.reduces_total, "reduces_completed": view.reduces_completed,
            "map_progress": view.map_progress, "reduce_progress": view.reduce_progress,
            "counters": view.counters, "error": error,
            "submitted_ms": record.submitted_ms, "finished_ms": record.finished_ms,
            "running_attempts": view.running_attempts, "output_paths": record.output_paths,
            "user": record.user, "share": self._shares().get(job_id, 0.0),
        }

    def _shares(self) -> dict[str, float]:
        """The scheduler's fair shares, worked out once per change (every watcher and
        `list` asks after each heartbeat)."""
        key = (self.status_signal.sequence, self.work_signal.sequence)
        if self._shares_cache[0] != key:
            self._shares_cache = (key, self.scheduler.shares())
        return self._shares_cache[1]

    def attempts(self, job_id: str) -> list[dict[str, Any]]:
        """Every attempt of a job, task by task, for its status page (monotonic times
        become durations; a finished job's come from finished_attempts, or none)."""
        job = self.scheduler.jobs.get(job_id)
        if job is None:
            return self.finished_attempts.get(job_id, [])
        now = _now_ms()
        return [{"attempt": a.id, "kind": t.kind, "task": t.index, "state": a.state.value,
                 "worker": a.worker, "locality": a.locality.value if a.locality else "",
                 "speculative": a.speculative, "progress": round(a.progress, 3),
                 "started_after_ms": a.started_ms - job.submitted_ms,
                 "duration_ms": (a.finished_ms or now) - a.started_ms, "error": a.error}
                for t in job.tasks for a in t.attempts]

    def list_jobs(self, limit: int) -> list[dict[str, Any]]:
        statuses = [self.status(j) for j in self.jobs] + list(self.finished.values())
        statuses.sort(key=lambda s: (s.get("submitted_ms") or 0, s["job_id"]), reverse=True)
        return statuses[:limit]

    async def kill(self, job_id: str) -> dict[str, Any]:
        record = self.jobs.get(job_id)
        if record is not None and self.scheduler.jobs[job_id].state is JobState.RUNNING:
            # Journaled first: a restart must not bring back a job the user heard killed.
            self.journal.append(recovery.job_record(recovery.KILL, job_id))
            await asyncio.to_thread(self.journal.sync)
            if job_id in self.jobs:
                self.scheduler.kill_job(job_id, _now_ms())
                record.end_durable = True
                self._wake.set()
                self.work_signal.changed()
                self.status_signal.changed()
        return self.status(job_id)

    # ---- workers and task processes ----------------------------------------

    def heartbeat(self, request: pb.HeartbeatRequest) -> pb.HeartbeatReply:
        worker = self.workers.get(request.worker)
        if worker is None:
            raise InvalidArgument(f"{request.worker!r:.80}: not a worker in the cluster file")
        if len(request.running) + len(request.finished) > MAX_ATTEMPT_REPORTS:
            raise InvalidArgument(f"{request.worker}: too many attempts in one heartbeat")
        for attempt_id in [r.attempt_id for r in request.finished] + \
                [r.attempt_id for r in request.running]:
            ids.parse_attempt(attempt_id)  # all checked before anything changes
        now = _now_ms()
        for result in request.finished:
            self._attempt_finished(result, now)
        running = {item.attempt_id: item.progress for item in request.running}
        decision: HeartbeatDecision = self.scheduler.on_heartbeat(
            worker.name, min(request.free_map_slots, MAX_ATTEMPT_REPORTS),
            locality_key(self.conf, worker), now, rack=worker.rack, running=running,
            incarnation=request.incarnation,
            free_reduce_slots=min(request.free_reduce_slots, MAX_ATTEMPT_REPORTS))
        reply = pb.HeartbeatReply(kill=decision.kill, cleanup_jobs=decision.cleanup_jobs,
                                  heartbeat_interval_s=self.heartbeat_interval_s)
        for assignment in decision.assignments:
            reply.assignments.append(self._assignment(assignment))
            log.info("%s -> %s%s%s", assignment.attempt_id, worker.name,
                     f" ({assignment.locality.value})" if assignment.locality else "",
                     " speculative" if assignment.speculative else "")
        self._wake.set()
        # A finished attempt may free work for others (the reduces after the last map).
        if request.finished:
            self.work_signal.changed()
        self.status_signal.changed()
        return reply

    def _attempt_finished(self, result: pb.AttemptResult, now: int) -> None:
        if result.succeeded:
            try:
                counters = Counters.from_triples((c.group, c.name, c.value) for c in result.counters)
            except JobError as e:
                self.scheduler.on_attempt_failed(result.attempt_id, f"bad counters: {e}", now)
                return
            self.scheduler.on_attempt_succeeded(result.attempt_id, now, counters)
            self._journal_task(result.attempt_id)
        else:
            log.info("%s failed: %s", result.attempt_id, result.error.strip().splitlines()[-1:])
            self.scheduler.on_attempt_failed(result.attempt_id, result.error, now)

    def _journal_task(self, attempt_id: str) -> None:
        """Journals a task's result once this attempt won it (a map's output on its
        Worker, or committed output)."""
        attempt = self.scheduler.attempts.get(attempt_id)
        if attempt is None or attempt.task.winner is not attempt:
            return
        worker = self.scheduler.workers.get(attempt.worker)
        job = self.scheduler.jobs[attempt.task.job_id]
        try:
            self.journal.append(recovery.task_record(
                attempt_id, attempt.worker, worker.incarnation if worker else "",
                attempt.task.counters, job.counters))
        except OSError as e:   # a restart then re-runs the task: nothing is wrong
            log.warning("%s: could not journal the result: %s", attempt_id, e)
            return
        self._sync_soon()

    def _assignment(self, a: Assignment) -> pb.TaskAssignment:
        record = self.jobs[a.job_id]
        msg = pb.TaskAssignment(
            attempt_id=a.attempt_id, job_id=a.job_id, kind=a.kind, index=a.index,
            num_reducers=record.reducers, num_maps=len(record.splits), output=record.output,
            timeout_s=record.task_timeout_s, user=record.user,
            uber_map_attempt_id=a.uber_map_attempt_id)
        if a.kind == ids.MAP:
            split = record.splits[a.index]
            msg.path, msg.start, msg.length = split.path, split.start, split.length
        return msg

    def package(self, job_id: str) -> pb.JobPackage:
        record = self.jobs.get(ids.validate_job_id(job_id))
        if record is None:
            raise FileNotFound(f"{job_id}: no such running job")
        return record.package

    def map_outputs(self, job_id: str, reduce_attempt_id: str) -> pb.MapOutputs:
        ids.parse_attempt(reduce_attempt_id)
        if ids.validate_job_id(job_id) not in self.jobs:
            return pb.MapOutputs(attempt_alive=False)
        outputs = self.scheduler.map_outputs(job_id)
        reply = pb.MapOutputs(num_maps=len(outputs),
                              attempt_alive=self.scheduler.attempt_alive(reduce_attempt_id))
        for index, found in enumerate(outputs):
            if found is not None:
                attempt_id, worker = found
                reply.ready.append(pb.MapOutputLocation(
                    map_index=index, map_attempt_id=attempt_id,
                    worker_address=self.workers[worker].address))
        return reply

    def fetch_failure(self, request: pb.FetchFailure) -> None:
        ids.validate_job_id(request.job_id)
        ids.parse_attempt(request.map_attempt_id)
        log.warning("%s could not fetch %s: %s", request.reduce_attempt_id,
                    request.map_attempt_id, request.error)
        self.scheduler.on_fetch_failure(request.job_id, request.map_index,
                                        request.map_attempt_id, _now_ms())
        self._wake.set()
        self.work_signal.changed()

    def can_commit(self, attempt_id: str) -> bool:
        ids.parse_attempt(attempt_id)
        return self.scheduler.request_commit(attempt_id, _now_ms())

    # ---- finishing jobs -----------------------------------------------------

    async def _finish_job(self, event: JobFinished) -> None:
        record = self.jobs.get(event.job_id)
        if record is None:
            return
        fs = await asyncio.to_thread(self.filesystems.for_user, record.user)
        committer = OutputCommitter(fs, record.output)
        if event.state is JobState.COMMITTING:
            try:
                # The commit point: every task record before it is durable, so a
                # restart finishes this commit rather than re-running a task.
                self.journal.append(recovery.job_record(recovery.COMMITTING, event.job_id))
                await asyncio.to_thread(self.journal.sync)
                record.output_paths = await asyncio.to_thread(self._commit, fs, committer)
                self.scheduler.on_job_committed(event.job_id, _now_ms())
            except (MinidfsError, OSError) as e:
                self.scheduler.on_job_committed(event.job_id, _now_ms(),
                                                error=f"job commit failed: {e}")
        else:
            try:
                await asyncio.to_thread(committer.abort_job)
            except MinidfsError as e:
                log.warning("%s: could not remove %s: %s", event.job_id, committer.temp, e)
        record.finished_ms = _wall_ms()
        status = self._status(event.job_id, record, final=True)
        log.info("job %s %s", event.job_id, status["state"])
        try:
            await asyncio.to_thread(self._record_history, status)
            self.journal.append(recovery.job_record(recovery.FINISHED, event.job_id,
                                                    state=status["state"]))
            self._sync_soon()
            await asyncio.to_thread(self.journal.drop_job, event.job_id)
        finally:
            self._retain(status)
            self.finished_attempts[event.job_id] = self.attempts(event.job_id)
            while len(self.finished_attempts) > MAX_RETAINED_JOBS:
                self.finished_attempts.popitem(last=False)
            del self.jobs[event.job_id]
            self.scheduler.forget(event.job_id)
            self.status_signal.changed()
            self.work_signal.changed()   # its local files can go
        await self._compact_if_idle()

    async def _compact_if_idle(self) -> None:
        """With no job running, the journal is only its header: rewrite a big one.
        Under the submit lock, so no submission is appended meanwhile."""
        async with self._submit_lock:
            if self.jobs or self.journal.path.stat().st_size < JOURNAL_COMPACT_BYTES:
                return
            await asyncio.to_thread(self.journal.rewrite,
                                    [recovery.generation_record(self.generation)])

    def _commit(self, fs: Any, committer: OutputCommitter) -> list[str]:
        """Commits the job's output, or finds it committed (a resumed job whose
        previous JobTracker stopped after writing _SUCCESS): one output, never two."""
        if not fs.exists(fs.join(committer.output, SUCCESS)):
            committer.commit_job()
        return sorted(e["path"] for e in fs.client.ls(committer.output)
                      if e["type"] == "file" and paths.basename(e["path"]).startswith("part-"))

    def _record_history(self, status: dict[str, Any]) -> None:
        self.history.save(status)
        self.history.prune()

    def _retain(self, status: dict[str, Any]) -> None:
        self.finished[status["job_id"]] = status
        while len(self.finished) > MAX_RETAINED_JOBS:
            self.finished.popitem(last=False)


def _validate_submission(request: pb.SubmitRequest) -> None:
    if not request.name or len(request.name) > MAX_NAME_CHARS:
        raise InvalidArgument(f"job name must be 1 to {MAX_NAME_CHARS} characters")
    paths.validate(request.input)
    paths.validate(request.output)
    if paths.is_under(request.output, request.input) or paths.is_under(request.input, request.output):
        raise InvalidArgument(f"{request.output}: output may not be inside the input, or hold it")
    if request.reducers > MAX_REDUCERS:
        raise InvalidArgument(f"{request.reducers}: at most {MAX_REDUCERS} reducers")
    if not MIN_TASK_TIMEOUT_S <= request.task_timeout_s <= MAX_TASK_TIMEOUT_S:
        raise InvalidArgument(f"{request.task_timeout_s}: task timeout must be between "
                              f"{MIN_TASK_TIMEOUT_S} and {MAX_TASK_TIMEOUT_S} s")
    package = request.package
    if not _MODULE.match(package.module_name) or not _IDENTIFIER.match(package.class_name):
        raise InvalidArgument(f"{package.module_name}:{package.class_name}: not a module and class name")
    names = [package.module_file] + [f.name for f in package.files]
    for name in names:
        if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
            raise InvalidArgument(f"{name!r:.80}: shipped file names must be plain base names")
    if not package.module_file.endswith(".py") or len(set(names)) != len(names):
        raise InvalidArgument("the job module must be a .py file and shipped names must differ")
    if len(package.env) > MAX_ENV_VARS or any(not _IDENTIFIER.match(e.name) for e in package.env):
        raise InvalidArgument(f"at most {MAX_ENV_VARS} environment variables with plain names")


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


def _wall_ms() -> int:
    return int(time.time() * 1000)
