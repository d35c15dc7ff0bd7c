"""Safe mode and lease recovery, pure and through the namesystem (no processes)."""
from __future__ import annotations

import pathlib

import pytest

from minidfs import errors
from minidfs.config import Settings
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.datanode_ops import DatanodeOperations
from minidfs.namenode.leases import LeaseManager
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.namenode.safemode import SafeMode

GiB = 1 << 30


def test_safemode_threshold_extension_and_manual() -> None:
    sm = SafeMode(threshold=0.5, extension_ms=100)
    sm.update(total_blocks=4, reported_blocks=1, now_ms=0)
    assert sm.on and "1 of 4" in sm.reason()
    sm.update(4, 2, now_ms=10)
    assert sm.on                       # threshold reached, extension running
    with pytest.raises(errors.SafeModeStarting, match="/s: name node is in safe mode") as starting:
        sm.check("/s")
    # waiting for block reports is retriable: clients back off and retry (also after failover)
    assert isinstance(starting.value, errors.Unavailable)
    assert isinstance(starting.value, errors.SafeModeError)
    sm.update(4, 2, now_ms=110)
    assert not sm.on
    sm.update(4, 0, now_ms=200)
    assert not sm.on                   # never turns itself back on
    sm.enter()
    sm.update(4, 4, now_ms=300)
    assert sm.on and sm.manual
    with pytest.raises(errors.SafeModeError, match="/x: name node is in safe mode") as manual:
        sm.check("/x")
    assert not isinstance(manual.value, errors.Unavailable)   # by hand: fail at once
    sm.leave()
    assert not sm.on
    empty = SafeMode(threshold=0.999, extension_ms=10_000)
    empty.update(0, 0, now_ms=0)
    assert not empty.on                # no blocks: off at once


def test_lease_manager_expiry() -> None:
    from minidfs.namenode.inode import INodeFile
    leases = LeaseManager(soft_limit_ms=10, hard_limit_ms=100)
    f1, f2 = INodeFile("a", None, 0, 1, 1, "c1"), INodeFile("b", None, 0, 1, 1, "c2")
    leases.add("c1", f1, now_ms=0)
    leases.add("c2", f2, now_ms=0)
    leases.renew("c2", now_ms=90)
    assert leases.soft_expired("c1", now_ms=11) and not leases.soft_expired("c2", now_ms=95)
    assert leases.expired(now_ms=150) == [("c1", f1)]
    leases.remove("c1", f1)
    assert leases.expired(now_ms=1000) == [("c2", f2)]


async def write_one_block(fs: Namesystem, ops: ClientOperations, dn: DatanodeOperations,
                          path: str, length: int) -> None:
    await ops.create(path, False, 1, 65536, "writer", "", True)
    located = await ops.add_block(path, "writer", None, [])
    dn.block_received_and_deleted("dn1", [(located.block_id, located.genstamp, length, True)], [])
    assert await ops.complete(path, "writer", (located.block_id, located.genstamp, length))


async def test_safe_mode_at_restart_until_blocks_are_reported(tmp_path: pathlib.Path) -> None:
    settings = Settings(replication=1, safemode_threshold=1.0)
    fs = Namesystem(settings, tmp_path)
    await fs.start()
    ops, dn = ClientOperations(fs), DatanodeOperations(fs)
    assert not fs.safemode.on
    dn.register("dn1", "127.0.0.1:1", "/r", 10 * GiB, 0, 10 * GiB)
    await write_one_block(fs, ops, dn, "/f", 10)
    block = fs.ns.get_file("/f").blocks[0]
    await fs.stop()

    fs = Namesystem(settings, tmp_path)
    await fs.start()
    ops, dn = ClientOperations(fs), DatanodeOperations(fs)
    assert fs.safemode.on and fs.stats().safe_mode
    with pytest.raises(errors.SafeModeError, match="/g: name node is in safe mode"):
        await ops.mkdirs("/g", True)
    assert ops.get_file_info("/f").length == 10        # reads work
    assert dn.heartbeat("dn1", 1, 0, 1, 0)[0].action == "REREGISTER"
    dn.register("dn1", "127.0.0.1:1", "/r", 10 * GiB, 0, 10 * GiB)
    dn.block_report("dn1", [(block.id, block.genstamp, 10, True)])
    assert not fs.safemode.on
    await ops.mkdirs("/g", True)
    assert ops.safe_mode("ENTER")[0]
    with pytest.raises(errors.SafeModeError):
        await ops.delete("/g", False)
    assert not ops.safe_mode("LEAVE")[0]
    await fs.stop()


