"""Fair sharing of task slots between running jobs, per user first, then per job. Pure.

Used by the scheduler (scheduler.py): `fair_order` says which job a free slot is
offered to first, `fair_shares` how many slots each job deserves (shown by
`mapreduce list`). Hadoop's Fair Scheduler with one pool per user and equal weights:
every user with work gets an equal part of the slots, and each user's part is split
equally between their jobs; a job (or user) that wants less than its part leaves the
rest to the others (max-min fairness, "water filling"). Slots are offered greedily to
whoever is furthest below its share, which converges to the same split as tasks end
and new ones start, without preempting running tasks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class JobDemand:
    job_id: str
    user: str
    running: int      # attempts of this pool's kind running now
    wanted: int       # tasks of this kind it could run now (running + startable)


def fair_order(jobs: Iterable[JobDemand]) -> list[str]:
    """Job ids in the order a free slot is offered to them: the user with the fewest
    running attempts first, within a user the job with the fewest, then the older job
    (the input order, which is submission order)."""
    items = list(jobs)
    per_user: dict[str, int] = {}
    for job in items:
        per_user[job.user] = per_user.get(job.user, 0) + job.running
    ranked = sorted(enumerate(items),
                    key=lambda pair: (per_user[pair[1].user], pair[1].running, pair[0]))
    return [job.job_id for _, job in ranked]


def water_fill(wants: Mapping[str, float], capacity: float) -> dict[str, float]:
    """Max-min fair split of capacity: nobody gets more than it wants, and whatever
    someone does not want is split equally among the others."""
    shares = {name: 0.0 for name in wants}
    left = float(max(0.0, capacity))
    pending = sorted(wants, key=lambda name: wants[name])
    while pending and left > 1e-9:
        equal = left / len(pending)
        name = pending[0]
        if wants[name] <= equal:
            shares[name] = float(wants[name])
            left -= wants[name]
            pending.pop(0)
            continue
        for name in pending:
            shares[name] = equal
        left = 0.0
    return shares


def fair_shares(jobs: Iterable[JobDemand], slots: int) -> dict[str, float]:
    """Slots each job deserves out of `slots`: users first, then each user's jobs."""
    items = list(jobs)
    by_user: dict[str, list[JobDemand]] = {}
    for job in items:
        by_user.setdefault(job.user, []).append(job)
    user_shares = water_fill({u: sum(j.wanted for j in js) for u, js in by_user.items()}, slots)
    shares: dict[str, float] = {}
    for user, user_jobs in by_user.items():
        shares.update(water_fill({j.job_id: j.wanted for j in user_jobs}, user_shares[user]))
    return shares
