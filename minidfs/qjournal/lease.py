"""Lease arithmetic for automatic failover. Pure: callers pass now_ms.

The active NameNode renews a lease on the JournalNodes (quorum_journal.renew_lease);
it believes in its lease only until `sent_ms + duration_ms` of the renewal a majority
acknowledged, which is never later than when any JournalNode lets it expire (each
starts its timer on receipt). A standby (quorum_journal.lease_views) takes over only
when a majority reports the lease lapsed. Fencing by epochs, not the lease, is what
keeps two writers from committing; the lease only decides *when* to fail over, and
tells a deposed active that has lost touch to stop serving.
"""
from __future__ import annotations

from dataclasses import dataclass

from minidfs.journalnode.lease_table import LeaseView
from minidfs.qjournal.segment import majority


@dataclass
class HeldLease:
    """The active's own view of its lease."""

    valid_until_ms: int = 0

    def on_renewed(self, sent_ms: int, duration_ms: int) -> None:
        self.valid_until_ms = max(self.valid_until_ms, sent_ms + duration_ms)

    def valid(self, now_ms: int) -> bool:
        return now_ms < self.valid_until_ms


def lapsed_on_majority(views: list[LeaseView], total_nodes: int) -> bool:
    """True when a majority of all journal nodes report the lease lapsed. A node that
    did not answer counts as "still held": silence never hands over the journal."""
    return sum(1 for v in views if v.remaining_ms == 0) >= majority(total_nodes)


def current_holder(views: list[LeaseView]) -> LeaseView | None:
    """The live lease with the highest epoch among the answers, if any."""
    live = [v for v in views if v.remaining_ms > 0 and v.holder]
    return max(live, key=lambda v: v.epoch) if live else None


def last_holder(views: list[LeaseView]) -> str:
    """Who held the lease last (lapsed or not) among the answers, by highest epoch;
    "" when no JournalNode has seen a holder (a cold start)."""
    named = [v for v in views if v.holder]
    return max(named, key=lambda v: v.epoch).holder if named else ""
