"""Append, hflush lengths and lease recovery in the NameNode's cores, through the
namesystem with no processes (docs/append.md): one writer per file, the last block
reopened under a new genstamp, edits that survive a restart, block recovery of a
flushed file whose writer went silent."""
from __future__ import annotations

import asyncio

import pathlib

import pytest

from minidfs import errors
from minidfs.config import Settings
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.datanode_ops import DatanodeOperations
from minidfs.namenode.namesystem import Namesystem, mono_ms

GiB = 1 << 30
BLOCK = 65536


async def cluster(tmp_path: pathlib.Path, **settings) -> tuple[Namesystem, ClientOperations,
                                                              DatanodeOperations]:
    fs = Namesystem(Settings(replication=2, **settings), tmp_path)
    await fs.start()
    ops, dn = ClientOperations(fs), DatanodeOperations(fs)
    for name in ("dn1", "dn2", "dn3"):
        dn.register(name, f"127.0.0.1:{10 + len(name)}", "/r", 10 * GiB, 0, 10 * GiB)
    return fs, ops, dn


async def write(ops, dn, path: str, length: int, client: str = "w") -> tuple[int, int]:
    """A closed one-block file of `length` bytes on dn1 and dn2; (block id, genstamp)."""
    await ops.create(path, False, 2, BLOCK, client, "", True)
    block = await ops.add_block(path, client, None, [])
    for node in ("dn1", "dn2"):
        dn.block_received_and_deleted(node, [(block.block_id, block.genstamp, length, True)], [])
    assert await ops.complete(path, client, (block.block_id, block.genstamp, length))
    return block.block_id, block.genstamp


async def test_append_reopens_a_short_last_block(tmp_path):
    fs, ops, dn = await cluster(tmp_path)
    block_id, genstamp = await write(ops, dn, "/f", 1000)
    view, last, reopened = await ops.append("/f", "a", "dn2")
    assert reopened and view.under_construction and view.length == 1000
    assert (last.block_id, last.length) == (block_id, 1000) and last.genstamp > genstamp
    assert [n.name for n in last.locations] == ["dn2", "dn1"]     # the writer's node first
    await ops.fsync("/f", "a", (block_id, last.genstamp, 1500))
    assert ops.get_file_info("/f").length == 1500
    # Its pipeline finalizes the longer replica; Complete closes the file.
    for node in ("dn1", "dn2"):
        dn.block_received_and_deleted(node, [(block_id, last.genstamp, 2000, True)], [])
    assert await ops.complete("/f", "a", (block_id, last.genstamp, 2000))
    assert ops.get_file_info("/f").length == 2000
    await fs.stop()


async def test_append_after_a_full_block_adds_one(tmp_path):
    fs, ops, dn = await cluster(tmp_path)
    block_id, genstamp = await write(ops, dn, "/full", BLOCK)
    _, last, reopened = await ops.append("/full", "a", "")
    assert not reopened and (last.block_id, last.genstamp, last.length) == (block_id, genstamp, BLOCK)
    added = await ops.add_block("/full", "a", (block_id, genstamp, BLOCK), [])
    assert added.block_id != block_id and added.offset == BLOCK
    await ops.create("/empty", False, 2, BLOCK, "b", "", True)
    assert await ops.complete("/empty", "b", None)
    _, none, reopened = await ops.append("/empty", "b", "")
    assert none is None and not reopened
    await fs.stop()


async def test_one_writer_per_file(tmp_path):
    fs, ops, dn = await cluster(tmp_path, lease_soft_limit_s=30.0)
    await write(ops, dn, "/one", 10)
    await ops.append("/one", "a", "")
    with pytest.raises(errors.AlreadyBeingCreatedError, match="another client"):
        await ops.append("/one", "b", "")
    with pytest.raises(errors.AlreadyBeingCreatedError, match="this client"):
        await ops.append("/one", "a", "")
    with pytest.raises(errors.LeaseError):
        await ops.create("/one", True, 2, BLOCK, "b", "", True)
    await ops.mkdirs("/dir", True)
    with pytest.raises(errors.IsADirectory):
        await ops.append("/dir", "a", "")
    with pytest.raises(errors.FileNotFound):
        await ops.append("/none", "a", "")
    await fs.stop()


