"""The NameNode's balancer operations through a real namesystem (no processes):
superuser only, argument checks, a move end to end through heartbeats and reports,
and the bandwidth on heartbeat replies."""
from __future__ import annotations

import pathlib

import pytest

from minidfs import errors
from minidfs.config import Settings
from minidfs.namenode.balancer_ops import BalancerOperations
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.datanode_ops import DatanodeOperations
from minidfs.namenode.namesystem import Namesystem, mono_ms

GiB = 1 << 30


@pytest.fixture
async def cluster(tmp_path: pathlib.Path):
    fs = Namesystem(Settings(replication=2), tmp_path)
    await fs.start()
    ops, dn = ClientOperations(fs), DatanodeOperations(fs)
    for name in ("dn1", "dn2", "dn3"):
        dn.register(name, f"127.0.0.1:{name[-1]}", "/r", 10 * GiB, 0, 10 * GiB)
    await ops.create("/f", False, 2, 65536, "writer", "", True)
    located = await ops.add_block("/f", "writer", None, [])
    block = (located.block_id, located.genstamp, 10)
    dn.block_received_and_deleted("dn1", [(*block, True)], [])
    dn.block_received_and_deleted("dn2", [(*block, True)], [])
    assert await ops.complete("/f", "writer", block)
    fs.bm.tick(mono_ms())
    try:
        yield fs, BalancerOperations(fs), dn, located.block_id
    finally:
        await fs.stop()


async def test_a_move_through_reports(cluster):
    fs, bal, dn, block_id = cluster
    (view,) = bal.datanode_blocks("dn1", 0)
    assert (view.block_id, view.locations, view.replication, view.moving) == (
        block_id, ["dn1", "dn2"], 2, False)
    bal.move_replica(block_id, "dn1", "dn3")
    assert bal.block_replicas([block_id, 999])[0].moving
    commands = dn.heartbeat("dn1", 10 * GiB, 0, 10 * GiB, 0)
    (command,) = [c for c in commands if c.action == "REPLICATE"]
    assert [t.name for t in command.targets] == ["dn3"]
    dn.block_received_and_deleted("dn3", [(block_id, view.genstamp, 10, True)], [])
    fs.bm.tick(mono_ms())
    assert [c.action for c in dn.heartbeat("dn1", 10 * GiB, 0, 10 * GiB, 0)] == ["DELETE"]
    (after,) = bal.block_replicas([block_id])
    assert (after.locations, after.moving) == (["dn2", "dn3"], False)


async def test_bad_requests(cluster):
    fs, bal, dn, block_id = cluster
    with pytest.raises(errors.InvalidArgument, match="no such DataNode"):
        bal.datanode_blocks("dn9", 0)
    with pytest.raises(errors.InvalidArgument):
        bal.datanode_blocks("dn1", 10**9)
    with pytest.raises(errors.InvalidArgument):
        bal.datanode_blocks("", 0)
    with pytest.raises(errors.InvalidArgument, match="same DataNode"):
        bal.move_replica(block_id, "dn1", "dn1")
    with pytest.raises(errors.InvalidArgument, match="not a block id"):
        bal.move_replica(0, "dn1", "dn3")
    with pytest.raises(errors.PreconditionFailed, match="no such complete block"):
        bal.move_replica(block_id + 5, "dn1", "dn3")
    with pytest.raises(errors.InvalidArgument, match="at most"):
        bal.block_replicas(list(range(1, 20_000)))
    with pytest.raises(errors.InvalidArgument, match="bandwidth"):
        bal.set_bandwidth(10)


async def test_superuser_only(cluster):
    fs, bal, dn, block_id = cluster
    bob = fs.users.caller("bob")
    for call in (lambda: bal.datanode_blocks("dn1", 0, bob), lambda: bal.block_replicas([1], bob),
                 lambda: bal.move_replica(block_id, "dn1", "dn3", bob),
                 lambda: bal.set_bandwidth(1 << 20, bob)):
        with pytest.raises(errors.PermissionDeniedError, match="not a superuser"):
            call()


async def test_bandwidth_is_held_for_heartbeat_replies(cluster):
    fs, bal, dn, block_id = cluster
    assert fs.balance_bandwidth_bytes_per_s == 0
    bal.set_bandwidth(5 << 20, fs.users.caller(fs.users.superuser))
    assert fs.balance_bandwidth_bytes_per_s == 5 << 20
