"""A circuit breaker per server: stop calling one that failed repeatedly, for a while. Pure.

Used by the read path of the client: DFSInputStream skips DataNodes that failed
`failures_to_open` reads in a row and tries the other replicas (secure-mode issue
§5), and the observer-read router skips observer NameNodes that were dead, paused
or lagging (docs/observers.md). After `cool_down_s` a broken server gets one trial
call (half-open): a success closes the circuit, a failure opens it for another
cool-down. When every candidate is broken the caller still tries them (a broken
replica beats no replica): `order` puts the broken ones last, it never drops them.

The caller passes the time (monotonic seconds); nothing here reads a clock or locks
(callers hold their own lock when shared across threads).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, TypeVar

T = TypeVar("T")
# Bound the state: a client that met thousands of DataNodes forgets the oldest.
MAX_TRACKED = 4096


@dataclass
class _Circuit:
    failures: int = 0
    open_until_s: float = 0.0


class CircuitBreaker:
    def __init__(self, failures_to_open: int = 2, cool_down_s: float = 10.0) -> None:
        if failures_to_open < 1 or cool_down_s < 0:
            raise ValueError("failures_to_open >= 1 and cool_down_s >= 0")
        self.failures_to_open = failures_to_open
        self.cool_down_s = cool_down_s
        self._circuits: dict[str, _Circuit] = {}

    def allowed(self, key: str, now_s: float) -> bool:
        """Whether `key` may be called now: closed, or open with its cool-down over
        (half-open: one trial)."""
        circuit = self._circuits.get(key)
        return circuit is None or now_s >= circuit.open_until_s

    def is_open(self, key: str, now_s: float) -> bool:
        return not self.allowed(key, now_s)

    def failed(self, key: str, now_s: float) -> None:
        circuit = self._circuits.get(key)
        if circuit is None:
            if len(self._circuits) >= MAX_TRACKED:
                self._circuits.pop(next(iter(self._circuits)))
            circuit = self._circuits[key] = _Circuit()
        circuit.failures += 1
        if circuit.failures >= self.failures_to_open:
            # Opened (or, after a failed half-open trial, opened again).
            circuit.open_until_s = now_s + self.cool_down_s

    def succeeded(self, key: str) -> None:
        self._circuits.pop(key, None)

    def order(self, items: Iterable[T], key_of, now_s: float) -> list[T]:
        """items with the callable ones first, in their given order, the broken last."""
        items = list(items)
        return ([i for i in items if self.allowed(key_of(i), now_s)]
                + [i for i in items if not self.allowed(key_of(i), now_s)])

    def failures(self, key: str) -> int:
        """Failures in a row of key (0 once it served again)."""
        circuit = self._circuits.get(key)
        return circuit.failures if circuit is not None else 0

    def open_keys(self, now_s: float) -> list[str]:
        return sorted(k for k, c in self._circuits.items() if now_s < c.open_until_s)
