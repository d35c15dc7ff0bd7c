"""The nemesis's plan: which fault hits which node when, and when it is healed.

Pure and seeded: the same seed, cluster shape and options give the same schedule,
so a failing run can be replayed (`--seed N`). The plan keeps every fault inside
what the cluster promises to survive unless `brutal`: at most replication - 1
DataNodes faulty at once (their data stays on disk, so no acknowledged byte can be
lost), at most one NameNode of an HA pair and one JournalNode of three, and in a
cluster without HA the single NameNode only by kill / restart (a restart heals it).
Workers and the JobTracker only when the MapReduce workload runs.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Iterable

FAULT_KINDS = ("kill", "pause", "restart", "partition", "disk-full", "corrupt")
# Faults that can only hit a DataNode (they act on its disk).
DISK_FAULTS = ("disk-full", "corrupt")
DEFAULT_RATE_PER_MIN = 12.0
MIN_FAULT_S = 2.0
MAX_FAULT_S = 8.0
# The last stretch of the run is left without new faults so each one is healed
# inside the run, not by the final clean-up.
TAIL_WITHOUT_FAULTS_S = 3.0


@dataclasses.dataclass(frozen=True)
class Fault:
    at_s: float       # seconds from the start of the run
    kind: str
    node: str
    heal_s: float     # seconds from the start: when it is undone
    peer: str = ""    # partition: the node cut off from `node`

    def as_dict(self) -> dict:
        row = {"at_s": round(self.at_s, 3), "kind": self.kind, "node": self.node,
               "heal_s": round(self.heal_s, 3)}
        if self.peer:
            row["peer"] = self.peer
        return row


@dataclasses.dataclass(frozen=True)
class Shape:
    """What the nemesis may hit: node names by kind, and the cluster's replication."""
    datanodes: tuple[str, ...]
    namenodes: tuple[str, ...]
    journalnodes: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()
    jobtracker: str = ""
    replication: int = 3


def parse_faults(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"{text!r}: faults must be a comma list of {', '.join(FAULT_KINDS)}")
    return kinds


def _budgets(shape: Shape, brutal: bool) -> dict[str, int]:
    """How many nodes of each kind may be faulty at the same moment."""
    if brutal:
        return {"datanode": len(shape.datanodes), "namenode": len(shape.namenodes),
                "journalnode": len(shape.journalnodes), "worker": len(shape.workers),
                "jobtracker": 1}
    return {"datanode": max(0, min(len(shape.datanodes) - 1, shape.replication - 1)),
            "namenode": 1 if shape.namenodes else 0,
            "journalnode": (len(shape.journalnodes) - 1) // 2,
            "worker": max(0, len(shape.workers) - 1),
            "jobtracker": 1 if shape.jobtracker else 0}


def _kinds_for(node_kind: str, faults: tuple[str, ...], ha: bool) -> list[str]:
    allowed = [f for f in faults if f not in DISK_FAULTS or node_kind == "datanode"]
    if node_kind == "namenode" and not ha:
        # A paused lone NameNode is just an outage; kill / restart also test its log.
        allowed = [f for f in allowed if f in ("kill", "restart")]
    if node_kind != "datanode":
        allowed = [f for f in allowed if f != "partition" or node_kind == "namenode"]
    return allowed


def plan(shape: Shape, *, seed: int, duration_s: float, faults: Iterable[str],
         rate_per_min: float = DEFAULT_RATE_PER_MIN, brutal: bool = False) -> list[Fault]:
    """The faults of a run, in start order. Each starts after an exponential gap
    (mean 60 / rate s) and lasts MIN..MAX_FAULT_S; a fault that would exceed its
    kind's budget at that moment is skipped (the draw still happens, so the rest of
    the schedule does not shift)."""
    faults = tuple(faults)
    rng = random.Random(seed)
    ha = len(shape.namenodes) > 1
    kinds = {"datanode": shape.datanodes, "namenode": shape.namenodes,
             "journalnode": shape.journalnodes, "worker": shape.workers,
             "jobtracker": (shape.jobtracker,) if shape.jobtracker else ()}
    budgets = _budgets(shape, brutal)
    targets = [(kind, name) for kind, names in kinds.items() for name in names
               if budgets[kind] > 0 and _kinds_for(kind, faults, ha)]
    plan_: list[Fault] = []
    if not targets or rate_per_min <= 0:
        return plan_
    end_s = duration_s - TAIL_WITHOUT_FAULTS_S
    at_s = 0.0
    while True:
        at_s += rng.expovariate(rate_per_min / 60.0)
        kind_of_node, node = rng.choice(targets)
        fault = rng.choice(_kinds_for(kind_of_node, faults, ha))
        length_s = rng.uniform(MIN_FAULT_S, MAX_FAULT_S)
        peer_choices = [n for n in shape.datanodes + shape.namenodes if n != node]
        peer = rng.choice(peer_choices) if fault == "partition" and peer_choices else ""
        if at_s >= end_s:
            return plan_
        heal_s = min(at_s + length_s, end_s)
        busy = [f for f in plan_ if f.at_s <= at_s < f.heal_s]
        if any(f.node == node or f.peer == node for f in busy):
            continue
        same_kind = [f for f in busy if f.node in kinds[kind_of_node]]
        if len(same_kind) >= budgets[kind_of_node]:
            continue
        if fault == "partition" and any(f.node == peer or f.peer == peer for f in busy):
            continue
        plan_.append(Fault(at_s, fault, node, heal_s, peer))
