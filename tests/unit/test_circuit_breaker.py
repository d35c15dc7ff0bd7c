"""The client's circuit breaker: opens after repeated failures, half-opens after the
cool-down, closes on success; broken servers are ordered last, never dropped."""
from __future__ import annotations

import pytest

from minidfs.client.circuit_breaker import MAX_TRACKED, CircuitBreaker


def test_opens_after_repeated_failures_and_cools_down() -> None:
    b = CircuitBreaker(failures_to_open=2, cool_down_s=10.0)
    assert b.allowed("dn1", 0.0)
    b.failed("dn1", 0.0)
    assert b.allowed("dn1", 0.1)          # one failure is not yet "repeatedly"
    b.failed("dn1", 1.0)
    assert b.is_open("dn1", 1.0) and b.is_open("dn1", 10.9)
    assert b.open_keys(5.0) == ["dn1"]
    assert b.allowed("dn1", 11.0)         # half-open: one trial
    b.failed("dn1", 11.0)                 # the trial failed: open again at once
    assert b.is_open("dn1", 20.9)
    assert b.allowed("dn1", 21.0)
    assert b.failures("dn1") == 3
    b.succeeded("dn1")                    # the trial served: closed, count reset
    assert b.failures("dn1") == 0
    b.failed("dn1", 22.0)
    assert b.allowed("dn1", 22.0)


def test_order_puts_broken_last_but_keeps_them() -> None:
    b = CircuitBreaker(failures_to_open=1, cool_down_s=5.0)
    b.failed("dn2", 0.0)
    assert b.order(["dn1", "dn2", "dn3"], lambda k: k, 1.0) == ["dn1", "dn3", "dn2"]
    b.failed("dn1", 0.0)
    b.failed("dn3", 0.0)
    assert b.order(["dn1", "dn2", "dn3"], lambda k: k, 1.0) == ["dn1", "dn2", "dn3"]
    assert b.order(["dn3", "dn1"], lambda k: k, 6.0) == ["dn3", "dn1"]


def test_bounded_and_validated() -> None:
    b = CircuitBreaker(failures_to_open=1, cool_down_s=1.0)
    for i in range(MAX_TRACKED + 10):
        b.failed(f"n{i}", 0.0)
    assert len(b.open_keys(0.5)) == MAX_TRACKED
    with pytest.raises(ValueError):
        CircuitBreaker(failures_to_open=0)
