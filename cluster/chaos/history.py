"""A Jepsen-style history: every operation the workload tried, with its start, end
and outcome, as plain data the checker judges afterwards.

Outcomes: "ok" (acknowledged), "failed" (the client was told it did not and will
not happen) and "unknown" (it may have happened: a timeout, a lost connection after
sending, an OutcomeUnknownError). Only the workload turns exceptions into outcomes
(`outcome_of`); everything here is pure.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"
OUTCOMES = (OK, FAILED, UNKNOWN)
# Bound on what one run keeps (DESIGN.md §5): a run past it stops adding work.
MAX_OPERATIONS = 200_000


@dataclasses.dataclass
class Op:
    id: int
    worker: str           # the workload thread that ran it
    kind: str             # write, read, rename, delete, mkdir, job
    path: str = ""
    dst: str = ""         # rename target; job output
    start_s: float = 0.0
    end_s: float = 0.0
    outcome: str = ""
    digest: str = ""      # write: xxh3 of the content; read: of what came back;
                          # rename / delete: of the content moved or removed
    expected: str = ""    # read: the digest the acknowledged write promised
    length: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        row = {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", 0) or k == "id"}
        row["start_s"], row["end_s"] = round(self.start_s, 3), round(self.end_s, 3)
        return row


class History:
    """Thread-safe append-only list of operations."""

    def __init__(self) -> None:
        self._ops: list[Op] = []
        self._lock = threading.Lock()

    def begin(self, worker: str, kind: str, start_s: float, **fields: Any) -> Op | None:
        with self._lock:
            if len(self._ops) >= MAX_OPERATIONS:
                return None
            op = Op(id=len(self._ops) + 1, worker=worker, kind=kind, start_s=start_s, **fields)
            self._ops.append(op)
            return op

    def ops(self) -> list[Op]:
        with self._lock:
            return list(self._ops)
