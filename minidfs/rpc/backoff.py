"""Capped exponential backoff with full jitter (AWS's "Exponential Backoff And Jitter"). Pure.

Used by every client that retries a retriable error (namenode_client.py: throttled
calls and the failover loop). The n-th pause (n from 0) is uniform in
[0, min(cap_s, base_s * 2**n)] - full jitter, so a crowd of clients refused at the
same moment spreads out instead of coming back together - and never shorter than
the server's retry-after hint when it gave one. Callers bound the whole operation
with their own deadline; `pause_s` never sleeps past it (`remaining_s`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base_s: float
    cap_s: float
    rng: random.Random = field(default_factory=random.Random)

    def delay_s(self, attempt: int, hint_s: float = 0.0) -> float:
        ceiling_s = min(self.cap_s, self.base_s * (2 ** min(attempt, 32)))
        return max(hint_s, self.rng.uniform(0.0, ceiling_s))

    def pause_s(self, attempt: int, hint_s: float = 0.0, remaining_s: float | None = None) -> float:
        """delay_s, cut to what is left of the operation's deadline (never negative)."""
        delay = self.delay_s(attempt, hint_s)
        if remaining_s is not None:
            delay = min(delay, max(0.0, remaining_s))
        return delay
