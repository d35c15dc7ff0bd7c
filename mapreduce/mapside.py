"""The map-side output buffer: partition, sort, combine, spill, merge. Pure apart from
local file I/O in the task's scratch folder.

Created by the map task (tasks.run_map_task) for every map attempt with reducers > 0,
inline or on a Worker. `collect(key, value)` (or `collect_pairs(produced)`, the map
loop's per-line call) keeps the pair in memory; when the estimated memory passes the
spill threshold, every partition is sorted by key, combined, and written as one spill
run with a segment per partition. `finish()` merges the spills per partition
(combining again) into the one map output file + index that reducers fetch from.
Memory is bounded by the threshold, not by the split: a 64 MiB split with a 16 MiB
threshold spills a few times.

Two ways in, one output. Keys that are exactly `str` (nearly every job's keys) with
the default partitioner are grouped in a dict as they arrive: key -> its values in
emit order. The key is encoded, hashed to its partition and sorted once per spill,
not once per record, and the values are encoded together in one msgpack call (with
a combiner they are decoded back the same way, so the combiner sees exactly what a
round trip through the map output would give it). Every other key (ints, tuples,
str subclasses under a custom partitioner, ...) is encoded and partitioned as it
arrives and sorted by `keys.sort_key` at the spill. Both kinds meet in the spill in
`keys.sort_key` order: every str key has the same type rank, so the grouped keys
are written between the other records of lower and higher rank.
"""
from __future__ import annotations

import itertools
import os
import sys
from bisect import bisect_left
from dataclasses import dataclass
from operator import itemgetter, length_hint
from types import GeneratorType
from typing import Any, Callable, Iterable, Iterator

import msgpack

from mapreduce import counters as C
from mapreduce import keys, merge
from mapreduce.combiners import is_sum_combiner
from mapreduce.counters import Counters
from mapreduce.runfile import RunWriter, Segment, write_index
from mapreduce.usercode import check_iterable, checked_pair, pairs

from minidfs.errors import JobError

DEFAULT_SPILL_THRESHOLD_BYTES = 16 * 1024 * 1024
# Python's cost of one buffered record beyond its encoded bytes: the record tuple, the
# sort-key tuple and two bytes objects. An estimate; what matters is that it scales
# with the record count, so many tiny records also spill.
RECORD_OVERHEAD_BYTES = 200
# Grouped str keys: a new key costs its dict entry, the str and its value list; each
# value a list slot plus its object (a str or bytes value also its length, anything
# else its encoded length plus RECORD_OVERHEAD_BYTES).
GROUP_OVERHEAD_BYTES = 200
INT_VALUE_BYTES = 40
STR_VALUE_BYTES = 64
MIN_SPILL_THRESHOLD_BYTES = 4 * 1024
# A summed str key: its dict entry, the str and a [total, records] list of two ints.
SUM_KEY_BYTES = 200
# With a combiner, a grouped key's values are combined in memory once this many wait,
# so a hot key costs a bounded list, not a spill.
COMBINE_BOUND_VALUES = 1024

Combiner = Callable[[Any, Iterable[Any]], Any]
Record = tuple[tuple, bytes, bytes]   # (sort key, key bytes, value bytes)
# (key, key bytes, values in emit order, [sum, records] or None, combined values or None)
Group = tuple[str, bytes, list, "list[int] | None", "list | None"]

_first = itemgetter(0)
# Where str keys go among the other records: sort keys of lower rank compare below it.
_STR_RANK = keys.sort_key("")[:1]


@dataclass(frozen=True)
class MapOutput:
    """The final sorted map output: one file, one segment per partition."""

    path: str
    index_path: str
    segments: list[Segment]


