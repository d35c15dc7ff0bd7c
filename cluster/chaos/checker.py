"""Judges a chaos history against what the cluster holds after the faults healed.

Each workload thread owns its own directory and runs one operation at a time, so
the history of every path is a sequence, and the expected end state follows from
replaying it: an acknowledged write must read back byte for byte (its xxh3 digest),
an acknowledged rename or delete must not be undone, a failed operation must have
changed nothing, and an unknown one may have happened or not but all or nothing
(never a partial file). The workload never touches a path again after an unknown
outcome on it, which keeps each path's possible states to two.

Pure: `judge(ops, observed)` takes the history and the observed end state
({path: digest} of every complete file under the workload's root) and returns the
violations; the runner gathers `observed` from the cluster.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

import xxhash

from cluster.chaos.history import FAILED, OK, UNKNOWN, Op

ABSENT = None
EMPTY = xxhash.xxh3_64_hexdigest(b"")


@dataclasses.dataclass
class Violation:
    kind: str         # lost, undone, phantom, partial
    path: str
    op: int           # the operation whose promise broke
    detail: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class _Expect:
    """What a path may hold at the end: a set of digests (ABSENT = not there), and the
    operation that made the promise."""
    allowed: set
    op: int
    why: str


def _expectations(ops: Iterable[Op]) -> dict[str, _Expect]:
    expect: dict[str, _Expect] = {}

    def promise(path: str, allowed: set, op: Op, why: str) -> None:
        expect[path] = _Expect(set(allowed), op.id, why)

    for op in sorted(ops, key=lambda o: (o.worker, o.start_s, o.id)):
        before = expect.get(op.path)
        current = before.allowed if before else {ABSENT}
        if op.kind == "write":
            if op.outcome == OK:
                promise(op.path, {op.digest}, op, "acknowledged write")
            elif op.outcome == FAILED:
                promise(op.path, current, op, "failed write changed nothing")
            elif op.outcome == UNKNOWN:
                # A put whose Create applied but whose data never went out leaves an
                # empty file (minidfs.history, docs/outcomes.md).
                promise(op.path, current | {op.digest, EMPTY}, op,
                        "unknown write: old or new, whole (or created empty)")
        elif op.kind == "delete":
            if op.outcome == OK:
                promise(op.path, {ABSENT}, op, "acknowledged delete")
            elif op.outcome == FAILED:
                promise(op.path, current, op, "failed delete changed nothing")
            elif op.outcome == UNKNOWN:
                promise(op.path, current | {ABSENT}, op, "unknown delete")
        elif op.kind == "rename":
            target = expect.get(op.dst)
            target_now = target.allowed if target else {ABSENT}
            if op.outcome == OK:
                promise(op.dst, current, op, "acknowledged rename (target)")
                promise(op.path, {ABSENT}, op, "acknowledged rename (source)")
            elif op.outcome == FAILED:
                promise(op.dst, target_now, op, "failed rename changed nothing (target)")
                promise(op.path, current, op, "failed rename changed nothing (source)")
            elif op.outcome == UNKNOWN:
                promise(op.dst, target_now | current, op, "unknown rename (target)")
                promise(op.path, current | {ABSENT}, op, "unknown rename (source)")
    return expect


def _linked_renames(ops: Iterable[Op]) -> list[Op]:
    return [op for op in ops if op.kind == "rename" and op.outcome == UNKNOWN]


def judge(ops: list[Op], observed: dict[str, str]) -> list[Violation]:
    """Every broken promise; an empty list means nothing acknowledged was lost."""
    violations: list[Violation] = []
    expect = _expectations(op for op in ops if op.kind in ("write", "delete", "rename"))
    for path, e in sorted(expect.items()):
        got = observed.get(path, ABSENT)
        if got in e.allowed:
            continue
        if got is ABSENT:
            kind = "lost"
        elif ABSENT in e.allowed and len(e.allowed) == 1:
            kind = "phantom" if "failed" in e.why else "undone"
        else:
            kind = "corrupt"
        violations.append(Violation(kind, path, e.op, f"{e.why}: expected "
                                    f"{_show(e.allowed)}, found {_show({got})}"))
    for op in _linked_renames(ops):
        # An unknown rename happened or not, as a whole: the content is in exactly one
        # of the two places (unless a later promise on either path says otherwise).
        if expect.get(op.path, None) is None or expect[op.path].op != op.id:
            continue
        at_src = observed.get(op.path, ABSENT)
        at_dst = observed.get(op.dst, ABSENT)
        if (at_src is ABSENT) == (at_dst is ABSENT):
            violations.append(Violation("partial", op.path, op.id,
                                        f"unknown rename to {op.dst}: found the content in "
                                        f"{'both' if at_src else 'neither'} place"))
    unexpected = sorted(set(observed) - set(expect))
    for path in unexpected:
        violations.append(Violation("phantom", path, 0, "a file no acknowledged or pending "
                                    "operation created"))
    return violations


def _show(values: set) -> str:
    return " or ".join(sorted("absent" if v is ABSENT else v[:12] for v in values))


def read_violations(ops: list[Op]) -> list[Violation]:
    """Reads during the run that returned other bytes than the acknowledged write of
    that path (a failed read is allowed under faults; wrong bytes never are)."""
    return [Violation("corrupt-read", op.path, op.id, "a read returned other bytes than "
                      "the acknowledged write")
            for op in ops if op.kind == "read" and op.outcome == OK and op.digest != op.expected]
