"""Fixtures shared by the test tiers.

`cluster`: one real local cluster per test module (LocalCluster: 3 DataNodes,
64 KiB blocks so small files span several blocks), always torn down, also when a
test fails or start-up times out. A module changes the defaults with a
module-level `CLUSTER_OPTIONS = {...}` (any LocalCluster keyword, e.g.
`{"datanodes": 4, "lease_soft_limit_s": 2.0}`). `fs`: a minidfs.Client on it.
`wait_until`: poll a condition with a bounded wait (replica reports are async).
`start_datanode`: start a stopped DataNode of `cluster` and wait until the NameNode
sees it live.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import pytest

DEFAULT_CLUSTER_OPTIONS: dict[str, Any] = {"datanodes": 3, "block_size": 64 * 1024}
WAIT_POLL_INTERVAL_S = 0.1


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, request):
    from cluster import LocalCluster

    options = {**DEFAULT_CLUSTER_OPTIONS, **getattr(request.module, "CLUSTER_OPTIONS", {})}
    local = LocalCluster(tmp_path_factory.mktemp("cluster"), **options)
    try:
        local.up()
        yield local
    finally:
        local.down()


@pytest.fixture(scope="module")
def fs(cluster):
    with cluster.client() as client:
        yield client


def _wait_until(condition: Callable[[], Any], timeout_s: float = 15.0,
                what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(WAIT_POLL_INTERVAL_S)


@pytest.fixture
def wait_until():
    return _wait_until


DATANODE_LIVE_TIMEOUT_S = 30.0


@pytest.fixture
def start_datanode(cluster, fs, wait_until):
    """start(name): cluster.start, tolerating a launcher race (right after exec,
    /proc/<pid>/cmdline can read empty and cluster/processes.py then takes the new
    daemon for dead); what counts is the NameNode seeing the node live."""
    from cluster.local import StartupError
    from minidfs.client import health

    def start(name: str) -> None:
        try:
            cluster.start(name)
        except StartupError:
            wait_until(lambda: any(n["name"] == name and n["state"] != "stopped"
                                   for n in cluster.status()), 5.0, f"{name} running")
        wait_until(lambda: any(n["name"] == name and n["state"] == "live"
                               for n in health.datanode_report(fs.namenode)),
                   DATANODE_LIVE_TIMEOUT_S, f"{name} live")
    return start
