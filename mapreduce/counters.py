"""Job counters: {group: {name: int}}, built-in and user. Pure.

Tasks count into a Counters object (the user through `Job.increment_counter`), the
task runner reports it with the attempt's result, and the JobTracker adds up the
counters of committed attempts only, so a retried or speculative attempt is counted
once. Built-in names live in the "mapreduce" group (task work) and the "job" group
(attempts and locality, counted by the scheduler).
"""
from __future__ import annotations

from typing import Iterable, Mapping

from minidfs.errors import JobError

FRAMEWORK = "mapreduce"
JOB = "job"
# Hadoop's limit: a job that invents counters per record would otherwise flood memory.
MAX_COUNTERS = 120
MAX_NAME_CHARS = 128


class Counters:
    def __init__(self, data: Mapping[str, Mapping[str, int]] | None = None) -> None:
        self._data: dict[str, dict[str, int]] = {}
        self._count = 0
        if data:
            self.update(data)

    def increment(self, group: str, name: str, n: int = 1) -> None:
        names = self._data.get(group)
        if names is None or name not in names:
            self._check_new(group, name)
            names = self._data.setdefault(group, {})
            names[name] = 0
            self._count += 1
        names[name] += int(n)

    def _check_new(self, group: object, name: object) -> None:
        for label, text in (("group", group), ("name", name)):
            if not isinstance(text, str) or not text or len(text) > MAX_NAME_CHARS:
                raise JobError(f"counter {label} must be a non-empty str of at most "
                               f"{MAX_NAME_CHARS} characters, got {text!r:.80}")
        if self._count >= MAX_COUNTERS:
            raise JobError(f"too many counters (limit {MAX_COUNTERS}): {group}/{name}")

    def get(self, group: str, name: str) -> int:
        return self._data.get(group, {}).get(name, 0)

    def update(self, other: "Counters | Mapping[str, Mapping[str, int]]") -> None:
        data = other.as_dict() if isinstance(other, Counters) else other
        for group, names in data.items():
            for name, value in names.items():
                self.increment(group, name, value)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {g: dict(sorted(names.items())) for g, names in sorted(self._data.items())}

    def triples(self) -> list[tuple[str, str, int]]:
        return [(g, n, v) for g, names in self.as_dict().items() for n, v in names.items()]

    @classmethod
    def from_triples(cls, triples: Iterable[tuple[str, str, int]]) -> "Counters":
        counters = cls()
        for group, name, value in triples:
            counters.increment(group, name, value)
        return counters

    def __repr__(self) -> str:
        return f"Counters({self.as_dict()!r})"
