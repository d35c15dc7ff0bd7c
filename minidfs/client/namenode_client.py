"""Calls to the NameNode(s): deadlines, error translation, and failover.

Used by Client, the output/input streams, the DataNode-facing tools and the
JobTracker. `call("Mkdirs", request)` sends a ClientNamenode RPC to the current
NameNode; when it is unreachable or answers "standby" the next configured
NameNode is tried, with bounded retries and backoff. Every other error comes
back as the matching minidfs exception (FileExists, FileNotFound, ...).

A request with an `rpc_id` field (Create, Delete, Rename, Mkdirs) gets this
client's id and a fresh call id once, before its first attempt; every retry sends
the same id, so a NameNode that already applied the call (possibly the other one,
before a failover) answers from its retry cache instead of applying it twice or
failing with "file exists" / "no such file".

Every call carries `user` as call metadata (minidfs/identity.py): the NameNode
checks permissions against it.
"""
from __future__ import annotations

import itertools
import secrets
import threading
import time
from typing import Any, Sequence

import grpc

from minidfs import errors, identity
from minidfs.rpc import channels, client_namenode_pb2, client_namenode_pb2_grpc
from minidfs.rpc.status import from_rpc_error

# Bounded failover: how many full passes over the NameNode list, and the pause
# between passes: about 8.8 s of waiting in all, which covers an HA failover (one
# lease, 3 s by default, plus the take-over) with room to spare. The pause stays at
# 0.1 s (no growth): a call to a dead or standby NameNode fails in milliseconds, and
# a longer sleep only delays the first write after the new active is up (measured:
# with a 1 s cap, writes landed only at 2.85 or 3.85 s after the kill).
FAILOVER_PASSES = 88
FAILOVER_BACKOFF_S = 0.1
FAILOVER_BACKOFF_MAX_S = 0.1


class NamenodeClient:
    def __init__(self, addresses: Sequence[str], deadline_s: float = channels.METADATA_DEADLINE_S,
                 failover_passes: int = FAILOVER_PASSES, user: str | None = None) -> None:
        if not addresses:
            raise errors.ConfigError("no NameNode address configured")
        self.user = identity.current_user(user)
        self._metadata = ((identity.METADATA_KEY, self.user),)
        self.addresses = list(addresses)
        self.deadline_s = deadline_s
        self.failover_passes = failover_passes
        self._current = 0
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[str, client_namenode_pb2_grpc.ClientNamenodeStub] = {}
        self.client_id = secrets.token_hex(8)
        self._call_ids = itertools.count(1)

    def _stub(self, address: str) -> client_namenode_pb2_grpc.ClientNamenodeStub:
        with self._lock:
            stub = self._stubs.get(address)
            if stub is None:
                channel = channels.sync_channel(address)
                self._channels[address] = channel
                stub = self._stubs[address] = client_namenode_pb2_grpc.ClientNamenodeStub(channel)
            return stub

    @property
    def current_address(self) -> str:
        return self.addresses[self._current]

    def call(self, method: str, request: Any, deadline_s: float | None = None) -> Any:
        """Sends one ClientNamenode RPC, failing over between NameNodes when needed."""
        timeout = deadline_s or self.deadline_s
        backoff = FAILOVER_BACKOFF_S
        last: dict[str, errors.MinidfsError] = {}
        self._tag(request)
        for attempt in range(self.failover_passes * len(self.addresses)):
            index = (self._current + attempt) % len(self.addresses)
            address = self.addresses[index]
            try:
                response = getattr(self._stub(address), method)(request, timeout=timeout,
                                                                metadata=self._metadata)
            except grpc.RpcError as e:
                err = from_rpc_error(e)
                if not isinstance(err, errors.Unavailable):
                    self._current = index
                    raise err from None
                last[address] = err
                if (attempt + 1) % len(self.addresses) == 0:
                    time.sleep(backoff)
                    backoff = min(backoff * 2, FAILOVER_BACKOFF_MAX_S)
                continue
            self._current = index
            return response
        answers = "; ".join(f"{address}: {err}" for address, err in last.items())
        kinds = {type(err) for err in last.values()}
        # Every NameNode said "standby": keep that class (callers may tell it apart).
        cls = kinds.pop() if len(kinds) == 1 else errors.Unavailable
        raise cls(f"no active NameNode answered {method}: {answers}")

    def _tag(self, request: Any) -> None:
        """Gives a non-idempotent request its retry-cache id (once: retries keep it)."""
        if ("rpc_id" in request.DESCRIPTOR.fields_by_name
                and not request.rpc_id.client_id):
            with self._lock:
                call_id = next(self._call_ids)
            request.rpc_id.CopyFrom(client_namenode_pb2.RpcId(client_id=self.client_id,
                                                              call_id=call_id))

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            self._stubs.clear()
