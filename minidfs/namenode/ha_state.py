"""Is this NameNode active? Its HA role, epoch and lease, in one place. Pure.

Owned by the namesystem (`fs.ha`); changed only by the HA controller
(ha_controller.py) and read by the active guard in front of the client service
(active_guard.py), by the DataNode service (the epoch in heartbeat replies) and by
the namesystem's ticker (a standby schedules no replication or lease recovery).
Callers pass now_ms; nothing here reads a clock.

Without HA (`enabled=False`) the NameNode is always active at epoch 0 and needs no
lease. With HA it starts as a standby and serves clients only while it is active
AND its own conservative view of its JournalNode lease is still valid: a paused or
partitioned active stops answering - reads included - the moment its lease may have
run out, which is before any standby can take over (the standby waits until a
majority of JournalNodes saw the lease lapse by their own clocks).

Role words (the seed's): Primary = active; ActiveSecondary = a standby that has
applied everything the JournalNodes hold; IdleSecondary = a standby catching up.

An observer (`observer=True`, HDFS-12943; docs/observers.md) tails the journal as a
standby does but never takes over and never writes: it serves reads only, to
clients that send a state id (state_guard.py). Its state word is Observer.
"""
from __future__ import annotations

from minidfs.events import Emit, no_events

ACTIVE = "active"
STANDBY = "standby"
OBSERVER = "observer"
PRIMARY = "Primary"
ACTIVE_SECONDARY = "ActiveSecondary"
IDLE_SECONDARY = "IdleSecondary"
OBSERVER_WORD = "Observer"


class HaState:
    def __init__(self, name: str, enabled: bool, observer: bool = False) -> None:
        self.name = name
        self.enabled = enabled
        self.observer = enabled and observer
        self.role = (OBSERVER if self.observer else STANDBY) if enabled else ACTIVE
        self.epoch = 0                  # own writer epoch when active, else newest seen
        self.lease_valid_until_ms = 0   # by this NameNode's clock; only with HA
        self.in_sync = False            # a standby applied all committed edits it could read
        self.journal_committed_txid = 0
        self.writes_failed = False      # the journal failed: no more writes, step down soon
        self.takeover_not_before_ms = 0 # after a graceful hand-over: let the other win
        self.last_change = ("started as observer" if self.observer else
                            "started as standby" if enabled else "single namenode")
        self.emit: Emit = no_events     # the namesystem's event feed, once it has one

    # ---- queries --------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.role == ACTIVE

    def serving(self, now_ms: int) -> bool:
        """May this NameNode answer clients (reads and writes) now?"""
        if not self.enabled:
            return True
        return self.active and now_ms < self.lease_valid_until_ms

    def refusal(self, now_ms: int) -> str:
        """Why a client is refused (the StandbyError message, after the node name)."""
        if self.observer:
            return "observer namenode (serves reads to clients that send a state id)"
        if not self.active:
            return f"standby namenode ({self.word})"
        return "active namenode whose journal lease may have lapsed"

    @property
    def word(self) -> str:
        if self.active:
            return PRIMARY
        if self.observer:
            return OBSERVER_WORD
        return ACTIVE_SECONDARY if self.in_sync else IDLE_SECONDARY

    def lease_lost(self, now_ms: int) -> bool:
        """An active whose lease ran out must step down (it is no longer serving)."""
        return self.enabled and self.active and now_ms >= self.lease_valid_until_ms

    def may_take_over(self, now_ms: int) -> bool:
        return (self.enabled and not self.active and not self.observer
                and now_ms >= self.takeover_not_before_ms)

    # ---- transitions ----------------------------------------------------------------

    def saw_epoch(self, epoch: int) -> None:
        if not self.active:
            self.epoch = max(self.epoch, epoch)

    def tailed(self, in_sync: bool, journal_committed_txid: int) -> None:
        self.in_sync = in_sync
        self.journal_committed_txid = max(self.journal_committed_txid, journal_committed_txid)

    def became_active(self, epoch: int, lease_valid_until_ms: int) -> None:
        self.role = ACTIVE
        self.epoch = epoch
        self.lease_valid_until_ms = lease_valid_until_ms
        self.writes_failed = False
        self.in_sync = True
        self.last_change = f"became active in epoch {epoch}"
        self.emit("ha_transition", node=self.name, role=ACTIVE, epoch=epoch)

    def lease_renewed(self, valid_until_ms: int) -> None:
        self.lease_valid_until_ms = max(self.lease_valid_until_ms, valid_until_ms)

    def journal_failed(self) -> None:
        self.writes_failed = True

    def stepped_down(self, reason: str, now_ms: int, hold_off_ms: int = 0) -> None:
        """Back to standby; with hold_off_ms (a graceful hand-over) this node does not
        try to take the journal back before the other NameNode had its chance."""
        self.role = OBSERVER if self.observer else STANDBY
        self.lease_valid_until_ms = 0
        self.in_sync = False
        self.writes_failed = False
        self.takeover_not_before_ms = now_ms + hold_off_ms
        self.last_change = f"stepped down: {reason}"
        self.emit("ha_transition", node=self.name, role=self.role, epoch=self.epoch, reason=reason)
