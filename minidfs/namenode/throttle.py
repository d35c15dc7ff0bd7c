"""Per-user request rate and concurrency limits on the NameNode. Pure.

One user's flood must not starve everyone else: each user gets a token bucket
(`throttle_user_requests_per_s` refill, `throttle_user_burst` capacity) and at most
`throttle_user_concurrent_calls` calls in flight. A call over either limit is
refused before anything is done (`Throttled`, RESOURCE_EXHAUSTED) with a
retry-after hint: the time until the user's bucket holds a token again, or
CONCURRENCY_RETRY_S when too many of their calls are still running. Clients honour
the hint with capped exponential backoff and full jitter (minidfs/rpc/backoff.py).

Called by throttle_interceptor.py (gRPC) and webhdfs_namenode.py (HTTP) with the
caller's user and the monotonic time in seconds; no clock inside. Bounded: at most
MAX_USERS_TRACKED users are remembered - a user with nothing in flight and a full
bucket carries no state worth keeping, so the longest idle such users go first.
A limit of 0 turns that limit off.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from minidfs.errors import Throttled

MAX_USERS_TRACKED = 10_000
# Too many calls in flight: they usually finish in milliseconds.
CONCURRENCY_RETRY_S = 0.05
MIN_RETRY_S = 0.001


@dataclass
class _UserState:
    tokens: float
    updated_s: float
    in_flight: int = 0


class UserThrottle:
    def __init__(self, requests_per_s: float, burst: int, concurrent_calls: int) -> None:
        self.requests_per_s = float(requests_per_s)
        self.burst = max(1, int(burst)) if requests_per_s > 0 else 0
        self.concurrent_calls = int(concurrent_calls)
        self._users: OrderedDict[str, _UserState] = OrderedDict()
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.requests_per_s > 0 or self.concurrent_calls > 0

    def _state(self, user: str, now_s: float) -> _UserState:
        state = self._users.get(user)
        if state is None:
            state = self._users[user] = _UserState(tokens=float(self.burst), updated_s=now_s)
            self._forget_idle()
        else:
            self._users.move_to_end(user)
        if self.requests_per_s > 0 and now_s > state.updated_s:
            state.tokens = min(float(self.burst),
                               state.tokens + (now_s - state.updated_s) * self.requests_per_s)
        state.updated_s = max(state.updated_s, now_s)
        return state

    def _forget_idle(self) -> None:
        if len(self._users) <= MAX_USERS_TRACKED:
            return
        for user in list(self._users):
            if len(self._users) <= MAX_USERS_TRACKED:
                break
            if self._users[user].in_flight == 0:
                del self._users[user]

    def admit(self, user: str, now_s: float, what: str = "request") -> None:
        """Takes a token and a concurrency slot for `user`, or raises Throttled.
        Every admit that returns must be matched by one release(user)."""
        if not self.enabled:
            return
        state = self._state(user, now_s)
        if self.concurrent_calls > 0 and state.in_flight >= self.concurrent_calls:
            self.refused += 1
            raise Throttled(f"throttled: user {user} has {state.in_flight} calls in flight, "
                            f"the most allowed (throttle_user_concurrent_calls); "
                            f"retry in {CONCURRENCY_RETRY_S:g} s", CONCURRENCY_RETRY_S)
        if self.requests_per_s > 0:
            if state.tokens < 1.0:
                self.refused += 1
                wait_s = max(MIN_RETRY_S, (1.0 - state.tokens) / self.requests_per_s)
                raise Throttled(f"throttled: user {user} is over {self.requests_per_s:g} "
                                f"{what}s a second (throttle_user_requests_per_s); "
                                f"retry in {wait_s:.3f} s", wait_s)
            state.tokens -= 1.0
        state.in_flight += 1

    def release(self, user: str) -> None:
        if not self.enabled:
            return
        state = self._users.get(user)
        if state is not None and state.in_flight > 0:
            state.in_flight -= 1

    def in_flight(self, user: str) -> int:
        state = self._users.get(user)
        return state.in_flight if state is not None else 0

    def users_tracked(self) -> int:
        return len(self._users)
