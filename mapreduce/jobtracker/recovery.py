"""What the JobTracker's edit log says, and what a restarted JobTracker resumes. Pure.

journal.py stores these records (and each job's submission file); tracker.py appends
them and, at start-up, replays them with `replay` into the jobs still to finish.
Records are plain dicts (msgpack on disk, in the NameNode's edit-log framing):

    {"op": "generation", "n": 7}                 one per JobTracker start
    {"op": "submit", "job", "name", "input", "output", "reducers", "timeout_s",
     "submitted_ms", "user", "generation"}       fsynced before "submitted" is said
    {"op": "task", "job", "kind", "index", "attempt", "worker", "incarnation",
     "counters", "job_counters"}                 a map output or committed task output
    {"op": "committing", "job"}                  fsynced before the job's commit
    {"op": "kill", "job"}                        fsynced before "killed" is said
    {"op": "finished", "job", "state"}           its history record is written

A "task" record of a map is only worth keeping while its Worker still has the output
(the same incarnation); the scheduler checks that when it restores the job. The
submission's bulk (splits, package) lives in a side file per job (`encode_job_file`),
so records stay small.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import msgpack

from mapreduce import ids
from mapreduce.counters import Counters
from mapreduce.jobtracker.model import DoneTask
from mapreduce.splits import Split
from minidfs.errors import EditLogCorrupt, InvalidArgument, JobError

GENERATION, SUBMIT, TASK, COMMITTING, KILL, FINISHED = (
    "generation", "submit", "task", "committing", "kill", "finished")
_SUBMIT_FIELDS = ("job", "name", "input", "output", "reducers", "timeout_s", "submitted_ms",
                  "user", "generation")


@dataclass
class JournaledJob:
    submit: dict[str, Any]
    done: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    job_counters: list = field(default_factory=list)
    committing: bool = False
    killed: bool = False
    finished: bool = False

    @property
    def job_id(self) -> str:
        return self.submit["job"]

    def done_tasks(self) -> list[DoneTask]:
        return [DoneTask(r["kind"], r["index"], r["attempt"], r["worker"], r["incarnation"],
                         _counters(r["counters"])) for r in self.done.values()]

    def counters(self) -> Counters:
        return _counters(self.job_counters)

    def records(self) -> list[dict[str, Any]]:
        """This job's state as the fewest records (for a compacted journal)."""
        out = [dict(self.submit, op=SUBMIT)]
        out += [dict(r, op=TASK) for r in self.done.values()]
        if self.committing:
            out.append({"op": COMMITTING, "job": self.job_id})
        if self.killed:
            out.append({"op": KILL, "job": self.job_id})
        return out


@dataclass
class Recovered:
    generation: int = 0
    jobs: dict[str, JournaledJob] = field(default_factory=dict)   # submission order

    def live(self) -> list[JournaledJob]:
        return [j for j in self.jobs.values() if not j.finished]


def replay(records: Iterable[dict[str, Any]], name: str = "journal") -> Recovered:
    """Folds the journal's records, oldest first, into its generation and jobs. A
    record that passed its checksum but makes no sense is corruption, not a torn tail."""
    state = Recovered()
    for record in records:
        try:
            _apply(state, record)
        except (KeyError, TypeError, ValueError, InvalidArgument) as e:
            raise EditLogCorrupt(f"{name}: bad JobTracker record {record.get('txid')}: "
                                 f"{type(e).__name__}: {e}") from None
    return state


def _apply(state: Recovered, record: dict[str, Any]) -> None:
    op = record["op"]
    if op == GENERATION:
        state.generation = max(state.generation, int(record["n"]))
        return
    job_id = ids.validate_job_id(record["job"])
    if op == SUBMIT:
        submit = {k: record[k] for k in _SUBMIT_FIELDS}
        state.jobs[job_id] = JournaledJob(submit)
        return
    job = state.jobs.get(job_id)
    if job is None:
        raise ValueError(f"{job_id}: {op} before its submission")
    if op == TASK:
        kind, index = record["kind"], int(record["index"])
        if kind not in (ids.MAP, ids.REDUCE):
            raise ValueError(f"task kind {kind!r}")
        ids.parse_attempt(record["attempt"])
        job.done[(kind, index)] = {k: record[k] for k in (
            "job", "kind", "index", "attempt", "worker", "incarnation", "counters",
            "job_counters")}
        job.job_counters = list(record["job_counters"])
    elif op == COMMITTING:
        job.committing = True
    elif op == KILL:
        job.killed = True
    elif op == FINISHED:
        job.finished = True
    else:
        raise ValueError(f"unknown op {op!r}")


def generation_record(n: int) -> dict[str, Any]:
    return {"op": GENERATION, "n": n}


def submit_record(job_id: str, name: str, input: str, output: str, reducers: int,
                  timeout_s: float, submitted_ms: int, user: str, generation: int) -> dict[str, Any]:
    return {"op": SUBMIT, "job": job_id, "name": name, "input": input, "output": output,
            "reducers": reducers, "timeout_s": timeout_s, "submitted_ms": submitted_ms,
            "user": user, "generation": generation}


def task_record(attempt_id: str, worker: str, incarnation: str, counters: Counters,
                job_counters: Counters) -> dict[str, Any]:
    attempt = ids.parse_attempt(attempt_id)
    return {"op": TASK, "job": attempt.job_id, "kind": attempt.kind, "index": attempt.index,
            "attempt": attempt_id, "worker": worker, "incarnation": incarnation,
            "counters": [list(t) for t in counters.triples()],
            "job_counters": [list(t) for t in job_counters.triples()]}


def job_record(op: str, job_id: str, **extra: Any) -> dict[str, Any]:
    return {"op": op, "job": job_id, **extra}


def compacted(state: Recovered, generation: int) -> list[dict[str, Any]]:
    """A fresh journal for this start: its generation, then every live job's records."""
    out = [generation_record(generation)]
    for job in state.live():
        out += job.records()
    return out


def encode_job_file(splits: list[Split], package: bytes) -> bytes:
    return msgpack.packb({"splits": [[s.path, s.start, s.length, list(s.locations)]
                                     for s in splits], "package": package}, use_bin_type=True)


def decode_job_file(data: bytes) -> tuple[list[Split], bytes]:
    try:
        found = msgpack.unpackb(data, raw=False)
        splits = [Split(path, int(start), int(length), tuple(locations))
                  for path, start, length, locations in found["splits"]]
        return splits, bytes(found["package"])
    except (ValueError, KeyError, TypeError, msgpack.UnpackException) as e:
        raise JobError(f"damaged job file: {e}") from None


def _counters(triples: Iterable) -> Counters:
    return Counters.from_triples((str(g), str(n), int(v)) for g, n, v in triples)


def next_sequence(stamp: str, job_ids: Iterable[str]) -> int:
    """The first job sequence number of a JobTracker started with this stamp: past
    any job id an earlier start with the same stamp (within the same second) gave."""
    prefix = f"job_{stamp}_"
    used = [int(j[len(prefix):]) for j in job_ids if j.startswith(prefix)
            and j[len(prefix):].isdigit()]
    return max(used, default=0) + 1
