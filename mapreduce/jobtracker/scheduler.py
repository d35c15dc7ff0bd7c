"""The JobTracker's scheduler: a pure state machine over jobs, tasks and attempts.

Driven by the JobTracker daemon (mapreduce/jobtracker/service.py) with events that
carry an explicit now_ms: submit, on_heartbeat (which returns the worker's new
attempts, attempts to kill and jobs to clean up), attempt results, commit requests,
fetch failures, kill_job and tick. It never reads the clock and does no I/O, so
tests/unit/test_mr_scheduler.py drives it with scripted events.

Policy (Hadoop 1's JobTracker, simplified):
  - Jobs share the slots fairly (fairshare.py): a free slot goes to the user with the
    fewest running attempts of its kind, within that user to the job with the fewest,
    then to the older job; so a short job submitted behind a long one starts at once.
    Speculative backups only take slots no job has a pending task for.
  - Map and reduce slots are separate pools. A map slot takes a map whose block has a
    replica next to the worker (data-local), else one on its rack, else any; each
    launch's locality is counted. Reduces start once `reduce_slowstart` of the maps
    have finished.
  - Uber mode (`uber`): a job of one map and one reduce launches its reduce with the
    map's first attempt, on the same worker, which runs it in the map's process
    right after the map (no second process, no shuffle); retries run the usual way.
  - A failed attempt is retried, on another worker when there is one, until a task
    has failed `max_attempts` times; then the job fails with that attempt's error.
  - A worker silent for `worker_timeout_ms` is lost: its running attempts and the
    finished map outputs it holds (for jobs whose reduces still need them) are run
    again; those attempts are killed, not failed, so they do not count.
  - A job journaled by a JobTracker that then restarted comes back with restore_job:
    its committed tasks stay done, its map outputs stay done while the Worker holding
    them keeps its incarnation (it heartbeats in time, unrestarted); the rest re-run.
    Jobs that ended before the restart (add_stale_job) are cleaned up on every worker.
  - When a phase has nothing left to start, an attempt running `speculative_slowdown`
    times longer than the phase's mean task time gets one backup on another worker.
    The first to finish (maps) or to be granted commit (reduces, map-only maps) wins;
    the other is killed. At most one attempt of a task ever commits.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from mapreduce import counters as C
from mapreduce import ids
from mapreduce.counters import Counters
from mapreduce.jobtracker.fairshare import JobDemand, fair_order, fair_shares
from mapreduce.jobtracker.model import (
    Assignment, Attempt, AttemptState, DoneTask, HeartbeatDecision, Job, JobFinished,
    JobState, JobView, Locality, Task, TaskState, Worker,
)
from minidfs.errors import FileNotFound, InvalidArgument, PreconditionFailed
from minidfs.events import Emit, last_line, no_events

MAX_TASKS_PER_JOB = 50_000
MAX_ACTIVE_JOBS = 64
MAX_ERROR_CHARS = 16_000


@dataclass(frozen=True)
class SchedulerConfig:
    max_attempts: int = 4                  # failed attempts per task before the job fails
    max_attempts_total: int = 20           # any attempts (also killed) per task
    worker_timeout_ms: int = 10_000
    reduce_slowstart: float = 1.0          # fraction of maps done before reduces start
    uber: bool = True                      # one map + one reduce: one process
    speculative: bool = True
    speculative_slowdown: float = 2.0
    speculative_min_runtime_ms: int = 2_000
    speculative_max_fraction: float = 0.1  # of a job's tasks, backups at a time (min 1)
    fetch_failures_per_map: int = 1        # reports (after the reducer's own retries)


@dataclass(frozen=True)
class MapInput:
    """Where a map task's block lives: DataNode (or host) names, and their racks."""

    locations: tuple[str, ...] = ()
    racks: tuple[str, ...] = ()


