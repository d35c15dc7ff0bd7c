"""The scheduler's state: jobs, tasks, attempts, workers, and what it tells the shell. Pure.

Owned by scheduler.Scheduler; the JobTracker daemon only reads views of it
(JobView) and the decisions it returns (Assignment, HeartbeatDecision, events).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mapreduce.counters import Counters


class JobState(str, enum.Enum):
    RUNNING = "running"
    COMMITTING = "committing"   # every task is done; the shell is committing the output
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.KILLED)


class TaskState(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"


class AttemptState(str, enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"     # counts towards the task's attempt limit
    KILLED = "killed"     # lost worker, lost output, losing speculative copy, job end


class Locality(str, enum.Enum):
    DATA_LOCAL = "data_local"
    RACK_LOCAL = "rack_local"
    OTHER = "other_local"


@dataclass
class Attempt:
    id: str
    task: "Task"
    worker: str
    started_ms: int
    speculative: bool = False
    state: AttemptState = AttemptState.RUNNING
    progress: float = 0.0
    finished_ms: int | None = None
    error: str = ""
    locality: "Locality | None" = None      # maps only: where it ran relative to its block


@dataclass
class Task:
    job_id: str
    kind: str                                  # ids.MAP or ids.REDUCE
    index: int
    locations: tuple[str, ...] = ()            # map: where its block's replicas are
    racks: tuple[str, ...] = ()
    state: TaskState = TaskState.PENDING
    attempts: list[Attempt] = field(default_factory=list)
    failures: int = 0
    failed_on: set[str] = field(default_factory=set)
    winner: Attempt | None = None              # the succeeded attempt (map output owner)
    commit_holder: Attempt | None = None       # the attempt allowed to commit its output
    fetch_failures: int = 0
    counters: Counters = field(default_factory=Counters)
    # Attempt numbers start here: a job resumed after a JobTracker restart numbers its
    # new attempts past any the previous JobTracker may have started.
    attempt_base: int = 0

    def running(self) -> list[Attempt]:
        return [a for a in self.attempts if a.state is AttemptState.RUNNING]

    def progress(self) -> float:
        if self.state is TaskState.SUCCEEDED:
            return 1.0
        return max((a.progress for a in self.running()), default=0.0)


@dataclass
class Job:
    id: str
    maps: list[Task]
    reduces: list[Task]
    submitted_ms: int
    state: JobState = JobState.RUNNING
    error: str = ""
    finished_ms: int | None = None
    counters: Counters = field(default_factory=Counters)   # the "job" group
    workers_used: set[str] = field(default_factory=set)
    user: str = ""                                          # the submitter (fair share)

    @property
    def tasks(self) -> list[Task]:
        return self.maps + self.reduces

    def completed(self, tasks: list[Task]) -> int:
        return sum(1 for t in tasks if t.state is TaskState.SUCCEEDED)


@dataclass
class Worker:
    name: str
    host: str
    rack: str
    last_seen_ms: int
    incarnation: str = ""
    lost: bool = False
    map_slots: int = 0      # free + running at its last heartbeat (fair shares)
    reduce_slots: int = 0
    attempts: dict[str, Attempt] = field(default_factory=dict)   # running here
    kills: set[str] = field(default_factory=set)                 # to send it
    cleanups: set[str] = field(default_factory=set)              # finished jobs


@dataclass(frozen=True)
class Assignment:
    attempt_id: str
    job_id: str
    kind: str
    index: int
    locality: Locality | None = None    # maps only
    speculative: bool = False
    uber_map_attempt_id: str = ""       # reduces only: run in that map's process


@dataclass(frozen=True)
class HeartbeatDecision:
    assignments: list[Assignment]
    kill: list[str]            # attempt ids the worker must stop and discard
    cleanup_jobs: list[str]    # finished jobs whose local files the worker may delete


@dataclass(frozen=True)
class DoneTask:
    """A task whose result a JobTracker journaled before it restarted: a map's output
    on `worker` (as long as that worker keeps `incarnation`), or committed output."""

    kind: str
    index: int
    attempt_id: str
    worker: str
    incarnation: str
    counters: Counters


@dataclass(frozen=True)
class JobFinished:
    """Event: the job reached a state the shell must act on (commit or abort output)."""

    job_id: str
    state: JobState


@dataclass(frozen=True)
class JobView:
    id: str
    state: JobState
    maps_total: int
    maps_completed: int
    reduces_total: int
    reduces_completed: int
    map_progress: float
    reduce_progress: float
    counters: dict[str, dict[str, int]]
    error: str
    submitted_ms: int
    finished_ms: int | None
    running_attempts: int
