"""Reading a daemon's event feed: the NameNode's (through the active, or whichever
answers) or the JobTracker's. Used by `minidfs admin events` and by tests.

`read_all` pages GetEvents through everything the ring still holds; `follow`
yields those, then every new event from a FollowEvents stream, and follows again
(from the last sequence number seen) when a stream ends: the server ends long
streams and drops followers that fell behind. After a NameNode failover the other
NameNode's feed is a different sequence; following goes on there from its newest.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import grpc

from minidfs import errors
from minidfs.rpc import channels, client_namenode_pb2_grpc, events_pb2
from minidfs.rpc.status import from_rpc_error

MAX_PAGES = 100
_FOLLOW_AGAIN = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                 grpc.StatusCode.CANCELLED)
# How long a follower keeps trying to reach a feed that stopped answering.
FOLLOW_RECONNECT_S = 30.0
FOLLOW_RECONNECT_PAUSE_S = 0.5
# One FollowEvents stream; the server ends its own streams sooner.
FOLLOW_STREAM_DEADLINE_S = 7200.0


def as_dict(event: events_pb2.Event) -> dict[str, Any]:
    return {"seq": event.seq, "time_ms": event.time_ms, "kind": event.kind,
            "subjects": dict(sorted(event.subjects.items()))}


class Feed:
    """One feed: the addresses that may serve it and the stub class to use."""

    def __init__(self, addresses: list[str], stub_class: Callable[[grpc.Channel], Any]) -> None:
        if not addresses:
            raise errors.ConfigError("no address to read events from")
        self.addresses = addresses
        self.stub_class = stub_class
        self._channels: dict[str, grpc.Channel] = {}
        self.current = addresses[0]

    def stub(self, address: str) -> Any:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = channels.sync_channel(address)
        return self.stub_class(channel)

    def get(self, request: events_pb2.EventsRequest) -> events_pb2.EventsReply:
        """GetEvents on the current address, else the others (the first that answers)."""
        last: errors.MinidfsError | None = None
        for address in [self.current] + [a for a in self.addresses if a != self.current]:
            try:
                reply = self.stub(address).GetEvents(request, timeout=channels.METADATA_DEADLINE_S)
            except grpc.RpcError as e:
                last = from_rpc_error(e)
                if isinstance(last, errors.Unavailable):
                    continue
                raise last from None
            self.current = address
            return reply
        raise last if last is not None else errors.Unavailable("no address answered")

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()


def namenode_feed(namenode_addresses: list[str]) -> Feed:
    return Feed(namenode_addresses, client_namenode_pb2_grpc.ClientNamenodeStub)


def jobtracker_feed(address: str) -> Feed:
    from mapreduce.rpc import jobtracker_pb2_grpc

    return Feed([address], jobtracker_pb2_grpc.JobTrackerStub)


def read_all(feed: Feed, after_seq: int = 0) -> list[dict[str, Any]]:
    """Every event the ring holds after after_seq, oldest first."""
    found: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        reply = feed.get(events_pb2.EventsRequest(after_seq=after_seq))
        found.extend(as_dict(e) for e in reply.events)
        if not reply.events or reply.events[-1].seq >= reply.last_seq:
            break
        after_seq = reply.events[-1].seq
    return found


def follow(feed: Feed) -> Iterator[dict[str, Any]]:
    """Everything kept, then each new event as it happens; ends only when the feed
    stays unreachable for FOLLOW_RECONNECT_S (raising Unavailable)."""
    last_seq = 0
    for event in read_all(feed):
        last_seq = event["seq"]
        yield event
    address = feed.current
    unreachable_since: float | None = None
    while True:
        try:
            stream = feed.stub(feed.current).FollowEvents(
                events_pb2.EventsRequest(after_seq=last_seq), timeout=FOLLOW_STREAM_DEADLINE_S)
            for event in stream:
                unreachable_since = None
                last_seq = event.seq
                yield as_dict(event)
        except grpc.RpcError as e:
            if e.code() not in _FOLLOW_AGAIN:
                raise from_rpc_error(e) from None
        now = time.monotonic()
        unreachable_since = unreachable_since or now
        if now - unreachable_since > FOLLOW_RECONNECT_S:
            raise errors.Unavailable(f"{feed.current}: the event feed stopped answering")
        time.sleep(FOLLOW_RECONNECT_PAUSE_S)
        try:
            reply = feed.get(events_pb2.EventsRequest(newest=1))
        except errors.Unavailable:
            continue
        if feed.current != address:   # another daemon: its own sequence
            address = feed.current
            last_seq = reply.last_seq
