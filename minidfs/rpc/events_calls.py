"""GetEvents / FollowEvents: one daemon's event feed over gRPC, for the NameNode's
ClientNamenode and the JobTracker's JobTracker service alike.

`EventCalls` is a mixin for a servicer whose `event_feed` is its daemon's
EventFeed (event_feed.py). FollowEvents sends the events after `after_seq` that
the ring still holds, then each new one; a follower that cannot keep up is
dropped by the feed and its stream ends with UNAVAILABLE, and after
FOLLOW_MAX_S any stream ends normally (the client follows again from its last seq).
"""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

from minidfs import errors
from minidfs.event_feed import EventFeed
from minidfs.events import MAX_EVENTS_PER_READ, Event
from minidfs.rpc import events_pb2 as pb
from minidfs.rpc.status import rpc_errors

FOLLOW_MAX_S = 3600.0
# How often a quiet follow wakes to notice a client that went away.
FOLLOW_POLL_S = 1.0


def to_pb(event: Event) -> pb.Event:
    return pb.Event(seq=event.seq, time_ms=event.time_ms, kind=event.kind,
                    subjects=event.subjects)


def read(feed: EventFeed, request: pb.EventsRequest) -> list[Event]:
    limit = request.limit or MAX_EVENTS_PER_READ
    if request.newest:
        return feed.ring.newest(min(request.newest, limit, MAX_EVENTS_PER_READ))
    return feed.ring.after(request.after_seq, limit)


class EventCalls:
    event_feed: EventFeed

    @rpc_errors
    async def GetEvents(self, request: pb.EventsRequest, context) -> pb.EventsReply:
        ring = self.event_feed.ring
        return pb.EventsReply(events=[to_pb(e) for e in read(self.event_feed, request)],
                              first_seq=ring.first_seq, last_seq=ring.last_seq)

    @rpc_errors
    async def FollowEvents(self, request: pb.EventsRequest, context) -> AsyncIterator[pb.Event]:
        feed = self.event_feed
        try:
            sub = feed.subscribe()
        except RuntimeError as e:
            raise errors.Unavailable(str(e)) from None
        try:
            last = 0
            while True:   # the backlog, in pages; new events queue meanwhile
                backlog = read(feed, pb.EventsRequest(after_seq=max(last, request.after_seq),
                                                      newest=0 if last else request.newest))
                for event in backlog:
                    last = event.seq
                    yield to_pb(event)
                if len(backlog) < MAX_EVENTS_PER_READ:
                    break
            last = max(last, request.after_seq)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + FOLLOW_MAX_S
            while loop.time() < deadline:
                event = await sub.next(FOLLOW_POLL_S)
                if event is None:
                    if sub.dropped:
                        raise errors.Unavailable(
                            f"{feed.name}: this follower fell too far behind and was dropped")
                    continue
                if event.seq > last:
                    last = event.seq
                    yield to_pb(event)
        finally:
            feed.unsubscribe(sub)
