"""The outcome-history checker (minidfs/history.py): pure, no processes."""
from __future__ import annotations

import hashlib

import pytest

from minidfs import errors, history
from minidfs.history import FAIL, OK, UNKNOWN, Entry, Op

DATA = hashlib.sha256(b"data").hexdigest()


def snapshot(**entries: Entry) -> dict[str, Entry]:
    return {"/" + name: entry for name, entry in entries.items()}


def test_outcome_of_client_answers():
    assert history.outcome_of(None) == OK
    assert history.outcome_of(errors.OutcomeUnknownError("/a: outcome unknown")) == UNKNOWN
    assert history.outcome_of(errors.FileExists("/a: file exists")) == FAIL
    assert history.outcome_of(errors.StandbyError("standby")) == FAIL
    with pytest.raises(ZeroDivisionError):
        history.outcome_of(ZeroDivisionError())


@pytest.mark.parametrize("op, state, seen", [
    (Op("mkdir", "/d", OK), snapshot(d=Entry("dir")), history.APPLIED),
    (Op("mkdir", "/d", OK), snapshot(), history.NOT_APPLIED),
    (Op("mkdir", "/d", OK), snapshot(d=Entry("file", DATA)), history.TORN),
    (Op("rm", "/r", OK), snapshot(), history.APPLIED),
    (Op("rm", "/r", OK), snapshot(r=Entry("file", DATA)), history.NOT_APPLIED),
    (Op("mv", "/s", OK, dst="/t"), snapshot(t=Entry("dir")), history.APPLIED),
    (Op("mv", "/s", OK, dst="/t"), snapshot(s=Entry("dir")), history.NOT_APPLIED),
    (Op("mv", "/s", OK, dst="/t"), snapshot(), history.TORN),
    (Op("mv", "/s", OK, dst="/t"), snapshot(s=Entry("dir"), t=Entry("dir")), history.TORN),
    (Op("put", "/f", OK, digest=DATA), snapshot(f=Entry("file", DATA)), history.APPLIED),
    (Op("put", "/f", OK, digest=DATA), snapshot(), history.NOT_APPLIED),
    (Op("put", "/f", OK, digest=DATA), snapshot(f=Entry("file", history.EMPTY_SHA256)),
     history.CREATED_EMPTY),
    (Op("put", "/f", OK, digest=DATA), snapshot(f=Entry("file", "0" * 64)), history.TORN),
])
def test_effect(op, state, seen):
    assert history.effect(op, state) == seen


def test_ok_must_be_there_fail_must_not_unknown_all_or_nothing():
    ops = [
        Op("mkdir", "/ok-there", OK), Op("mkdir", "/ok-missing", OK),
        Op("mkdir", "/fail-there", FAIL, detail="standby"), Op("mkdir", "/fail-missing", FAIL),
        Op("mv", "/u1", UNKNOWN, dst="/u1x"), Op("mv", "/u2", UNKNOWN, dst="/u2x"),
        Op("mv", "/u3", UNKNOWN, dst="/u3x"),
        Op("put", "/p-empty", UNKNOWN, digest=DATA), Op("put", "/p-ok-empty", OK, digest=DATA),
    ]
    state = snapshot(**{"ok-there": Entry("dir"), "fail-there": Entry("dir"),
                        "u1x": Entry("dir"), "u2": Entry("dir"),
                        "p-empty": Entry("file", history.EMPTY_SHA256),
                        "p-ok-empty": Entry("file", history.EMPTY_SHA256)})
    verdict = history.check(ops, state)
    assert not verdict.ok
    assert verdict.violations == [
        "mkdir /ok-missing: ok: but the namespace shows it not applied",
        "mkdir /fail-there: fail (standby): but the namespace shows it applied",
        "mv /u3 -> /u3x: unknown: but the namespace shows it torn",
        "put /p-ok-empty: ok: but the namespace shows it created empty",
    ]
    assert verdict.counts == {OK: 3, FAIL: 2, UNKNOWN: 4}
    assert verdict.unknown_applied == 1
    assert verdict.summary() == ("9 operations (3 ok, 2 fail, 4 unknown; 1 of the unknown "
                                 "applied): 4 violations")


def test_a_truthful_history_passes():
    ops = [Op("rm", "/r", OK), Op("rm", "/kept", FAIL), Op("put", "/f", OK, digest=DATA)]
    verdict = history.check(ops, snapshot(kept=Entry("file", DATA), f=Entry("file", DATA)))
    assert verdict.ok and verdict.violations == []


def test_bad_records_are_refused():
    with pytest.raises(ValueError):
        Op("chmod", "/a", OK)
    with pytest.raises(ValueError):
        Op("mkdir", "/a", "maybe")
