"""A bounded pool of synchronous gRPC channels, one set per address, reused by every
stream and call of its owner (a Client and its file streams, a reduce task's
shuffle fetcher), as HDFS's client keeps a peer cache.

Why: opening a channel costs a TCP + HTTP/2 handshake, and closing one that was
watched for connectivity waits up to 200 ms for grpc's polling thread; a channel
per file made a 10 KiB read take 205 ms. A pooled channel multiplexes any number of
streams (HTTP/2), so one per address serves a whole tree copy.

Rules:
* `lease(address)` hands out the address's least busy channel, opening one when the
  address has none or every one carries STREAMS_PER_CHANNEL leases (up to
  `per_address` channels). The caller gives it back with `release`.
* At most `max_channels` pooled channels in all. At the bound a channel idle at the
  moment is closed to make room; when every one is in use the caller gets a
  short-lived channel, closed when it is released: never unbounded growth, never a
  wait that could deadlock two streams that each hold one.
* `forget(address)` drops an address's channels after a failure there (a dead
  DataNode), so the next use connects afresh instead of waiting out the old
  channel's reconnect backoff. Leases still on them finish first.
* A channel unused for `idle_close_s` is closed by a daemon thread; `close()`
  closes everything. Closing happens on the pool's closer thread, never on the
  caller's: a stream's close() never waits for a channel's shutdown.
"""
from __future__ import annotations

import dataclasses
import queue
import threading
import time
from typing import Callable

import grpc

from minidfs import errors
from minidfs.rpc import channels

DEFAULT_MAX_CHANNELS = 64
DEFAULT_PER_ADDRESS = 2
DEFAULT_IDLE_CLOSE_S = 30.0
# Concurrent leases one channel carries before a second one to the same address is
# opened: one HTTP/2 connection is served by one grpc I/O thread, so a tree copy
# with many files in flight spreads over two.
STREAMS_PER_CHANNEL = 8


@dataclasses.dataclass(eq=False)
class _Entry:
    address: str
    channel: grpc.Channel
    leases: int = 0
    idle_since: float = 0.0     # monotonic seconds; meaningful while leases == 0
    pooled: bool = True         # False: a short-lived channel, closed on release
    forgotten: bool = False     # out of the pool: closed once its leases end
    closed: bool = False        # handed to the closer


class Lease:
    """One use of a channel; release() (or a with block) gives it back."""

    def __init__(self, pool: "ChannelPool", entry: _Entry) -> None:
        self._pool = pool
        self._entry: _Entry | None = entry
        self.channel = entry.channel
        self.address = entry.address

    def release(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._pool._release(entry)

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ChannelPool:
    def __init__(self, *, max_channels: int = DEFAULT_MAX_CHANNELS,
                 per_address: int = DEFAULT_PER_ADDRESS,
                 idle_close_s: float = DEFAULT_IDLE_CLOSE_S,
                 connect: Callable[[str], grpc.Channel] = channels.sync_channel) -> None:
        if max_channels < 1 or per_address < 1 or idle_close_s <= 0:
            raise ValueError("channel pool bounds must be positive")
        self.max_channels = max_channels
        self.per_address = per_address
        self.idle_close_s = idle_close_s
        self._connect = connect
        self._lock = threading.Condition()
        self._by_address: dict[str, list[_Entry]] = {}
        self._pooled = 0
        self._closed = False
        self._to_close: queue.SimpleQueue[grpc.Channel | None] = queue.SimpleQueue()
        self._closer = threading.Thread(target=self._close_loop, name="channel-closer", daemon=True)
        self._closer.start()
        self._reaper = threading.Thread(target=self._reap_loop, name="channel-reaper", daemon=True)
        self._reaper.start()
        # Figures for tests and benchmarks.
        self.opened = 0
        self.short_lived = 0

    # ---- use ------------------------------------------------------------------

    def lease(self, address: str) -> Lease:
        with self._lock:
            if self._closed:
                raise errors.MinidfsError("channel pool is closed")
            entries = self._by_address.setdefault(address, [])
            best = min(entries, key=lambda e: e.leases, default=None)
            if best is None or (best.leases >= STREAMS_PER_CHANNEL and len(entries) < self.per_address):
                if self._pooled < self.max_channels or self._evict_idle():
                    best = self._open(address, pooled=True)
                    entries.append(best)
                elif best is None:
                    best = self._open(address, pooled=False)
                    self.short_lived += 1
            if not entries:
                del self._by_address[address]
            best.leases += 1
            return Lease(self, best)

    def channel_count(self) -> int:
        """Pooled channels open now (short-lived ones not included)."""
        with self._lock:
            return self._pooled

    def addresses(self) -> list[str]:
        with self._lock:
            return sorted(self._by_address)

    def forget(self, address: str) -> None:
        """Drops every pooled channel to address (a failure there); those still leased
        are closed when their last lease ends."""
        with self._lock:
            for entry in self._by_address.pop(address, []):
                self._drop(entry)

    def close(self) -> None:
        """Closes every channel (leased ones too: their calls fail) and stops the threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for entries in self._by_address.values():
                for entry in entries:
                    self._drop(entry, now=True)
            self._by_address.clear()
            self._lock.notify_all()
        self._to_close.put(None)
        self._closer.join(timeout=5)
        self._reaper.join(timeout=5)

    # ---- inside (callers hold self._lock) ---------------------------------------

    def _open(self, address: str, pooled: bool) -> _Entry:
        self.opened += 1
        if pooled:
            self._pooled += 1
        return _Entry(address, self._connect(address), pooled=pooled)

    def _evict_idle(self) -> bool:
        """Closes the longest idle pooled channel, if any is idle; whether one was."""
        idle = [e for entries in self._by_address.values() for e in entries if e.leases == 0]
        if not idle:
            return False
        oldest = min(idle, key=lambda e: e.idle_since)
        self._remove(oldest)
        return True

    def _remove(self, entry: _Entry) -> None:
        entries = self._by_address.get(entry.address, [])
        if entry in entries:
            entries.remove(entry)
            if not entries:
                del self._by_address[entry.address]
        self._drop(entry)

    def _drop(self, entry: _Entry, now: bool = False) -> None:
        """Takes entry out of the count; closes it now if unused (or `now`), else
        when its last lease ends."""
        if entry.pooled and not entry.forgotten:
            self._pooled -= 1
        entry.forgotten = True
        if entry.leases == 0 or now:
            self._close_soon(entry)

    def _close_soon(self, entry: _Entry) -> None:
        if not entry.closed:
            entry.closed = True
            self._to_close.put(entry.channel)

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.leases -= 1
            if entry.leases > 0:
                return
            entry.idle_since = time.monotonic()
            if not entry.pooled or entry.forgotten:
                self._close_soon(entry)
            closed = self._closed
        if closed:
            self._drain()

    # ---- threads ----------------------------------------------------------------

    def _close_loop(self) -> None:
        while True:
            channel = self._to_close.get()
            if channel is None:
                return
            channel.close()

    def _drain(self) -> None:
        """After close(): the closer thread is gone, so a channel whose last lease
        ended late is closed by the releasing thread."""
        while True:
            try:
                channel = self._to_close.get_nowait()
            except queue.Empty:
                return
            if channel is not None:
                channel.close()

    def _reap_loop(self) -> None:
        with self._lock:
            while not self._closed:
                self._lock.wait(timeout=self.idle_close_s / 2)
                cutoff = time.monotonic() - self.idle_close_s
                for entries in list(self._by_address.values()):
                    for entry in list(entries):
                        if entry.leases == 0 and entry.idle_since <= cutoff:
                            self._remove(entry)