class MapOutputBuffer:
    def __init__(self, num_partitions: int, scratch_dir: str, counters: Counters,
                 spill_threshold_bytes: int = DEFAULT_SPILL_THRESHOLD_BYTES,
                 partitioner: Callable[[Any, int], int] | None = None,
                 combiner: Combiner | None = None) -> None:
        if num_partitions < 1:
            raise ValueError("a map output buffer needs at least one partition")
        self._num_partitions = num_partitions
        self._scratch_dir = scratch_dir
        self._counters = counters
        self._threshold = max(MIN_SPILL_THRESHOLD_BYTES, int(spill_threshold_bytes))
        self._partitioner = partitioner
        self._combiner = combiner
        self._parts: list[list[Record]] = [[] for _ in range(num_partitions)]
        # str keys -> values; only with the default partitioner, which hashes the
        # key's encoding (a job's partitioner is called with every key it emits).
        self._groups: dict[str, list] | None = {} if partitioner is None else None
        # With a sum combiner: str key -> [total, records] of its int values.
        self._sums: dict[str, list[int]] | None = (
            {} if partitioner is None and combiner is not None and is_sum_combiner(combiner)
            else None)
        # With a sum combiner: str key -> how many (key, 1) pairs came, the word
        # count's pair; kept apart from _sums so the map loop's cost per pair is one
        # dict lookup and one store (merged into _sums at the spill).
        self._units: dict[str, int] = {}
        # Encoded bytes of summed values beyond the one byte of a small int.
        self._sum_wide_bytes = 0
        # Combiner output of grouped keys whose value list reached COMBINE_BOUND_VALUES
        # (already counted as map output), kept until the spill.
        self._combined: dict[str, list] = {}
        self._combine_bound = COMBINE_BOUND_VALUES if combiner is not None else sys.maxsize
        self._buffered_bytes = 0
        self._spills: list[tuple[str, list[Segment]]] = []
        self._records = 0
        self._output_bytes = 0

    def collect(self, key: Any, value: Any) -> None:
        groups = self._groups
        if groups is not None and isinstance(key, str):
            # A str subclass has the same encoding as its plain str (its characters,
            # whatever its __str__ says), so it is the same key.
            key = key if type(key) is str else str.__str__(key)
            sums = self._sums
            if sums is not None and type(value) is int:
                self._add_to_sum(key, value)
            else:
                values = groups.get(key)
                if values is None:
                    groups[key] = [value]
                    self._buffered_bytes += GROUP_OVERHEAD_BYTES + len(key)
                else:
                    values.append(value)
                    if len(values) >= self._combine_bound:
                        self._combine_in_memory(key, values)
                self._buffered_bytes += INT_VALUE_BYTES if type(value) is int else _value_bytes(value)
        else:
            self._collect_record(key, value)
        if self._buffered_bytes >= self._threshold:
            self._spill()

    def collect_pairs(self, produced: Iterable[Any] | None, who: str = "mapper") -> None:
        """collect() for every pair a user method produced (mapper_init / final)."""
        self.collect_mapped(_produced_once, ((produced, who),), who)

    def collect_mapped(self, mapper: Callable[[Any, Any], Any],
                       records: Iterable[tuple[Any, Any]], who: str = "mapper") -> None:
        """collect() for every pair `mapper(k, v)` produces, over a batch of input
        records (the map loop calls this once per batch of lines). This loop runs
        once per map output record, where a method call or an attribute update per
        record is most of the cost, so the common case is inline: a plain 2-tuple
        with a str key that is already buffered, added to its running sum or
        appended to its values, with memory checked only where it grows (a summed
        key grows only when it is new). Everything else goes through collect()."""
        groups = self._groups
        if groups is None:
            for in_key, in_value in records:
                for key, value in pairs(mapper(in_key, in_value), who):
                    self.collect(key, value)
            return
        if self._sums is not None:
            self._collect_summed(mapper, records, who)
            return
        groups_get = groups.get
        collect = self.collect
        threshold = self._threshold
        bound = self._combine_bound
        for in_key, in_value in records:
            produced = mapper(in_key, in_value)
            if type(produced) is not GeneratorType:
                if produced is None:
                    continue
                check_iterable(produced, who)
            for item in produced:
                if type(item) is tuple and len(item) == 2:
                    key, value = item
                else:
                    key, value = checked_pair(item, who)
                values = groups_get(key) if type(key) is str else None
                if values is None or len(values) + 1 >= bound:
                    collect(key, value)
                    continue
                values.append(value)
                self._buffered_bytes += (INT_VALUE_BYTES if type(value) is int
                                         else _value_bytes(value))
                if self._buffered_bytes >= threshold:
                    self._spill()

    def _collect_summed(self, mapper: Callable[[Any, Any], Any],
                        records: Iterable[tuple[Any, Any]], who: str) -> None:
        """collect_mapped with a sum combiner. The pair nearly every such job emits,
        (a key already buffered, the int 1), costs one lookup and one store in
        _units: no per-record attribute update, no range check (a unit pair is one
        record of one encoded byte, so the counters follow from the count). Every
        other pair (a new key, another value, a malformed item) goes through
        collect(), which also puts a new key into _units.

        `value is one` is an identity test on CPython's cached small int: a 1 that
        is not that object (an int subclass, True) simply takes collect()'s path.
        A found key is a plain str: only collect() inserts keys, and nothing but a
        str (or a str subclass, the same key) is equal to a str."""
        units = self._units
        collect = self.collect
        one = 1
        for in_key, in_value in records:
            produced = mapper(in_key, in_value)
            if type(produced) is not GeneratorType:
                if produced is None:
                    continue
                check_iterable(produced, who)
            for item in produced:
                if type(item) is tuple:
                    try:
                        key, value = item
                    except ValueError:
                        key, value = checked_pair(item, who)
                    if value is one:
                        try:
                            units[key] += 1     # (cheaper than get and store, measured)
                            continue
                        except KeyError:
                            pass                # a new key: collect() adds it
                else:
                    key, value = checked_pair(item, who)
                collect(key, value)

    def _add_to_sum(self, key: str, value: int) -> None:
        assert self._sums is not None
        if value == 1:
            count = self._units.get(key)
            if count is None:
                self._units[key] = 1
                if key not in self._sums:
                    self._buffered_bytes += SUM_KEY_BYTES + len(key)
            else:
                self._units[key] = count + 1
            return
        entry = self._sums.get(key)
        if entry is None:
            self._sums[key] = [value, 1]
            if key not in self._units:
                self._buffered_bytes += SUM_KEY_BYTES + len(key)
        else:
            entry[0] += value
            entry[1] += 1
        if not -32 <= value < 128:
            self._sum_wide_bytes += _wide_int_bytes(value)

    def _combine_in_memory(self, key: str, values: list) -> None:
        """Combines a grouped key's values before the spill, so one hot key cannot fill
        the buffer; the combiner sees what a round trip through the map output gives."""
        assert self._combiner is not None
        key_bytes = keys.pack(key, "map output key")
        packed = _pack_list(values)
        self._records += len(values)
        self._output_bytes += (len(key_bytes) * len(values) + len(packed)
                               - _array_header_bytes(len(values)))
        decoded = msgpack.unpackb(packed, use_list=True, raw=False, strict_map_key=False)
        combined = self._combined.setdefault(key, [])
        before = _values_bytes(values) + _values_bytes(combined)
        combined.extend(combine_values(self._combiner, key, decoded, self._counters))
        values.clear()
        self._buffered_bytes += _values_bytes(combined) - before

    def _collect_record(self, key: Any, value: Any) -> None:
        key_bytes = keys.pack(key, "map output key")
        value_bytes = keys.pack(value, "map output value")
        if self._partitioner is None:
            part = keys.hash_partition(key_bytes, self._num_partitions)
        else:
            part = keys.checked_partition(self._partitioner, key, self._num_partitions)
        self._parts[part].append((keys.sort_key(key), key_bytes, value_bytes))
        self._records += 1
        size = len(key_bytes) + len(value_bytes)
        self._output_bytes += size
        self._buffered_bytes += size + len(key_bytes) + RECORD_OVERHEAD_BYTES

    def finish(self) -> MapOutput:
        """Spills what is left and merges all spills into the final output file."""
        if self._buffered_bytes or not self._spills:
            self._spill()
        self._counters.increment(C.FRAMEWORK, "map_output_records", self._records)
        self._counters.increment(C.FRAMEWORK, "map_output_bytes",
                                 self._output_bytes + self._sum_wide_bytes)
        out_path = os.path.join(self._scratch_dir, "file.out")
        index_path = out_path + ".index"
        if len(self._spills) == 1:
            os.replace(self._spills[0][0], out_path)
            segments = self._spills[0][1]
        else:
            segments = self._merge_spills(out_path)
            for path, _ in self._spills:
                os.remove(path)
        write_index(index_path, segments)
        return MapOutput(out_path, index_path, segments)

    def _spill(self) -> None:
        path = os.path.join(self._scratch_dir, f"spill-{len(self._spills)}.run")
        grouped = self._take_groups()
        with RunWriter(path) as writer:
            for records, groups in zip(self._parts, grouped):
                records.sort(key=_first)
                str_at = bisect_left(records, _STR_RANK, key=_first)
                writer.begin()
                self._write_sorted(writer, itertools.islice(records, str_at))
                self._write_groups(writer, groups)
                self._write_sorted(writer, itertools.islice(records, str_at, None))
                segment = writer.end()
                self._counters.increment(C.FRAMEWORK, "spilled_records", segment.records)
                records.clear()
        self._spills.append((path, writer.segments))
        self._counters.increment(C.FRAMEWORK, "map_spills")
        self._buffered_bytes = 0

    def _take_groups(self) -> list[list[Group]]:
        """The distinct str keys (grouped, summed or combined), per partition, sorted,
        with their encodings: only these are encoded, hashed and sorted."""
        by_part: list[list[Group]] = [[] for _ in range(self._num_partitions)]
        groups = self._groups
        sums = self._sums or {}
        combined = self._combined
        for key, count in self._units.items():
            entry = sums.get(key)
            if entry is None:
                sums[key] = [count, count]
            else:
                entry[0] += count
                entry[1] += count
        self._units.clear()
        if not groups and not sums and not combined:
            return by_part
        assert groups is not None
        distinct = groups.keys() | sums.keys() | combined.keys() if sums or combined else groups
        for key in sorted(distinct):
            key_bytes = keys.pack(key, "map output key")
            by_part[keys.hash_partition(key_bytes, self._num_partitions)].append(
                (key, key_bytes, groups.get(key) or [], sums.get(key), combined.get(key)))
        # Emptied in place: collect_mapped holds these dicts while it spills.
        groups.clear()
        sums.clear()
        combined.clear()
        return by_part

    def _write_groups(self, writer: RunWriter, groups: list[Group]) -> None:
        for key, key_bytes, values, summed, combined in groups:
            if self._combiner is None:
                encoded = _pack_each(values)
                self._records += len(values)
                self._output_bytes += len(key_bytes) * len(values) + sum(map(len, encoded))
                for value_bytes in encoded:
                    writer.add(key_bytes, value_bytes)
                continue
            if summed is not None:
                total, count = summed
                self._records += count
                self._counters.increment(C.FRAMEWORK, "combine_input_records", count)
                # Each summed value was one byte (wider ones are in _sum_wide_bytes).
                self._output_bytes += (len(key_bytes) + 1) * count
                if not values and not combined:
                    writer.add(key_bytes, keys.pack(total, "combiner output value"))
                    self._counters.increment(C.FRAMEWORK, "combine_output_records")
                    continue
                # Summed ints meet other values of the key: the combiner adds them all
                # (the summed records were counted as combine input as they came).
                combined = [total] + (combined or [])
            decoded = _round_trip(combined) if combined else []
            if values:
                packed = _pack_list(values)
                self._records += len(values)
                self._output_bytes += (len(key_bytes) * len(values) + len(packed)
                                       - _array_header_bytes(len(values)))
                decoded += msgpack.unpackb(packed, use_list=True, raw=False, strict_map_key=False)
            for out_value in combine_values(self._combiner, key, decoded, self._counters,
                                            counted_inputs=1 if summed is not None else 0):
                writer.add(key_bytes, keys.pack(out_value, "combiner output value"))

    def _merge_spills(self, out_path: str) -> list[Segment]:
        with RunWriter(out_path) as writer:
            for part in range(self._num_partitions):
                runs = [(path, segments[part]) for path, segments in self._spills]
                writer.begin()
                self._write_sorted(writer, merge.merge(runs, self._scratch_dir))
                writer.end()
        return writer.segments

    def _write_sorted(self, writer: RunWriter, records: Iterable[Record]) -> None:
        if self._combiner is None:
            for _, key_bytes, value_bytes in records:
                writer.add(key_bytes, value_bytes)
            return
        for _, group in itertools.groupby(records, key=_first):
            for key_bytes, value_bytes in combine(self._combiner, group, self._counters):
                writer.add(key_bytes, value_bytes)


