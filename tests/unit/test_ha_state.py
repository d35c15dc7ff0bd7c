"""HaState: who serves clients, role words, lease and step-down decisions (pure)."""
from __future__ import annotations

from minidfs.namenode.ha_state import (
    ACTIVE_SECONDARY, IDLE_SECONDARY, PRIMARY, HaState,
)


def test_without_ha_always_serving() -> None:
    ha = HaState("nn1", enabled=False)
    assert ha.active and ha.serving(0) and ha.word == PRIMARY and not ha.lease_lost(10**9)


def test_standby_refuses_and_reports_catching_up() -> None:
    ha = HaState("nn2", enabled=True)
    assert not ha.serving(0) and ha.word == IDLE_SECONDARY
    assert ha.refusal(0) == "standby namenode (IdleSecondary)"
    ha.tailed(True, 42)
    assert ha.word == ACTIVE_SECONDARY and ha.journal_committed_txid == 42


def test_active_serves_only_within_its_lease() -> None:
    ha = HaState("nn1", enabled=True)
    ha.became_active(epoch=3, lease_valid_until_ms=1000)
    assert ha.serving(999) and ha.word == PRIMARY and ha.epoch == 3
    assert not ha.serving(1000) and ha.lease_lost(1000)
    assert "lease may have lapsed" in ha.refusal(1000)
    ha.lease_renewed(2000)
    assert ha.serving(1500)


def test_step_down_and_hand_over_hold_off() -> None:
    ha = HaState("nn1", enabled=True)
    ha.became_active(2, 1000)
    ha.journal_failed()
    assert ha.writes_failed
    ha.stepped_down("graceful hand-over", now_ms=500, hold_off_ms=6000)
    assert not ha.active and not ha.writes_failed and not ha.serving(600)
    assert not ha.may_take_over(6499) and ha.may_take_over(6500)
    ha.saw_epoch(5)
    assert ha.epoch == 5
