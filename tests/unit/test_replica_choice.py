"""Replica order for readers: nearest first, equally near ones shuffled with a weight
against load, so sequential readers spread over every holder (HDFS shuffles)."""
from __future__ import annotations

import collections
import random

from minidfs.namenode.replica_choice import order_replicas, weighted_shuffle


def test_equal_replicas_spread_over_every_holder() -> None:
    rng = random.Random(7)
    firsts = collections.Counter(
        order_replicas(["dn1", "dn2", "dn3"], lambda n: 0, lambda n: 0, rng)[0]
        for _ in range(3000))
    assert set(firsts) == {"dn1", "dn2", "dn3"}
    assert all(700 < count < 1300 for count in firsts.values()), firsts


def test_nearer_ranks_always_first() -> None:
    rng = random.Random(1)
    rank = {"local": (False, False), "rack": (True, False), "far1": (True, True), "far2": (True, True)}
    for _ in range(200):
        got = order_replicas(list(rank), rank.__getitem__, lambda n: 0, rng)
        assert got[:2] == ["local", "rack"] and set(got[2:]) == {"far1", "far2"}


def test_busy_nodes_come_first_less_often_but_still_do() -> None:
    rng = random.Random(3)
    load = {"idle": 0, "busy": 9}
    firsts = collections.Counter(weighted_shuffle(["busy", "idle"], load.__getitem__, rng)[0]
                                 for _ in range(2000))
    assert firsts["idle"] > 4 * firsts["busy"] > 0, firsts