def _value_bytes(value: Any) -> int:
    """The estimated memory of one buffered value of a grouped key (not an int)."""
    kind = type(value)
    if kind is str or kind is bytes:
        return STR_VALUE_BYTES + len(value)
    if value is None:
        # A pointer to the one None, like a small int (streaming keys without values).
        return INT_VALUE_BYTES
    return RECORD_OVERHEAD_BYTES + len(keys.pack(value, "map output value"))


def _pack_each(values: list) -> list[bytes]:
    try:
        return list(map(keys.pack_unchecked, values))
    except (TypeError, ValueError, OverflowError):
        return [keys.pack(value, "map output value") for value in values]


def _pack_list(values: list) -> bytes:
    """All values as one msgpack array: one C call instead of one per value."""
    try:
        return keys.pack_unchecked(values)
    except (TypeError, ValueError, OverflowError):
        for value in values:
            keys.pack(value, "map output value")   # raises, naming the bad value
        raise


def _array_header_bytes(length: int) -> int:
    return 1 if length < 16 else 3 if length < 0x10000 else 5


def _produced_once(produced: Any, _who: str) -> Any:
    """collect_pairs' one "input record" is what a user method produced."""
    return produced


def _wide_int_bytes(value: int) -> int:
    """Encoded bytes of a summed int beyond the one byte of a small one."""
    return len(keys.pack(value, "map output value")) - 1


