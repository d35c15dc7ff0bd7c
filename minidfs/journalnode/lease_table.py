"""The active NameNode's lease as one JournalNode sees it. Pure: callers pass now_ms.

The active renews a lease on a majority of JournalNodes every few hundred ms; a
standby asks each JournalNode how long the lease has left and takes over only when
it has lapsed on a majority (minidfs/qjournal/lease.py). Only durations cross the
wire, never timestamps, so the nodes' clocks need not agree.

The lease lives in memory: a restarted JournalNode has forgotten it, so it reports
the lease as held by an unknown holder for `startup_hold_ms` after start (the
cluster's ha_lease_duration_s, the longest lease its NameNodes take; the maximum
duration if unknown) rather than as lapsed, which could hand a standby a false
majority: a live active renews within that time.
"""
from __future__ import annotations

from dataclasses import dataclass

from minidfs.errors import InvalidArgument

MAX_LEASE_DURATION_MS = 60_000
MAX_HOLDER_CHARS = 64


@dataclass(frozen=True)
class LeaseView:
    holder: str        # "" = unknown (nothing seen since this node started)
    epoch: int
    remaining_ms: int  # 0 = lapsed


class LeaseTable:
    def __init__(self, started_ms: int, max_duration_ms: int = MAX_LEASE_DURATION_MS,
                 startup_hold_ms: int | None = None) -> None:
        self._holder = ""
        self._epoch = 0
        hold_ms = max_duration_ms if startup_hold_ms is None else min(startup_hold_ms,
                                                                      max_duration_ms)
        self._expires_ms = started_ms + hold_ms
        self.max_duration_ms = max_duration_ms

    def renew(self, epoch: int, holder: str, duration_ms: int, now_ms: int) -> None:
        """The caller has already checked epoch against the promise (a fenced writer
        cannot renew); the newest epoch simply takes the lease over."""
        if not holder or len(holder) > MAX_HOLDER_CHARS or not holder.isprintable():
            raise InvalidArgument(f"{holder!r}: lease holder must be 1-{MAX_HOLDER_CHARS} "
                                  "printable characters")
        if not 0 < duration_ms <= self.max_duration_ms:
            raise InvalidArgument(
                f"lease duration {duration_ms} ms not in 1..{self.max_duration_ms} ms")
        self._holder, self._epoch = holder, epoch
        self._expires_ms = now_ms + duration_ms

    def view(self, now_ms: int) -> LeaseView:
        return LeaseView(self._holder, self._epoch, max(0, self._expires_ms - now_ms))
