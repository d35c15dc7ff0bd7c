"""Which JournalNodes lag (`admin ha status`): the pure lag rule of
minidfs/client/ha_admin.journal_lags."""
from __future__ import annotations

from minidfs.client.ha_admin import journal_lags


def test_in_sync_behind_at_the_tail_missing_history_and_empty():
    held = {"jn1": [(1, 100), (101, 150)], "jn2": [(1, 100), (101, 140)],
            "jn3": [(101, 150)], "jn4": []}
    assert journal_lags(held) == {"jn1": (0, "ok"), "jn2": (10, "lagging"),
                                  "jn3": (100, "lagging"), "jn4": (150, "empty")}


def test_segments_purged_everywhere_else_do_not_count():
    # jn1 still holds 1-100 (it missed a purge): the window starts at 101.
    held = {"jn1": [(1, 100), (101, 150)], "jn2": [(101, 150)], "jn3": [(101, 150)]}
    assert {n: lag for n, (lag, _) in journal_lags(held).items()} == {"jn1": 0, "jn2": 0,
                                                                       "jn3": 0}


def test_nothing_written_yet_is_ok_everywhere():
    assert journal_lags({"jn1": [], "jn2": []}) == {"jn1": (0, "ok"), "jn2": (0, "ok")}
