"""Sends a client's reads to observer NameNodes, skipping dead, paused or lagging ones.

Used by NamenodeClient (namenode_client.py) for the calls observers serve
(state_guard.OBSERVER_READS) when cluster.toml lists observers and the client did
not turn observer reads off (docs/observers.md). Each read goes to the observer
this client has the fewest calls in flight to, round robin among equals; one that
fails (unreachable, past its deadline, or answering "ask the active" because it has
not caught up with the client's state id within its wait) opens its circuit
(circuit_breaker.py) and the read moves to the next; when no observer answers, the
caller sends it to the active. Never an error to the user from an observer alone.

An answer the observer cannot vouch for also goes to the active: block locations
with a block no DataNode has reported to the observer yet (its block map learns
replicas from DataNode reports, which may trail the journal), as HDFS's observer
does with ObserverRetryOnActiveException.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Sequence

import grpc

from minidfs import errors
from minidfs.client.circuit_breaker import CircuitBreaker
from minidfs.rpc.status import from_rpc_error

log = logging.getLogger("minidfs.client.observers")

# An observer that failed one read is left alone this long, then tried once again.
OBSERVER_COOL_DOWN_S = 5.0
# Beyond the observer's own bounded wait for the client's txid: the answer's travel.
OBSERVER_DEADLINE_MARGIN_S = 2.0

Invoke = Callable[[str, str, Any, float], tuple[Any, Any]]


def answer_complete(method: str, response: Any) -> bool:
    """Whether an observer's answer is as good as the active's (see module doc)."""
    if method == "GetBlockLocations":
        return _located_complete(response)
    if method == "ListStatus":
        return all(_located_complete(located) for located in response.locations)
    return True


def _located_complete(located: Any) -> bool:
    # A block being written with nothing flushed (length 0) needs no replica yet; one
    # with hflushed or appended bytes does (docs/append.md): the observer learns its
    # pipeline from no one, so without locations the active answers.
    return all(block.locations for block in located.blocks if block.block.length)


class ObserverRouter:
    def __init__(self, addresses: Sequence[str], wait_s: float,
                 cool_down_s: float = OBSERVER_COOL_DOWN_S) -> None:
        self.addresses = list(addresses)
        self.deadline_s = wait_s + OBSERVER_DEADLINE_MARGIN_S
        self.breaker = CircuitBreaker(failures_to_open=1, cool_down_s=cool_down_s)
        self._in_flight = {a: 0 for a in self.addresses}
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.served = {a: 0 for a in self.addresses}   # reads each observer answered

    def _order(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            start = next(self._turn) % len(self.addresses)
            usable = [a for a in self.addresses if self.breaker.allowed(a, now)]
            n = len(self.addresses)
            return sorted(usable, key=lambda a: (self._in_flight[a],
                                                 (self.addresses.index(a) - start) % n))

    def read(self, method: str, request: Any, invoke: Invoke) -> tuple[Any, Any] | None:
        """(response, call) from an observer, or None: ask the active. `invoke(address,
        method, request, timeout_s)` makes the call and returns (response, call)."""
        for address in self._order():
            with self._lock:
                self._in_flight[address] += 1
            try:
                answer = invoke(address, method, request, self.deadline_s)
            except grpc.RpcError as e:
                err = from_rpc_error(e)
                if not isinstance(err, errors.Unavailable):
                    raise err from None    # a definite answer: no such file, permission, ...
                with self._lock:
                    self.breaker.failed(address, time.monotonic())
                log.debug("observer %s skipped for %s: %s", address, method, err)
                continue
            finally:
                with self._lock:
                    self._in_flight[address] -= 1
            with self._lock:
                self.breaker.succeeded(address)
            if not answer_complete(method, answer[0]):
                return None
            with self._lock:
                self.served[address] += 1
            return answer
        return None
