"""A history of namespace operations and their outcomes, and its checker. Pure.

Used by the fault tests of honest outcomes (tests/faults/test_outcomes.py) and meant
for the chaos checker (`minidfs cluster chaos`, DESIGN.md §10). A workload records
each operation it ran with what the client said - ok, fail or unknown (Jepsen's ok /
fail / info; `outcome_of`) - then, once the faults are over, takes one snapshot of
the namespace and asks `check` whether the outcomes told the truth:

- ok: the operation's effect is there;
- fail: it is not (a definite failure means nothing changed);
- unknown: all or nothing - the effect is there whole, or not at all.

Operations must own their paths (no two touch the same one) and start from a known
state, so each effect can be judged alone: mkdir P (P absent before), rm P (P there
before), mv S D (S there, D absent), put P DIGEST (P absent; DIGEST = sha256 hex of
the bytes). A put is create, write, close: one whose create applied but whose data
never went out leaves an empty file, which `check` accepts for an unknown put only
(HDFS shows a created file at once as well); an ok put must read back byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

from minidfs import errors

OK = "ok"
FAIL = "fail"
UNKNOWN = "unknown"
OUTCOMES = (OK, FAIL, UNKNOWN)
KINDS = ("mkdir", "rm", "mv", "put")
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# What the judged effect of one operation is in the snapshot.
APPLIED = "applied"
NOT_APPLIED = "not applied"
CREATED_EMPTY = "created empty"   # a put whose create applied, its data never did
TORN = "torn"                     # neither: a half-done operation (always wrong)


class Entry(NamedTuple):
    """One path in the snapshot: "file" with the sha256 hex of its bytes, or "dir"."""

    type: str
    digest: str = ""


Snapshot = Mapping[str, Entry]


@dataclass(frozen=True)
class Op:
    kind: str
    path: str
    outcome: str
    dst: str = ""        # mv: the destination
    digest: str = ""     # put: sha256 hex of the bytes written
    detail: str = ""     # the client's error message, if any

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.kind}: unknown operation kind")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"{self.outcome}: outcome must be one of {', '.join(OUTCOMES)}")

    def __str__(self) -> str:
        target = f"{self.path} -> {self.dst}" if self.kind == "mv" else self.path
        why = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {target}: {self.outcome}{why}"


def outcome_of(error: BaseException | None) -> str:
    """What a client's answer means: no error ok, OutcomeUnknownError unknown, any
    other minidfs error fail (it promised nothing changed). Anything else is a bug
    of the caller or the client and is raised again."""
    if error is None:
        return OK
    if isinstance(error, errors.OutcomeUnknownError):
        return UNKNOWN
    if isinstance(error, errors.MinidfsError):
        return FAIL
    raise error


def effect(op: Op, snapshot: Snapshot) -> str:
    """Whether op's effect is in the snapshot: APPLIED, NOT_APPLIED, CREATED_EMPTY or TORN."""
    here = snapshot.get(op.path)
    if op.kind == "mkdir":
        if here is None:
            return NOT_APPLIED
        return APPLIED if here.type == "dir" else TORN
    if op.kind == "rm":
        return APPLIED if here is None else NOT_APPLIED
    if op.kind == "mv":
        there = snapshot.get(op.dst)
        if here is None and there is not None:
            return APPLIED
        if here is not None and there is None:
            return NOT_APPLIED
        return TORN
    if here is None:
        return NOT_APPLIED
    if here.type == "file" and here.digest == op.digest:
        return APPLIED
    if here.type == "file" and here.digest == EMPTY_SHA256:
        return CREATED_EMPTY
    return TORN


ALLOWED = {
    OK: {APPLIED},
    FAIL: {NOT_APPLIED},
    UNKNOWN: {APPLIED, NOT_APPLIED},
}


def violations(history: list[Op], snapshot: Snapshot) -> list[str]:
    """Every operation whose outcome the snapshot contradicts, one line each."""
    found = []
    for op in history:
        seen = effect(op, snapshot)
        allowed = ALLOWED[op.outcome] | ({CREATED_EMPTY} if op.kind == "put" and
                                          op.outcome == UNKNOWN else set())
        if seen not in allowed:
            found.append(f"{op}: but the namespace shows it {seen}")
    return found


@dataclass(frozen=True)
class Verdict:
    operations: int
    counts: dict[str, int]          # outcome -> operations
    unknown_applied: int            # unknown operations whose effect is there
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        counts = ", ".join(f"{self.counts.get(o, 0)} {o}" for o in OUTCOMES)
        verdict = "ok" if self.ok else f"{len(self.violations)} violations"
        return (f"{self.operations} operations ({counts}; {self.unknown_applied} of the "
                f"unknown applied): {verdict}")


def check(history: list[Op], snapshot: Snapshot) -> Verdict:
    """The verdict on a whole history against the namespace after the faults."""
    counts = {o: sum(1 for op in history if op.outcome == o) for o in OUTCOMES}
    unknown_applied = sum(1 for op in history
                          if op.outcome == UNKNOWN and effect(op, snapshot) == APPLIED)
    return Verdict(len(history), counts, unknown_applied, violations(history, snapshot))