async def test_complete_waits_for_a_reported_replica(tmp_path: pathlib.Path) -> None:
    fs = Namesystem(Settings(replication=1), tmp_path)
    await fs.start()
    ops, dn = ClientOperations(fs), DatanodeOperations(fs)
    dn.register("dn1", "127.0.0.1:1", "/r", 10 * GiB, 0, 10 * GiB)
    await ops.create("/f", False, 0, 0, "w", "dn1", True)
    located = await ops.add_block("/f", "w", None, [])
    assert [r.name for r in located.locations] == ["dn1"]
    last = (located.block_id, located.genstamp, 5)
    assert not await ops.complete("/f", "w", last)       # not reported yet
    dn.block_received_and_deleted("dn1", [(located.block_id, located.genstamp, 5, True)], [])
    assert await ops.complete("/f", "w", last)
    assert await ops.complete("/f", "w", last)           # retried: idempotent
    blocks = ops.get_block_locations("/f", 0, 0, "dn1")
    assert blocks.file_length == 5 and blocks.blocks[0].locations[0].name == "dn1"
    await fs.stop()


async def test_expired_lease_is_recovered(tmp_path: pathlib.Path) -> None:
    fs = Namesystem(Settings(replication=1, lease_hard_limit_s=1.0), tmp_path)
    await fs.start()
    ops, dn = ClientOperations(fs), DatanodeOperations(fs)
    dn.register("dn1", "127.0.0.1:1", "/r", 10 * GiB, 0, 10 * GiB)
    await ops.create("/kept", False, 1, 65536, "gone", "", True)
    first = await ops.add_block("/kept", "gone", None, [])
    dn.block_received_and_deleted("dn1", [(first.block_id, first.genstamp, 1024, True)], [])
    second = await ops.add_block("/kept", "gone", (first.block_id, first.genstamp, 1024), [])
    dn.block_received_and_deleted("dn1", [(second.block_id, second.genstamp, 300, True)], [])
    await ops.create("/dropped", False, 1, 65536, "gone", "", True)
    await ops.add_block("/dropped", "gone", None, [])      # never written
    await fs.tick(mono_ms() + 500)
    assert ops.get_file_info("/kept").under_construction
    await fs.tick(mono_ms() + 5_000)
    kept, dropped = ops.get_file_info("/kept"), ops.get_file_info("/dropped")
    assert not kept.under_construction and kept.length == 1324
    assert not dropped.under_construction and dropped.length == 0
    assert fs.ns.get_file("/dropped").blocks == []
    assert fs.leases.leases == {}
    await fs.stop()


async def test_create_over_a_file_another_client_writes(tmp_path: pathlib.Path) -> None:
    fs = Namesystem(Settings(), tmp_path)
    await fs.start()
    ops = ClientOperations(fs)
    await ops.create("/f", False, 1, 65536, "c1", "", True)
    with pytest.raises(errors.LeaseError, match="being written by another client"):
        await ops.create("/f", True, 1, 65536, "c2", "", True)
    with pytest.raises(errors.FileExists):
        await ops.create("/f", False, 1, 65536, "c2", "", True)
    await ops.create("/f", True, 1, 65536, "c1", "", True)      # the holder may overwrite
    with pytest.raises(errors.LeaseError):
        await ops.add_block("/f", "c2", None, [])
    await fs.stop()


def test_safe_mode_errors_cross_the_wire_as_their_own_class() -> None:
    """The gRPC mapping keeps the retriable / final distinction end to end."""
    import grpc

    from minidfs.rpc.status import ERROR_KEY, from_rpc_error, status_code

    class FakeRpcError(grpc.RpcError):
        def __init__(self, exc):
            self.exc = exc

        def code(self):
            return status_code(self.exc)

        def details(self):
            return str(self.exc)

        def trailing_metadata(self):
            return ((ERROR_KEY, type(self.exc).__name__),)

    starting = errors.SafeModeStarting("/a: name node is in safe mode")
    assert status_code(starting) == grpc.StatusCode.UNAVAILABLE
    assert type(from_rpc_error(FakeRpcError(starting))) is errors.SafeModeStarting
    manual = errors.SafeModeError("/a: name node is in safe mode")
    assert status_code(manual) == grpc.StatusCode.FAILED_PRECONDITION
    assert type(from_rpc_error(FakeRpcError(manual))) is errors.SafeModeError