class Scheduler:
    def __init__(self, config: SchedulerConfig = SchedulerConfig(),
                 emit: Emit = no_events) -> None:
        self.config = config
        self.emit = emit
        self.jobs: dict[str, Job] = {}
        self.workers: dict[str, Worker] = {}
        self.attempts: dict[str, Attempt] = {}
        self._events: list[JobFinished] = []
        # Jobs that ended before this scheduler started (a JobTracker restart): every
        # worker gets them as cleanups once, since the cleanups the last JobTracker
        # still owed them died with it.
        self.stale_jobs: set[str] = set()

    # ---- jobs ---------------------------------------------------------------

    def check_submit(self, job_id: str, num_maps: int, num_reducers: int) -> None:
        """Raises what submit would, without submitting (the shell journals the job
        in between, and must not journal one that cannot run)."""
        ids.validate_job_id(job_id)
        if job_id in self.jobs:
            raise InvalidArgument(f"{job_id}: job already submitted")
        if num_maps + num_reducers > MAX_TASKS_PER_JOB:
            raise InvalidArgument(f"{job_id}: {num_maps} maps + {num_reducers} reduces is more "
                                  f"than {MAX_TASKS_PER_JOB} tasks")
        if sum(1 for j in self.jobs.values() if not j.state.finished) >= MAX_ACTIVE_JOBS:
            raise PreconditionFailed(f"{job_id}: {MAX_ACTIVE_JOBS} jobs are already running")

    def submit(self, job_id: str, maps: Sequence[MapInput], num_reducers: int, now_ms: int,
               user: str = "") -> None:
        job = self._new_job(job_id, maps, num_reducers, now_ms, user)
        self.emit("job_submitted", job=job_id, maps=len(job.maps), reduces=num_reducers)
        self._maybe_done(job, now_ms)

    def restore_job(self, job_id: str, maps: Sequence[MapInput], num_reducers: int,
                    now_ms: int, user: str = "", done: Sequence[DoneTask] = (),
                    attempt_base: int = 0, counters: Counters | None = None) -> JobView:
        """A job a previous JobTracker journaled, with the tasks it saw finish. Its new
        attempts are numbered from attempt_base on. A map output counts only while its
        Worker keeps the journaled incarnation: a Worker not heard from yet is expected
        (and lost, with those outputs, if it stays silent for the worker timeout)."""
        if attempt_base + self.config.max_attempts_total > ids.MAX_ATTEMPT_NUMBER:
            raise InvalidArgument(f"{job_id}: resumed after too many JobTracker restarts")
        job = self._new_job(job_id, maps, num_reducers, now_ms, user)
        job.counters = Counters(counters or Counters())
        for task in job.tasks:
            task.attempt_base = attempt_base
        reduces_left = {t.index for t in job.reduces}
        for item in done:
            if item.kind == ids.REDUCE and 0 <= item.index < len(job.reduces):
                reduces_left.discard(item.index)
        for item in done:
            phase = job.maps if item.kind == ids.MAP else job.reduces
            if not 0 <= item.index < len(phase) or phase[item.index].state is TaskState.SUCCEEDED:
                continue
            task = phase[item.index]
            output_on_worker = item.kind == ids.MAP and job.reduces and reduces_left
            if output_on_worker and not self._expect_worker(item.worker, item.incarnation, now_ms):
                job.counters.increment(C.JOB, "maps_rerun_for_lost_output")
                continue
            winner = Attempt(item.attempt_id, task, item.worker, now_ms,
                             state=AttemptState.SUCCEEDED)
            task.state, task.winner, task.counters = TaskState.SUCCEEDED, winner, item.counters
            job.workers_used.add(item.worker)
            job.counters.increment(C.JOB, f"recovered_{_kind_word(item.kind)}s")
        self.emit("job_resumed", job=job_id, maps=len(job.maps), reduces=num_reducers,
                  done=job.completed(job.tasks))
        self._maybe_done(job, now_ms)
        return self.view(job_id)

    def _new_job(self, job_id: str, maps: Sequence[MapInput], num_reducers: int, now_ms: int,
                 user: str) -> Job:
        self.check_submit(job_id, len(maps), num_reducers)
        job = Job(
            id=job_id,
            maps=[Task(job_id, ids.MAP, i, tuple(m.locations), tuple(m.racks))
                  for i, m in enumerate(maps)],
            reduces=[Task(job_id, ids.REDUCE, i) for i in range(num_reducers)],
            submitted_ms=now_ms, user=user,
        )
        self.jobs[job_id] = job
        return job

    def add_stale_job(self, job_id: str) -> None:
        """A job that ended before this scheduler started: every worker cleans it up."""
        self.stale_jobs.add(job_id)
        for worker in self.workers.values():
            worker.cleanups.add(job_id)

    def _add_worker(self, name: str, host: str, rack: str, now_ms: int,
                    incarnation: str) -> Worker:
        worker = Worker(name, host, rack, now_ms, incarnation)
        worker.cleanups |= self.stale_jobs
        self.workers[name] = worker
        return worker

    def _expect_worker(self, name: str, incarnation: str, now_ms: int) -> bool:
        """Whether map outputs of this worker incarnation may still be fetched."""
        worker = self.workers.get(name)
        if worker is None:
            # Its clock starts now: it has the worker timeout to heartbeat.
            self._add_worker(name, "", "", now_ms, incarnation)
            return True
        return not worker.lost and worker.incarnation == incarnation

    def kill_job(self, job_id: str, now_ms: int) -> JobView:
        job = self._job(job_id)
        if job.state is JobState.RUNNING:
            self._end_job(job, JobState.KILLED, "killed by the user", now_ms)
        return self.view(job_id)

    def on_job_committed(self, job_id: str, now_ms: int, error: str = "") -> None:
        """The shell committed (error empty) or failed to commit the job's output."""
        job = self._job(job_id)
        if job.state is not JobState.COMMITTING:
            return
        job.state = JobState.FAILED if error else JobState.SUCCEEDED
        job.error = error[:MAX_ERROR_CHARS]
        job.finished_ms = now_ms
        self.emit(f"job_{job.state.value}", job=job_id, elapsed_ms=now_ms - job.submitted_ms,
                  **({"error": last_line(error)} if error else {}))
        self._queue_cleanup(job)

    def forget(self, job_id: str) -> None:
        """Drops a finished job (the shell keeps its history)."""
        job = self.jobs.get(job_id)
        if job is not None and job.state.finished:
            for task in job.tasks:
                for attempt in task.attempts:
                    self.attempts.pop(attempt.id, None)
            del self.jobs[job_id]

    def drain_events(self) -> list[JobFinished]:
        events, self._events = self._events, []
        return events

    # ---- workers ------------------------------------------------------------

    def on_heartbeat(self, worker_name: str, free_slots: int, host: str, now_ms: int,
                     rack: str = "/default", running: Mapping[str, float] | None = None,
                     incarnation: str = "", free_reduce_slots: int = 0) -> HeartbeatDecision:
        """A worker is alive with free_slots map slots and free_reduce_slots reduce
        slots (separate pools, as in Hadoop 1: reducers waiting for a lost map's re-run
        can never hold the slot it needs). `running` maps the attempts it runs to their
        progress. `host` is the locality key compared with the maps' locations (the
        name of the DataNode beside the worker). Returns its new work."""
        worker = self.workers.get(worker_name)
        if worker is not None and worker.incarnation != incarnation:
            # Restarted: whatever it ran or stored before is gone.
            self._lose_worker(worker, now_ms)
            worker = None
        if worker is None or worker.lost:
            worker = self._add_worker(worker_name, host, rack, now_ms, incarnation)
        worker.host, worker.rack, worker.last_seen_ms = host, rack, now_ms
        self._reconcile(worker, running or {}, now_ms)
        busy = {ids.MAP: 0, ids.REDUCE: 0}
        for attempt in worker.attempts.values():
            busy[attempt.task.kind] += 1
        worker.map_slots = max(0, free_slots) + busy[ids.MAP]
        worker.reduce_slots = max(0, free_reduce_slots) + busy[ids.REDUCE]
        assignments = []
        free = {ids.MAP: free_slots, ids.REDUCE: free_reduce_slots}
        for kind in (ids.MAP, ids.REDUCE):
            if free[kind] <= 0:
                continue
            running = self._running_counts(kind)
            while free[kind] > 0:
                assignment = self._assign_one(worker, kind, now_ms, running)
                if assignment is None:
                    break
                free[kind] -= 1
                running[assignment.job_id] = running.get(assignment.job_id, 0) + 1
                assignments.append(assignment)
                uber = self._uber_reduce(assignment, worker, now_ms, free[ids.REDUCE])
                if uber is not None:
                    free[ids.REDUCE] -= 1
                    assignments.append(uber)
        kills, worker.kills = sorted(worker.kills), set()
        cleanups, worker.cleanups = sorted(worker.cleanups), set()
        return HeartbeatDecision(assignments, kills, cleanups)

    def tick(self, now_ms: int) -> list[str]:
        """Declares workers silent for longer than the timeout lost; returns their names."""
        lost = []
        for worker in self.workers.values():
            if not worker.lost and now_ms - worker.last_seen_ms > self.config.worker_timeout_ms:
                self._lose_worker(worker, now_ms)
                lost.append(worker.name)
        return lost

    def live_workers(self) -> list[str]:
        return [w.name for w in self.workers.values() if not w.lost]

    # ---- attempts -----------------------------------------------------------

    def on_attempt_succeeded(self, attempt_id: str, now_ms: int,
                             counters: Counters | None = None) -> None:
        attempt = self.attempts.get(attempt_id)
        if attempt is None or attempt.state is not AttemptState.RUNNING:
            return
        task = attempt.task
        job = self.jobs[task.job_id]
        needs_commit = task.kind == ids.REDUCE or not job.reduces
        if needs_commit and task.commit_holder is not attempt:
            # Output that was never allowed to commit is not output.
            self._finish_attempt(attempt, AttemptState.KILLED, now_ms, "succeeded without commit")
            self._requeue_if_idle(task, now_ms)
            return
        self._finish_attempt(attempt, AttemptState.SUCCEEDED, now_ms)
        if task.state is TaskState.SUCCEEDED:
            return
        task.state = TaskState.SUCCEEDED
        task.winner = attempt
        task.fetch_failures = 0
        task.counters = counters or Counters()
        for other in task.running():
            self._kill_attempt(other, now_ms, "another attempt succeeded")
        self._maybe_done(job, now_ms)

    def on_attempt_failed(self, attempt_id: str, error: str, now_ms: int) -> None:
        attempt = self.attempts.get(attempt_id)
        if attempt is None or attempt.state is not AttemptState.RUNNING:
            return
        task = attempt.task
        job = self.jobs[task.job_id]
        self._finish_attempt(attempt, AttemptState.FAILED, now_ms, error)
        self.emit("attempt_failed", attempt=attempt.id, worker=attempt.worker,
                  error=last_line(error))
        task.failures += 1
        task.failed_on.add(attempt.worker)
        job.counters.increment(C.JOB, f"failed_{_kind_word(task.kind)}_attempts")
        if task.failures >= self.config.max_attempts:
            self._end_job(job, JobState.FAILED,
                          f"{ids.task_name(job.id, task.kind, task.index)} failed "
                          f"{task.failures} times; last attempt {attempt.id}:\n{error}", now_ms)
            return
        self._requeue_if_idle(task, now_ms)

    def request_commit(self, attempt_id: str, now_ms: int) -> bool:
        """May this attempt move its output into place? Yes for exactly one attempt of
        a task at a time; the grant passes on only if its holder dies first."""
        attempt = self.attempts.get(attempt_id)
        if attempt is None or attempt.state is not AttemptState.RUNNING:
            return False
        task = attempt.task
        if self.jobs[task.job_id].state is not JobState.RUNNING:
            return False
        holder = task.commit_holder
        if holder is attempt:
            return True
        if holder is not None and holder.state in (AttemptState.RUNNING, AttemptState.SUCCEEDED):
            return False
        task.commit_holder = attempt
        for other in task.running():
            if other is not attempt:
                self._kill_attempt(other, now_ms, "another attempt is committing")
        return True

    def on_fetch_failure(self, job_id: str, map_index: int, map_attempt_id: str,
                         now_ms: int) -> None:
        """A reducer could not fetch a map's output: after enough reports it is re-run."""
        job = self.jobs.get(job_id)
        if job is None or not 0 <= map_index < len(job.maps) or job.state is not JobState.RUNNING:
            return
        task = job.maps[map_index]
        if task.winner is None or task.winner.id != map_attempt_id:
            return
        task.fetch_failures += 1
        if task.fetch_failures >= self.config.fetch_failures_per_map:
            self._lose_map_output(task, now_ms, "reducers could not fetch its output")

    # ---- views --------------------------------------------------------------

    def map_outputs(self, job_id: str) -> list[tuple[str, str] | None]:
        """Per map task: (attempt id, worker) of its finished output, or None yet."""
        job = self._job(job_id)
        return [(t.winner.id, t.winner.worker) if t.state is TaskState.SUCCEEDED and t.winner
                else None for t in job.maps]

    def shares(self) -> dict[str, float]:
        """Each running job's fair share of the cluster's slots, 0..1: of the map and
        reduce pools (as live workers report them) that some job has work for, so a
        job alone on the cluster has 1.0 whichever phase it is in."""
        live = [w for w in self.workers.values() if not w.lost]
        pools = ((ids.MAP, sum(w.map_slots for w in live)),
                 (ids.REDUCE, sum(w.reduce_slots for w in live)))
        active = [j for j in self.jobs.values() if j.state is JobState.RUNNING]
        got = {j.id: 0.0 for j in active}
        total = 0
        for kind, slots in pools:
            running = self._running_counts(kind)
            demands = [JobDemand(j.id, j.user, running.get(j.id, 0),
                                 running.get(j.id, 0) + self._startable(j, kind))
                       for j in active]
            if not any(d.wanted for d in demands):
                continue
            total += slots
            for job_id, share in fair_shares(demands, slots).items():
                got[job_id] += share
        return {job_id: (share / total if total else 0.0) for job_id, share in got.items()}

    def attempt_alive(self, attempt_id: str) -> bool:
        attempt = self.attempts.get(attempt_id)
        return attempt is not None and attempt.state is AttemptState.RUNNING

    def view(self, job_id: str) -> JobView:
        job = self._job(job_id)
        counters = Counters(job.counters)
        for task in job.tasks:
            if task.state is TaskState.SUCCEEDED:
                counters.update(task.counters)
        maps, reduces = job.maps, job.reduces
        return JobView(
            id=job.id, state=job.state,
            maps_total=len(maps), maps_completed=job.completed(maps),
            reduces_total=len(reduces), reduces_completed=job.completed(reduces),
            map_progress=_mean(t.progress() for t in maps),
            reduce_progress=_mean(t.progress() for t in reduces),
            counters=counters.as_dict(), error=job.error,
            submitted_ms=job.submitted_ms, finished_ms=job.finished_ms,
            running_attempts=sum(len(t.running()) for t in job.tasks),
        )

    # ---- internals ----------------------------------------------------------

    def _job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise FileNotFound(f"{job_id}: no such job") from None

    def _running_counts(self, kind: str) -> dict[str, int]:
        """Running attempts of this kind per running job."""
        return {j.id: sum(len(t.running()) for t in (j.maps if kind == ids.MAP else j.reduces))
                for j in self.jobs.values() if j.state is JobState.RUNNING}

    def _startable(self, job: Job, kind: str) -> int:
        if kind == ids.MAP:
            return sum(1 for t in job.maps if t.state is TaskState.PENDING)
        if not self._reduces_may_start(job):
            return 0
        return sum(1 for t in job.reduces if t.state is TaskState.PENDING)

    def _assign_one(self, worker: Worker, kind: str, now_ms: int,
                    running: Mapping[str, int]) -> Assignment | None:
        active = [j for j in self.jobs.values() if j.state is JobState.RUNNING]
        order = [self.jobs[job_id] for job_id in fair_order(
            JobDemand(j.id, j.user, running.get(j.id, 0), 0) for j in active)]
        for job in order:
            assignment = self._assign_pending(job, worker, kind, now_ms)
            if assignment is not None:
                return assignment
        if self.config.speculative:
            for job in order:
                assignment = self._assign_backup(job, worker, kind, now_ms)
                if assignment is not None:
                    return assignment
        return None

    def _assign_pending(self, job: Job, worker: Worker, kind: str,
                        now_ms: int) -> Assignment | None:
        if kind == ids.MAP:
            task, locality = self._pick_map(job, worker)
            return None if task is None else self._launch(job, task, worker, now_ms, locality)
        if not self._reduces_may_start(job):
            return None
        task = self._first_pending(job.reduces, worker)
        return self._launch(job, task, worker, now_ms) if task is not None else None

    def _assign_backup(self, job: Job, worker: Worker, kind: str,
                       now_ms: int) -> Assignment | None:
        if kind == ids.MAP:
            task = self._straggler(job, job.maps, worker, now_ms)
            return None if task is None else self._launch(
                job, task, worker, now_ms, _locality(task, worker), speculative=True)
        if not self._reduces_may_start(job):
            return None
        task = self._straggler(job, job.reduces, worker, now_ms)
        return None if task is None else self._launch(job, task, worker, now_ms, speculative=True)

    def _pick_map(self, job: Job, worker: Worker) -> tuple[Task | None, Locality | None]:
        best: Task | None = None
        best_locality: Locality | None = None
        rank = {Locality.DATA_LOCAL: 0, Locality.RACK_LOCAL: 1, Locality.OTHER: 2}
        for task in job.maps:
            if task.state is not TaskState.PENDING or not self._may_run_on(task, worker):
                continue
            locality = _locality(task, worker)
            if best_locality is None or rank[locality] < rank[best_locality]:
                best, best_locality = task, locality
                if locality is Locality.DATA_LOCAL:
                    break
        return best, best_locality

    def _first_pending(self, tasks: Iterable[Task], worker: Worker) -> Task | None:
        for task in tasks:
            if task.state is TaskState.PENDING and self._may_run_on(task, worker):
                return task
        return None

    def _may_run_on(self, task: Task, worker: Worker) -> bool:
        """Retries avoid workers the task failed on, unless no other worker is alive."""
        if worker.name not in task.failed_on:
            return True
        return all(w.name in task.failed_on for w in self.workers.values() if not w.lost)

    def _reduces_may_start(self, job: Job) -> bool:
        if not job.maps:
            return True
        return job.completed(job.maps) >= self.config.reduce_slowstart * len(job.maps)

    def _straggler(self, job: Job, phase: list[Task], worker: Worker, now_ms: int) -> Task | None:
        """A task of this phase worth a backup on this worker, once nothing of the
        phase is left to start: its only attempt has run much longer than the mean."""
        running_backups = sum(1 for t in job.tasks for a in t.running() if a.speculative)
        if running_backups >= max(1, int(self.config.speculative_max_fraction * len(job.tasks))):
            return None
        if any(t.state is TaskState.PENDING for t in phase):
            return None
        durations = [t.winner.finished_ms - t.winner.started_ms for t in phase
                     if t.state is TaskState.SUCCEEDED and t.winner and t.winner.finished_ms]
        if not durations:
            return None
        limit = max(self.config.speculative_min_runtime_ms,
                    self.config.speculative_slowdown * sum(durations) / len(durations))
        for task in phase:
            running = task.running()
            if (task.state is TaskState.RUNNING and len(running) == 1
                    and running[0].worker != worker.name
                    and self._may_run_on(task, worker)
                    and now_ms - running[0].started_ms > limit
                    and task.commit_holder is None
                    and len(task.attempts) < self.config.max_attempts_total):
                return task
        return None

    def _launch(self, job: Job, task: Task, worker: Worker, now_ms: int,
                locality: Locality | None = None, speculative: bool = False) -> Assignment:
        attempt_id = ids.attempt_id(job.id, task.kind, task.index,
                                    task.attempt_base + len(task.attempts))
        attempt = Attempt(attempt_id, task, worker.name, now_ms, speculative=speculative,
                          locality=locality)
        if not job.workers_used:    # its first attempt
            self.emit("job_running", job=job.id)
        self.emit("attempt_speculated" if speculative else "attempt_started", attempt=attempt_id,
                  worker=worker.name, **({"locality": locality.value} if locality else {}))
        task.attempts.append(attempt)
        task.state = TaskState.RUNNING
        self.attempts[attempt_id] = attempt
        worker.attempts[attempt_id] = attempt
        job.workers_used.add(worker.name)
        job.counters.increment(C.JOB, f"launched_{_kind_word(task.kind)}s")
        if locality is not None:
            job.counters.increment(C.JOB, f"{locality.value}_maps")
        if speculative:
            job.counters.increment(C.JOB, "speculative_attempts")
        return Assignment(attempt_id, job.id, task.kind, task.index, locality, speculative)

    def _uber_reduce(self, assignment: Assignment, worker: Worker, now_ms: int,
                     free_reduce_slots: int) -> Assignment | None:
        """Uber mode: the reduce of a job of one map and one reduce starts with the
        map's first attempt, on the same Worker, to run in the map's process once the
        map is done (it holds a reduce slot meanwhile). A retry or a backup runs the
        usual way, as does everything when the Worker has no free reduce slot."""
        if not self.config.uber or assignment.kind != ids.MAP or assignment.speculative:
            return None
        job = self.jobs[assignment.job_id]
        if len(job.maps) != 1 or len(job.reduces) != 1 or free_reduce_slots < 1:
            return None
        reduce, map_task = job.reduces[0], job.maps[0]
        if reduce.attempts or len(map_task.attempts) != 1:
            return None
        launched = self._launch(job, reduce, worker, now_ms)
        job.counters.increment(C.JOB, "uber_reduces")
        return dataclasses.replace(launched, uber_map_attempt_id=assignment.attempt_id)

    def _reconcile(self, worker: Worker, running: Mapping[str, float], now_ms: int) -> None:
        for attempt_id, progress in running.items():
            attempt = worker.attempts.get(attempt_id)
            if attempt is None:
                worker.kills.add(attempt_id)   # not ours (any more): stop it
            else:
                attempt.progress = min(1.0, max(0.0, float(progress)))
        for attempt_id, attempt in list(worker.attempts.items()):
            if attempt_id not in running:
                # The worker does not run it: it never got the assignment, or lost it.
                self._kill_attempt(attempt, now_ms, f"{worker.name} is not running it")
                self._requeue_if_idle(attempt.task, now_ms)

    def _lose_worker(self, worker: Worker, now_ms: int) -> None:
        worker.lost = True
        self.emit("worker_lost", worker=worker.name, running=len(worker.attempts))
        for attempt in list(worker.attempts.values()):
            self.emit("attempt_lost", attempt=attempt.id, worker=worker.name)
            self._kill_attempt(attempt, now_ms, f"worker {worker.name} lost")
            self._requeue_if_idle(attempt.task, now_ms)
        for job in self.jobs.values():
            if job.state is not JobState.RUNNING or not job.reduces:
                continue
            if all(t.state is TaskState.SUCCEEDED for t in job.reduces):
                continue
            for task in job.maps:
                if task.state is TaskState.SUCCEEDED and task.winner and \
                        task.winner.worker == worker.name:
                    self._lose_map_output(task, now_ms, f"worker {worker.name} lost")

    def _lose_map_output(self, task: Task, now_ms: int, why: str) -> None:
        winner = task.winner
        if winner is not None:
            winner.state = AttemptState.KILLED
            winner.error = f"output lost: {why}"
        task.winner = None
        task.state = TaskState.PENDING
        task.fetch_failures = 0
        task.counters = Counters()
        self.jobs[task.job_id].counters.increment(C.JOB, "maps_rerun_for_lost_output")
        self._check_attempt_budget(task, now_ms)

    def _kill_attempt(self, attempt: Attempt, now_ms: int, why: str) -> None:
        if attempt.state is AttemptState.RUNNING:
            self._finish_attempt(attempt, AttemptState.KILLED, now_ms, why)
            worker = self.workers.get(attempt.worker)
            if worker is not None and not worker.lost:
                worker.kills.add(attempt.id)
            self.jobs[attempt.task.job_id].counters.increment(C.JOB, "killed_attempts")

    def _finish_attempt(self, attempt: Attempt, state: AttemptState, now_ms: int,
                        error: str = "") -> None:
        attempt.state = state
        attempt.finished_ms = now_ms
        attempt.error = error[:MAX_ERROR_CHARS]
        worker = self.workers.get(attempt.worker)
        if worker is not None:
            worker.attempts.pop(attempt.id, None)
        task = attempt.task
        if task.commit_holder is attempt and state is not AttemptState.SUCCEEDED:
            task.commit_holder = None

    def _requeue_if_idle(self, task: Task, now_ms: int) -> None:
        if task.state is TaskState.RUNNING and not task.running():
            task.state = TaskState.PENDING
            self._check_attempt_budget(task, now_ms)

    def _check_attempt_budget(self, task: Task, now_ms: int) -> None:
        job = self.jobs[task.job_id]
        if len(task.attempts) >= self.config.max_attempts_total and job.state is JobState.RUNNING:
            self._end_job(job, JobState.FAILED,
                          f"{ids.task_name(job.id, task.kind, task.index)} was started "
                          f"{len(task.attempts)} times without finishing", now_ms)

    def _maybe_done(self, job: Job, now_ms: int) -> None:
        if job.state is JobState.RUNNING and all(t.state is TaskState.SUCCEEDED for t in job.tasks):
            job.state = JobState.COMMITTING
            self._events.append(JobFinished(job.id, JobState.COMMITTING))

    def _end_job(self, job: Job, state: JobState, error: str, now_ms: int) -> None:
        job.state = state
        job.error = error[:MAX_ERROR_CHARS]
        job.finished_ms = now_ms
        self.emit(f"job_{state.value}", job=job.id, elapsed_ms=now_ms - job.submitted_ms,
                  error=last_line(error))
        for task in job.tasks:
            for attempt in task.running():
                self._kill_attempt(attempt, now_ms, f"job {state.value}")
        self._queue_cleanup(job)
        self._events.append(JobFinished(job.id, state))

    def _queue_cleanup(self, job: Job) -> None:
        for name in job.workers_used:
            worker = self.workers.get(name)
            if worker is not None and not worker.lost:
                worker.cleanups.add(job.id)


def _locality(task: Task, worker: Worker) -> Locality:
    if worker.host in task.locations:
        return Locality.DATA_LOCAL
    if worker.rack in task.racks:
        return Locality.RACK_LOCAL
    return Locality.OTHER


def _kind_word(kind: str) -> str:
    return "map" if kind == ids.MAP else "reduce"


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 1.0
