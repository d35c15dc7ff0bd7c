"""The NameNode's client service with the event calls (GetEvents, FollowEvents).

server.py registers this class: the HA servicer (ha_servicer.py) plus the shared
event calls (minidfs/rpc/events_calls.py) over the namesystem's feed.
"""
from __future__ import annotations

from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.ha_controller import HaController
from minidfs.namenode.ha_servicer import HaClientNamenodeServicer
from minidfs.rpc.events_calls import EventCalls


class NamenodeClientServicer(EventCalls, HaClientNamenodeServicer):
    def __init__(self, ops: ClientOperations, name: str,
                 controller: HaController | None) -> None:
        super().__init__(ops, name, controller)
        self.event_feed = ops.fs.events
