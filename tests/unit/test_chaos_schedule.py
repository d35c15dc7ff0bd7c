"""The chaos schedule (cluster/chaos/schedule.py): seeded, inside the survivable
budget, every fault healed before the end of the run."""
from __future__ import annotations

import pytest

from cluster.chaos import schedule
from cluster.chaos.schedule import Shape

HA = Shape(datanodes=("dn1", "dn2", "dn3"), namenodes=("nn1", "nn2"),
           journalnodes=("jn1", "jn2", "jn3"), replication=3)
ALL = schedule.FAULT_KINDS


def overlapping(plan, t):
    return [f for f in plan if f.at_s <= t < f.heal_s]


def test_same_seed_same_schedule_other_seed_other():
    a = schedule.plan(HA, seed=7, duration_s=120, faults=ALL, rate_per_min=30)
    assert a == schedule.plan(HA, seed=7, duration_s=120, faults=ALL, rate_per_min=30)
    assert a != schedule.plan(HA, seed=8, duration_s=120, faults=ALL, rate_per_min=30)
    assert len(a) > 10


@pytest.mark.parametrize("seed", range(20))
def test_never_more_than_the_cluster_survives(seed):
    plan = schedule.plan(HA, seed=seed, duration_s=300, faults=ALL, rate_per_min=60)
    for fault in plan:
        busy = overlapping(plan, fault.at_s)
        assert sum(f.node.startswith("dn") for f in busy) <= 2
        assert sum(f.node.startswith("nn") for f in busy) <= 1
        assert sum(f.node.startswith("jn") for f in busy) <= 1
        nodes = [f.node for f in busy] + [f.peer for f in busy if f.peer]
        assert len(nodes) == len(set(nodes)), "one fault per node at a time"
        assert fault.heal_s <= 300 - schedule.TAIL_WITHOUT_FAULTS_S
        if fault.kind in schedule.DISK_FAULTS:
            assert fault.node.startswith("dn")


def test_lone_namenode_only_killed_or_restarted_and_small_clusters_spared():
    shape = Shape(datanodes=("dn1", "dn2", "dn3"), namenodes=("nn1",), replication=3)
    plan = schedule.plan(shape, seed=3, duration_s=600, faults=ALL, rate_per_min=60)
    assert {f.kind for f in plan if f.node == "nn1"} <= {"kill", "restart"}
    single = Shape(datanodes=("dn1",), namenodes=("nn1",), replication=1)
    assert all(f.node == "nn1" for f in schedule.plan(single, seed=3, duration_s=600,
                                                       faults=ALL, rate_per_min=60))


def test_brutal_lifts_the_budget():
    plan = schedule.plan(HA, seed=1, duration_s=600, faults=("kill",), rate_per_min=120,
                         brutal=True)
    assert any(sum(f.node.startswith("dn") for f in overlapping(plan, f.at_s)) == 3
               for f in plan)


def test_parse_faults():
    assert schedule.parse_faults("kill, pause") == ("kill", "pause")
    for bad in ("", "kill,explode"):
        with pytest.raises(ValueError):
            schedule.parse_faults(bad)
