"""The retry cache: pure bounds and expiry, and retried calls through a real namesystem
(file journal) - a retried create/rename/delete is answered, not re-applied, also
after a restart that rebuilds the cache from the edit log."""
from __future__ import annotations

import os
import pathlib

import pytest

from minidfs import errors
from minidfs.config import Settings
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.namesystem import Namesystem
from minidfs.namenode.retry_cache import RetryCache, rpc_key


def test_lookup_record_expire_and_bound() -> None:
    cache = RetryCache(max_entries=3, lifetime_ms=1000)
    for call in range(1, 5):
        cache.record(("c", call), call, {"op": "MKDIRS", "txid": call}, now_ms=call)
    assert len(cache) == 3 and cache.lookup(("c", 1), 5) is None   # oldest evicted
    assert cache.lookup(("c", 4), 5).txid == 4
    assert cache.lookup(("c", 2), 1002) is None                     # expired
    assert cache.lookup(("c", 4), 1003).record["txid"] == 4
    assert cache.lookup(("c", 4), 1004) is None


def test_entries_up_to_an_image_survive_a_reload() -> None:
    cache = RetryCache(lifetime_ms=1000)
    for call in range(1, 5):
        cache.record(("c", call), 10 * call, {"op": "MKDIRS", "txid": 10 * call}, now_ms=call)
    reloaded = RetryCache(lifetime_ms=1000)
    reloaded.restore(cache.entries_upto(20))
    assert [k for k, _ in reloaded.entries_upto(10**9)] == [("c", 1), ("c", 2)]
    assert reloaded.lookup(("c", 2), 5).txid == 20
    assert reloaded.lookup(("c", 3), 5) is None
    assert reloaded.lookup(("c", 1), 1001) is None      # the original recording time counts


def test_rpc_key_validation() -> None:
    assert rpc_key("", 0) is None
    assert rpc_key("abc", 7) == ("abc", 7)
    with pytest.raises(errors.InvalidArgument, match="call id must be positive"):
        rpc_key("abc", 0)
    with pytest.raises(errors.InvalidArgument, match="client id"):
        rpc_key("x" * 65, 1)
    with pytest.raises(errors.InvalidArgument, match="client id"):
        rpc_key("bad\nid", 1)


async def started(tmp_path: pathlib.Path) -> tuple[Namesystem, ClientOperations]:
    fs = Namesystem(Settings(), tmp_path)
    await fs.start()
    return fs, ClientOperations(fs)


async def test_retried_calls_are_answered_from_the_cache(tmp_path: pathlib.Path) -> None:
    fs, ops = await started(tmp_path)
    try:
        view = await ops.create("/f", False, 1, 65536, "c1", "", True, ("cl", 1))
        again = await ops.create("/f", False, 1, 65536, "c1", "", True, ("cl", 1))
        assert again == view
        with pytest.raises(errors.FileExists):      # a new call is a new call
            await ops.create("/f", False, 1, 65536, "c1", "", True, ("cl", 2))
        await ops.rename("/f", "/g", ("cl", 3))
        await ops.rename("/f", "/g", ("cl", 3))     # no "no such file"
        assert await ops.delete("/g", False, ("cl", 4)) is True
        txid = fs.txid
        assert await ops.delete("/g", False, ("cl", 4)) is True   # not "deleted=false"
        assert fs.txid == txid                       # nothing applied twice
        assert await ops.delete("/g", False, ("cl", 5)) is False
    finally:
        await fs.stop()


async def test_cache_is_rebuilt_from_the_edit_log(tmp_path: pathlib.Path) -> None:
    fs, ops = await started(tmp_path)
    await ops.mkdirs("/d", True, ("cl", 1))
    await ops.rename("/d", "/e", ("cl", 2))
    # A crash: no checkpoint, the restart replays the log (and its rpc ids).
    fs._tick_task.cancel()
    os.close(fs.journal._fd)
    fs.journal._fd = None
    fs.journal._executor.shutdown()
    fs2, ops2 = await started(tmp_path)
    try:
        await ops2.rename("/d", "/e", ("cl", 2))
        assert fs2.ns.get("/e") is not None and fs2.ns.get("/d") is None
        assert fs2.retry_cache.lookup(("cl", 1), 0) is not None
    finally:
        await fs2.stop()
