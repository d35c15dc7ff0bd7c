"""A daemon's live event feed: the pure ring (events.py) plus the wall clock and
the subscribers that follow it (`admin events --follow`, the status pages' SSE).

The NameNode's namesystem and the JobTracker own one and pass `feed.emit` to their
pure cores. Subscribers get a bounded queue each: `emit` never waits for one, and a
subscriber whose queue is full (a stuck page, a paused terminal) is dropped - it
sees its stream end and may reconnect from the last sequence number it saw.
"""
from __future__ import annotations

import asyncio
import logging
import time

from minidfs.events import Event, EventRing, MAX_EVENTS

log = logging.getLogger("minidfs.events")

# Bounds: events waiting for one subscriber, and subscribers at once.
MAX_QUEUED_PER_SUBSCRIBER = 1_000
MAX_SUBSCRIBERS = 64


class Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(MAX_QUEUED_PER_SUBSCRIBER)
        self.dropped = False

    async def next(self, timeout_s: float) -> Event | None:
        """The next event, or None after timeout_s (so the caller can check its peer)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except asyncio.TimeoutError:
            return None


class EventFeed:
    def __init__(self, name: str, limit: int = MAX_EVENTS) -> None:
        self.name = name
        self.ring = EventRing(limit)
        self._subscribers: set[Subscription] = set()

    def emit(self, kind: str, **subjects: object) -> None:
        event = self.ring.add(int(time.time() * 1000), kind, subjects)
        if log.isEnabledFor(logging.DEBUG):   # one per block when a node dies: not at INFO
            log.debug("event %s %s", kind, " ".join(f"{k}={v}" for k, v in event.subjects.items()))
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(sub)

    def subscribe(self) -> Subscription:
        """A new follower; raises RuntimeError past MAX_SUBSCRIBERS."""
        if len(self._subscribers) >= MAX_SUBSCRIBERS:
            raise RuntimeError(f"{self.name}: {MAX_SUBSCRIBERS} event followers already")
        sub = Subscription()
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _drop(self, sub: Subscription) -> None:
        """A follower that does not keep up: its queue is full, so it loses its place."""
        self._subscribers.discard(sub)
        sub.dropped = True
        log.warning("%s: dropped an event follower that fell %d events behind",
                    self.name, MAX_QUEUED_PER_SUBSCRIBER)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)  # wakes it: its stream ends
