"""The channel pool's rules (minidfs/rpc/channel_pool.py) with stand-in channels:
reuse, the per-address and total bounds, short-lived channels at the bound,
forget, idle closing and close. Real channels to real DataNodes are in
tests/faults/test_small_files_faults.py."""
from __future__ import annotations

import threading
import time

import pytest

from minidfs import errors
from minidfs.rpc import channel_pool
from minidfs.rpc.channel_pool import ChannelPool

CLOSE_WAIT_S = 5.0


class FakeChannel:
    def __init__(self, address: str) -> None:
        self.address = address
        self.closed = threading.Event()

    def close(self) -> None:
        assert not self.closed.is_set(), "closed twice"
        self.closed.set()


@pytest.fixture
def opened():
    return []


@pytest.fixture
def make_pool(opened):
    pools = []

    def make(**kwargs) -> ChannelPool:
        def connect(address: str) -> FakeChannel:
            opened.append(FakeChannel(address))
            return opened[-1]
        pool = ChannelPool(connect=connect, **kwargs)
        pools.append(pool)
        return pool
    yield make
    for pool in pools:
        pool.close()


def test_one_channel_serves_many_leases_of_an_address(make_pool, opened):
    pool = make_pool()
    for _ in range(10):
        with pool.lease("a:1") as lease:
            assert lease.channel is opened[0]
    held = [pool.lease("a:1") for _ in range(channel_pool.STREAMS_PER_CHANNEL)]
    assert len(opened) == 1
    extra = pool.lease("a:1")          # the first carries its share: a second one
    assert len(opened) == 2 and extra.channel is opened[1]
    for lease in held + [extra]:
        lease.release()
    assert pool.channel_count() == 2 and not any(c.closed.is_set() for c in opened)


def test_per_address_bound_shares_the_least_busy_channel(make_pool, opened):
    pool = make_pool(per_address=1)
    held = [pool.lease("a:1") for _ in range(3 * channel_pool.STREAMS_PER_CHANNEL)]
    assert len(opened) == 1 and pool.channel_count() == 1
    for lease in held:
        lease.release()


def test_at_the_bound_an_idle_channel_makes_room(make_pool, opened):
    pool = make_pool(max_channels=2)
    pool.lease("a:1").release()
    pool.lease("b:1").release()
    with pool.lease("c:1"):
        assert pool.channel_count() == 2
        assert opened[0].closed.wait(CLOSE_WAIT_S)     # the longest idle went
        assert pool.addresses() == ["b:1", "c:1"]


def test_at_the_bound_with_every_channel_busy_a_short_lived_one(make_pool, opened):
    pool = make_pool(max_channels=2)
    a, b = pool.lease("a:1"), pool.lease("b:1")
    c = pool.lease("c:1")
    assert pool.channel_count() == 2 and pool.short_lived == 1
    assert "c:1" not in pool.addresses()
    c.release()
    assert opened[2].closed.wait(CLOSE_WAIT_S)           # closed when given back
    assert not opened[0].closed.is_set() and not opened[1].closed.is_set()
    # Many callers at the bound: the pool never grows past it.
    extra = [pool.lease(f"x:{i}") for i in range(20)]
    assert pool.channel_count() == 2 and pool.short_lived == 21
    for lease in extra + [a, b]:
        lease.release()


def test_forget_drops_an_address_and_closes_after_the_last_lease(make_pool, opened):
    pool = make_pool()
    held = pool.lease("dead:1")
    pool.forget("dead:1")
    assert pool.addresses() == [] and pool.channel_count() == 0
    assert not opened[0].closed.is_set()                 # still in use
    with pool.lease("dead:1") as fresh:
        assert fresh.channel is opened[1]                # the next use connects afresh
    held.release()
    assert opened[0].closed.wait(CLOSE_WAIT_S)
    held.release()                                       # a second release is harmless
    assert not opened[1].closed.is_set()


def test_idle_channels_are_closed(make_pool, opened):
    pool = make_pool(idle_close_s=0.2)
    pool.lease("a:1").release()
    busy = pool.lease("b:1")
    assert opened[0].closed.wait(CLOSE_WAIT_S)
    time.sleep(0.5)
    assert not opened[1].closed.is_set() and pool.addresses() == ["b:1"]
    busy.release()


def test_close_closes_everything_and_refuses_more(make_pool, opened):
    pool = make_pool()
    pool.lease("a:1").release()
    held = pool.lease("b:1")
    pool.close()
    assert all(c.closed.is_set() for c in opened)
    held.release()                                       # after close: nothing twice
    with pytest.raises(errors.MinidfsError, match="closed"):
        pool.lease("a:1")


def test_bounds_must_be_positive():
    with pytest.raises(ValueError):
        ChannelPool(max_channels=0)
