"""Checkpoint images, purging of edit segments, and restart of a whole namesystem."""
from __future__ import annotations

import asyncio
import os
import pathlib

import pytest

from minidfs import errors
from minidfs.config import Settings
from minidfs.namenode.checkpoint import ImageStore, deserialize, serialize
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.namesystem import Namesystem
from minidfs.namenode.inode import INodeFile
from minidfs.namenode.namespace import Namespace


def run(ns: Namespace, records: list[dict]) -> None:
    for record in records:
        ns.apply(record)


def snapshot(ns: Namespace) -> dict:
    out = {"__counters__": (ns.last_block_id, ns.last_genstamp, ns.files, ns.directories)}
    for node in ns.walk():
        if isinstance(node, INodeFile):
            out[node.path()] = ("f", node.mtime_ms, node.replication, node.block_size, node.client,
                                [(b.id, b.genstamp, b.length, b.state) for b in node.blocks])
        else:
            out[node.path()] = ("d", node.mtime_ms)
    return out


def crash(fs: Namesystem) -> None:
    """Drops a namesystem as SIGKILL would: no checkpoint, no finalized segment."""
    fs._tick_task.cancel()
    os.close(fs.journal._fd)
    fs.journal._fd = None
    fs.journal._executor.shutdown()


async def started(tmp_path: pathlib.Path, **settings) -> tuple[Namesystem, ClientOperations]:
    fs = Namesystem(Settings(**settings), tmp_path)
    await fs.start()
    return fs, ClientOperations(fs)


def test_image_round_trip_and_damage() -> None:
    ns = Namespace()
    run(ns, ns.mkdirs("/a/b", True, 3))
    run(ns, ns.create("/a/f", 3, 1024, "c", False, True, 1))
    run(ns, ns.add_block("/a/f", "c", None)[0])
    block = ns.get_file("/a/f").blocks[0]
    run(ns, ns.add_block("/a/f", "c", (block.id, block.genstamp, 1024))[0])
    block = ns.get_file("/a/f").blocks[1]
    run(ns, ns.commit_last("/a/f", "c", (block.id, block.genstamp, 10)))
    run(ns, ns.close("/a/f", 5))
    run(ns, ns.create("/open", 2, 512, "writer", False, True, 4))
    data = serialize(ns, 42)
    loaded, txid = deserialize(data, "img")
    assert txid == 42 and snapshot(loaded) == snapshot(ns)
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 1
    with pytest.raises(errors.EditLogCorrupt, match="img: checkpoint image checksum mismatch"):
        deserialize(bytes(damaged), "img")
    with pytest.raises(errors.EditLogCorrupt):
        deserialize(b"garbage", "img")


async def test_checkpoints_purge_segments_and_restart(tmp_path: pathlib.Path) -> None:
    fs, ops = await started(tmp_path, checkpoint_txns=10)
    for i in range(35):
        await ops.mkdirs(f"/d{i}", parents=False)
        await asyncio.sleep(0)   # let the checkpoint tasks run
    await fs._checkpoint_task
    # Edits that came in while a checkpoint was still being written are checkpointed
    # by the ticker's next pass (Namesystem.tick); stand in for that pass here, so the
    # test does not depend on how fast the image was written.
    if fs.txid - fs._checkpoint_txid >= 10:
        fs._start_checkpoint()
        await fs._checkpoint_task
    before = snapshot(fs.ns)
    store = ImageStore(tmp_path / "current")
    images = [i.txid for i in store.images()]
    # checkpoint_txns=10: the newest image is fewer than 10 edits behind (28 when the
    # second checkpoint started late on a loaded machine, 30 when on time).
    assert fs.txid == 35 and len(images) == 2 and images[-1] > fs.txid - 10
    segments = fs.journal.segments()
    assert segments[0].first > images[0]       # covered by the older image: purged
    crash(fs)
    fs2, ops2 = await started(tmp_path, checkpoint_txns=10)
    assert snapshot(fs2.ns) == before and fs2.txid == 35
    await ops2.mkdirs("/after", parents=False)
    await fs2.stop()                            # graceful: final checkpoint
    assert store.images()[-1].txid == 36
    fs3, _ = await started(tmp_path)
    assert fs3.ns.get("/after") is not None and fs3.txid == 36
    await fs3.stop()


async def test_unsynced_tail_and_torn_record_after_crash(tmp_path: pathlib.Path) -> None:
    fs, ops = await started(tmp_path)
    await ops.mkdirs("/kept", parents=False)
    crash(fs)
    segment = fs.journal.segments()[-1].path
    with open(segment, "ab") as f:
        f.write(b"\x30\x00\x00\x00torn")
    fs2, _ = await started(tmp_path)
    assert fs2.ns.get("/kept") is not None and fs2.txid == 1
    await fs2.stop()


async def test_corrupt_newest_image_refuses_to_start(tmp_path: pathlib.Path) -> None:
    fs, ops = await started(tmp_path)
    await ops.mkdirs("/x", parents=False)
    await fs.stop()
    image = ImageStore(tmp_path / "current").images()[-1].path
    data = bytearray(image.read_bytes())
    data[10] ^= 0xFF
    image.write_bytes(bytes(data))
    fs2 = Namesystem(Settings(), tmp_path)
    with pytest.raises(errors.EditLogCorrupt, match=str(image)):
        await fs2.start()


def test_decommissions_are_logged_and_kept_in_images() -> None:
    """An admin's decommission is durable state: replayed from the log, kept by images
    (an image without the key, written before, loads as "none excluded")."""
    ns = Namespace()
    run(ns, ns.set_datanode_excluded("dn2", True))
    run(ns, ns.set_datanode_excluded("dn3", True))
    assert ns.set_datanode_excluded("dn2", True) == []          # already: nothing logged
    run(ns, ns.set_datanode_excluded("dn3", False))
    assert ns.excluded_datanodes == {"dn2"}
    loaded, _ = deserialize(serialize(ns, 7), "image")
    assert loaded.excluded_datanodes == {"dn2"}
    with pytest.raises(errors.InvalidArgument):
        ns.set_datanode_excluded("", True)
    with pytest.raises(errors.EditLogCorrupt):
        ns.apply({"op": "SET_DN_EXCLUDED", "name": 5, "on": True})
