"""What the quorum-journal protocol talks about: segments, majorities, journal ids.

Pure; shared by the JournalNode (minidfs/journalnode/) and the writer/tailer side
(minidfs/qjournal/). Protobuf messages are translated to and from these types at the
gRPC edges only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from minidfs.errors import InvalidArgument

DEFAULT_JOURNAL_ID = "minidfs"
_JOURNAL_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Segment:
    """Edit log segment [first_txid, last_txid]; last_txid = first_txid - 1 when empty."""

    first_txid: int
    last_txid: int
    in_progress: bool

    @property
    def num_txns(self) -> int:
        return self.last_txid - self.first_txid + 1

    @property
    def empty(self) -> bool:
        return self.last_txid < self.first_txid

    def covers(self, txid: int) -> bool:
        return self.first_txid <= txid <= self.last_txid

    def __str__(self) -> str:
        state = "in progress" if self.in_progress else "finalized"
        return f"segment {self.first_txid}-{self.last_txid} ({state})"


def majority(total: int) -> int:
    """How many of `total` nodes make a quorum: more than half."""
    return total // 2 + 1


def validate_journal_id(journal_id: object) -> str:
    if not isinstance(journal_id, str) or not _JOURNAL_ID_RE.match(journal_id):
        raise InvalidArgument(f"{journal_id!r}: journal id must match [A-Za-z0-9_.-]{{1,64}}")
    if journal_id in (".", ".."):
        raise InvalidArgument(f"{journal_id!r}: journal id may not be '.' or '..'")
    return journal_id