async def test_append_and_flushed_length_survive_a_restart(tmp_path):
    fs, ops, dn = await cluster(tmp_path)
    block_id, _ = await write(ops, dn, "/r", 100)
    _, last, _ = await ops.append("/r", "a", "")
    await ops.fsync("/r", "a", (block_id, last.genstamp, 300))
    await fs.stop()
    again = Namesystem(Settings(replication=2), tmp_path)
    await again.start()
    file = again.ns.get_file("/r")
    assert file.client == "a" and not file.blocks[-1].committed
    assert (file.blocks[-1].genstamp, file.length()) == (last.genstamp, 300)
    assert again.leases.open_files("a") == 1
    await again.stop()


async def test_a_silent_flushed_writer_is_recovered_by_block_recovery(tmp_path):
    fs, ops, dn = await cluster(tmp_path, lease_hard_limit_s=1.0)
    await ops.create("/w", False, 2, BLOCK, "gone", "", True)
    block = await ops.add_block("/w", "gone", None, [])
    await ops.fsync("/w", "gone", (block.block_id, block.genstamp, 700))
    await fs.tick(mono_ms() + 5_000)
    commands = {name: dn._commands(name) for name in ("dn1", "dn2", "dn3")}
    [(primary, [recover])] = [(n, c) for n, c in commands.items() if c]
    assert recover.action == "RECOVER" and recover.block_id == block.block_id
    assert recover.genstamp == 0 and recover.recovery_genstamp > block.genstamp
    assert sorted(t.name for t in recover.targets) == sorted(n.name for n in block.locations)
    assert ops.get_file_info("/w").under_construction       # until the replicas are finalized
    for node in recover.targets:
        dn.block_received_and_deleted(node.name, [(block.block_id, recover.recovery_genstamp,
                                                   900, True)], [])
    await fs.tick(mono_ms() + 6_000)
    info = ops.get_file_info("/w")
    assert not info.under_construction and info.length == 900
    assert fs.leases.leases == {}
    await fs.stop()


async def test_recover_lease_and_an_append_past_the_soft_limit(tmp_path):
    fs, ops, dn = await cluster(tmp_path, lease_soft_limit_s=0.0, lease_hard_limit_s=60.0)
    await write(ops, dn, "/s", 10)
    await ops.create("/never", False, 2, BLOCK, "gone", "", True)
    await ops.add_block("/never", "gone", None, [])            # nothing flushed, no report
    assert await ops.recover_lease("/never")                  # dropped and closed at once
    assert ops.get_file_info("/never").length == 0
    block_id, _ = await write(ops, dn, "/busy", 10)
    _, last, _ = await ops.append("/busy", "gone", "")
    # A soft limit of 0 has passed once the clock moved on by one tick of mono_ms
    # (the expiry test is strict, as HDFS's): within the same millisecond it has not.
    renewed_ms = mono_ms()
    while mono_ms() <= renewed_ms:
        await asyncio.sleep(0.001)
    await fs.tick(mono_ms())
    with pytest.raises(errors.RecoveryInProgressError, match="try again"):
        await ops.append("/busy", "next", "")
    assert not await ops.recover_lease("/busy")               # still recovering
    assert await ops.recover_lease("/s")                      # closed already
    await fs.stop()


async def test_append_past_a_space_quota_is_refused(tmp_path):
    fs, ops, dn = await cluster(tmp_path)
    await ops.mkdirs("/q", True)
    await write(ops, dn, "/q/f", 1000)
    await ops.set_quota("/q", None, 10_000)            # 2,000 used; a reopened block needs 131,072
    with pytest.raises(errors.QuotaExceededError):
        await ops.append("/q/f", "a", "")
    assert not ops.get_file_info("/q/f").under_construction    # nothing changed
    await ops.set_quota("/q", None, 1 << 20)
    _, _, reopened = await ops.append("/q/f", "a", "")
    assert reopened
    await fs.stop()
