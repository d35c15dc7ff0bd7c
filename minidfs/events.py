"""The event ring: a bounded, ordered record of what a daemon decided. Pure.

The NameNode's and the JobTracker's pure cores report decisions through an `Emit`
callable (`emit("datanode_dead", node="dn2")`) where they make them; the daemon's
event feed (event_feed.py) stamps each with the wall time and appends it here. The
ring keeps the newest MAX_EVENTS; a reader asks for everything after the sequence
number it saw last, so `admin events --follow` and the status pages never miss an
event that is still in the ring and learn (`dropped`) when they fell behind.

No clock and no I/O here: time_ms is whatever the caller passes in.
"""
from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Callable, NamedTuple

# Bound (DESIGN.md §5): events kept per daemon. A dead DataNode with many blocks
# queues one event per block; 10,000 keeps a few such runs.
MAX_EVENTS = 10_000
MAX_EVENTS_PER_READ = 1_000
MAX_SUBJECT_CHARS = 300

Emit = Callable[..., None]


def no_events(kind: str, **subjects: object) -> None:
    """The Emit of a core nobody listens to (unit tests that do not look at events)."""


class Event(NamedTuple):
    seq: int
    time_ms: int
    kind: str
    subjects: dict[str, str]

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "time_ms": self.time_ms, "kind": self.kind,
                "subjects": dict(self.subjects)}


def _text(value: object) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= MAX_SUBJECT_CHARS else text[:MAX_SUBJECT_CHARS - 3] + "..."


def last_line(error: str) -> str:
    """The line of an error people read first: a traceback's last non-empty one."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


class EventRing:
    def __init__(self, limit: int = MAX_EVENTS) -> None:
        self.limit = limit
        self._events: deque[Event] = deque(maxlen=limit)
        self.last_seq = 0

    def add(self, time_ms: int, kind: str, subjects: dict[str, object]) -> Event:
        self.last_seq += 1
        event = Event(self.last_seq, time_ms, kind,
                      {k: _text(v) for k, v in subjects.items()})
        self._events.append(event)
        return event

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest event still kept (last_seq + 1 when empty)."""
        return self._events[0].seq if self._events else self.last_seq + 1

    def after(self, seq: int, limit: int = MAX_EVENTS_PER_READ,
              kinds: frozenset[str] = frozenset()) -> list[Event]:
        """Events with a sequence number above seq, oldest first, at most limit."""
        limit = max(1, min(limit, MAX_EVENTS_PER_READ))
        if seq >= self.last_seq:
            return []
        skip = max(0, seq - self.first_seq + 1)
        found = []
        for event in islice(self._events, skip, None):
            if not kinds or event.kind in kinds:
                found.append(event)
                if len(found) >= limit:
                    break
        return found

    def newest(self, count: int) -> list[Event]:
        """The newest count events, oldest first."""
        count = max(0, min(count, len(self._events)))
        return list(islice(self._events, len(self._events) - count, None))

    def __len__(self) -> int:
        return len(self._events)