def _values_bytes(values: list) -> int:
    return sum(INT_VALUE_BYTES if type(v) is int else _value_bytes(v) for v in values)


def _round_trip(values: list) -> list:
    """The values as a reducer or a later combine would see them (tuples as lists)."""
    return msgpack.unpackb(_pack_list(values), use_list=True, raw=False, strict_map_key=False)


def combine_values(combiner: Combiner, key: str, values: list, counters: Counters,
                   counted_inputs: int = 0) -> list:
    """Runs the combiner on one grouped key's decoded values and returns the values it
    produced; it may not change the key. counted_inputs: leading values already
    counted as combine input (a running sum)."""
    remaining = iter(values)
    out: list = []
    sort_key = keys.sort_key(key)
    for out_key, out_value in pairs(combiner(key, remaining), "combiner"):
        if keys.sort_key(out_key) != sort_key:
            raise JobError(f"combiner must keep the key: got {out_key!r:.80} for {key!r:.80}")
        out.append(out_value)
    consumed = len(values) - length_hint(remaining)
    counters.increment(C.FRAMEWORK, "combine_input_records", max(0, consumed - counted_inputs))
    counters.increment(C.FRAMEWORK, "combine_output_records", len(out))
    return out


def combine(combiner: Combiner, group: Iterator[Record],
            counters: Counters) -> Iterator[tuple[bytes, bytes]]:
    """Runs the combiner on one key's records (streamed); it may not change the key."""
    sort_key, key_bytes, first_value = next(group)
    key = keys.unpack_key(key_bytes)
    consumed = [0]

    def values() -> Iterator[Any]:
        for value_bytes in itertools.chain((first_value,), (r[2] for r in group)):
            consumed[0] += 1
            yield keys.unpack_value(value_bytes)

    produced = 0
    for out_key, out_value in pairs(combiner(key, values()), "combiner"):
        if keys.sort_key(out_key) != sort_key:
            raise JobError(f"combiner must keep the key: got {out_key!r:.80} for {key!r:.80}")
        produced += 1
        yield keys.pack(out_key, "combiner output key"), keys.pack(out_value, "combiner output value")
    counters.increment(C.FRAMEWORK, "combine_input_records", consumed[0])
    counters.increment(C.FRAMEWORK, "combine_output_records", produced)
