"""The chaos checker (cluster/chaos/checker.py) on hand-made histories: it accepts
what the promises allow and names every broken one."""
from __future__ import annotations

from cluster.chaos.checker import judge, read_violations
from cluster.chaos.history import FAILED, OK, UNKNOWN, Op

_ids = iter(range(1, 10**6))


def op(kind, path, outcome, digest="", dst="", t=0.0, expected=""):
    return Op(id=next(_ids), worker="w0", kind=kind, path=path, dst=dst, start_s=t,
              end_s=t + 0.1, outcome=outcome, digest=digest, expected=expected)


def kinds(violations):
    return sorted((v.kind, v.path) for v in violations)


def test_acknowledged_writes_must_read_back_exactly():
    ops = [op("write", "/a", OK, "d1", t=1), op("write", "/b", OK, "d2", t=2)]
    assert judge(ops, {"/a": "d1", "/b": "d2"}) == []
    assert kinds(judge(ops, {"/a": "d1"})) == [("lost", "/b")]
    assert kinds(judge(ops, {"/a": "d1", "/b": "xx"})) == [("corrupt", "/b")]


def test_failed_write_leaves_nothing_unknown_is_all_or_nothing():
    ops = [op("write", "/f", FAILED, "d1", t=1), op("write", "/u", UNKNOWN, "d2", t=2)]
    assert judge(ops, {}) == []
    assert judge(ops, {"/u": "d2"}) == []
    assert kinds(judge(ops, {"/f": "d1"})) == [("phantom", "/f")]
    assert kinds(judge(ops, {"/u": "partial"})) == [("corrupt", "/u")]


def test_renames_and_deletes_are_not_undone():
    ops = [op("write", "/a", OK, "d1", t=1), op("rename", "/a", OK, "d1", dst="/r", t=2),
           op("write", "/b", OK, "d2", t=3), op("delete", "/b", OK, "d2", t=4)]
    assert judge(ops, {"/r": "d1"}) == []
    assert kinds(judge(ops, {"/a": "d1"})) == [("lost", "/r"), ("undone", "/a")]
    assert kinds(judge(ops, {"/r": "d1", "/b": "d2"})) == [("undone", "/b")]


def test_failed_rename_and_delete_change_nothing():
    ops = [op("write", "/a", OK, "d1", t=1), op("rename", "/a", FAILED, "d1", dst="/r", t=2),
           op("write", "/b", OK, "d2", t=3), op("delete", "/b", FAILED, "d2", t=4)]
    assert judge(ops, {"/a": "d1", "/b": "d2"}) == []
    assert kinds(judge(ops, {"/r": "d1", "/b": "d2"})) == [("lost", "/a"), ("phantom", "/r")]


def test_unknown_rename_is_in_exactly_one_place():
    ops = [op("write", "/a", OK, "d1", t=1), op("rename", "/a", UNKNOWN, "d1", dst="/r", t=2)]
    assert judge(ops, {"/a": "d1"}) == []
    assert judge(ops, {"/r": "d1"}) == []
    assert kinds(judge(ops, {})) == [("partial", "/a")]
    assert kinds(judge(ops, {"/a": "d1", "/r": "d1"})) == [("partial", "/a")]


def test_a_file_nobody_wrote_is_a_phantom():
    assert kinds(judge([], {"/x": "d"})) == [("phantom", "/x")]


def test_reads_must_return_the_acknowledged_bytes():
    ops = [op("read", "/a", OK, "d1", expected="d1"), op("read", "/a", FAILED, expected="d1"),
           op("read", "/a", OK, "zz", expected="d1")]
    assert kinds(read_violations(ops)) == [("corrupt-read", "/a")]


def test_an_unknown_write_may_leave_an_empty_file_but_an_ok_one_may_not():
    from cluster.chaos.checker import EMPTY
    assert judge([op("write", "/u", UNKNOWN, "d2")], {"/u": EMPTY}) == []
    assert kinds(judge([op("write", "/a", OK, "d1")], {"/a": EMPTY})) == [("corrupt", "/a")]


def test_outcomes_follow_the_clients_word():
    from cluster.chaos.workload import outcome_of
    from minidfs import errors
    assert outcome_of(errors.FileExists("/a: file exists")) == FAILED
    assert outcome_of(errors.OutcomeUnknownError("/a: outcome unknown")) == UNKNOWN
    assert outcome_of(RuntimeError("a bug")) == UNKNOWN
