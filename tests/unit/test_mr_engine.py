"""The pure engine pieces: key order, map-side spill/combine/merge, external merge."""
import collections
import os
import random

import pytest

from mapreduce import keys, merge
from mapreduce.counters import Counters
from mapreduce.mapside import MapOutputBuffer
from mapreduce.runfile import RunWriter, iter_segment, read_index
from minidfs.errors import JobError


def test_sort_key_orders_mixed_types_by_rank_then_value() -> None:
    mixed = ["b", 2, None, (1, "a"), b"x", 1.5, True, "a", {"k": 1}, [1], False, -3]
    ordered = sorted(mixed, key=keys.sort_key)
    assert ordered == [None, False, True, -3, 1.5, 2, "a", "b", b"x", [1], (1, "a"), {"k": 1}]


def test_int_and_equal_float_are_distinct_adjacent_keys() -> None:
    assert keys.sort_key(1) < keys.sort_key(1.0) < keys.sort_key(2)
    assert keys.sort_key([1, "a"]) == keys.sort_key((1, "a"))
    nan = float("nan")
    assert keys.sort_key(nan) == keys.sort_key(nan) > keys.sort_key(float("inf"))


def test_decoded_keys_sort_and_hash_like_originals() -> None:
    for key in ["w", 7, -1.25, None, True, b"\x00", ["a", [1, 2]], {"z": 1, "a": [2]}]:
        data = keys.pack(key)
        assert keys.sort_key(keys.unpack_key(data)) == keys.sort_key(key)
        assert keys.pack(keys.unpack_key(data)) == data


def test_unserializable_key_is_a_job_error() -> None:
    with pytest.raises(JobError, match="cannot be serialized"):
        keys.pack(object())


def read_output(out, partition):
    return [(keys.unpack_key(k), keys.unpack_value(v))
            for k, v in iter_segment(out.path, out.segments[partition])]


def make_pairs(n, seed=0):
    rng = random.Random(seed)
    return [(f"k{rng.randint(0, 200)}", rng.randint(1, 5)) for _ in range(n)]


@pytest.mark.parametrize("threshold", [4096, 64 * 1024, 1 << 30])
def test_map_output_sorted_partitioned_and_complete(tmp_path, threshold) -> None:
    counters = Counters()
    buf = MapOutputBuffer(3, str(tmp_path), counters, spill_threshold_bytes=threshold)
    pairs = make_pairs(5000)
    for k, v in pairs:
        buf.collect(k, v)
    out = buf.finish()
    assert read_index(out.index_path) == out.segments
    got = []
    for p in range(3):
        records = read_output(out, p)
        assert [k for k, _ in records] == sorted(k for k, _ in records)
        for k, _ in records:
            assert keys.hash_partition(keys.pack(k), 3) == p
        got.extend(records)
    assert collections.Counter(got) == collections.Counter(pairs)
    assert counters.get("mapreduce", "map_output_records") == 5000
    if threshold == 4096:
        assert counters.get("mapreduce", "map_spills") > 10
    assert [f for f in os.listdir(tmp_path) if f.startswith("spill")] == []


def test_combiner_runs_on_spills_and_merge(tmp_path) -> None:
    counters = Counters()
    buf = MapOutputBuffer(2, str(tmp_path), counters, spill_threshold_bytes=4096,
                          combiner=lambda k, vs: [(k, sum(vs))])
    pairs = make_pairs(4000, seed=3)
    for k, v in pairs:
        buf.collect(k, v)
    out = buf.finish()
    want = collections.Counter()
    for k, v in pairs:
        want[k] += v
    got = dict(read_output(out, 0) + read_output(out, 1))
    assert got == dict(want)
    # The final merge combines across spills: one record per key is left.
    assert sum(segment.records for segment in out.segments) == len(want)
    assert counters.get("mapreduce", "map_spills") > 1


def test_combiner_may_not_change_the_key(tmp_path) -> None:
    buf = MapOutputBuffer(1, str(tmp_path), Counters(), combiner=lambda k, vs: [(k + "!", 1)])
    buf.collect("a", 1)
    with pytest.raises(JobError, match="combiner must keep the key"):
        buf.finish()


def test_values_for_equal_keys_keep_emit_order(tmp_path) -> None:
    buf = MapOutputBuffer(1, str(tmp_path), Counters(), spill_threshold_bytes=4096)
    for i in range(3000):
        buf.collect("same" if i % 2 else f"other{i % 7}", i)
    out = buf.finish()
    same = [v for k, v in read_output(out, 0) if k == "same"]
    assert same == list(range(1, 3000, 2))


def test_partitioner_result_is_checked(tmp_path) -> None:
    buf = MapOutputBuffer(2, str(tmp_path), Counters(), partitioner=lambda k, n: 5)
    with pytest.raises(JobError, match="partitioner returned 5"):
        buf.collect("a", 1)


def _values_held(buf: MapOutputBuffer) -> int:
    """Map output values in memory: records of non-str keys and grouped str keys."""
    return (sum(len(p) for p in buf._parts)
            + sum(len(values) for values in (buf._groups or {}).values()))


@pytest.mark.parametrize("path", ["collect", "collect_pairs"])
def test_memory_is_bounded_by_threshold_not_input(tmp_path, path) -> None:
    """The buffer never holds more than the threshold's worth of values, whatever the
    input size: a 20-byte str value is estimated at >= 20 bytes, so at most
    threshold / 20 of them can be buffered before a spill."""
    threshold = 64 * 1024
    buf = MapOutputBuffer(2, str(tmp_path), Counters(), spill_threshold_bytes=threshold)
    peak = 0
    for i in range(50_000):
        if path == "collect":
            buf.collect(f"key-{i % 977}", "v" * 20)
        else:
            buf.collect_pairs(iter([(f"key-{i % 977}", "v" * 20), (i, "w" * 20)]))
        peak = max(peak, _values_held(buf))
    assert 0 < peak <= threshold // 20
    buf.finish()


def test_collect_pairs_across_many_spills_loses_nothing(tmp_path) -> None:
    """Regression: pairs collected in one collect_pairs call that crosses the spill
    threshold (str keys grouped, other keys as records) all reach the output."""
    counters = Counters()
    buf = MapOutputBuffer(3, str(tmp_path), counters, spill_threshold_bytes=4096)
    want = collections.Counter()

    def line_pairs(n):
        for j in range(n):
            key = f"w{j % 37}" if j % 5 else j % 11
            want[key] += 1
            yield key, 1

    for n in (3, 500, 1, 2000):
        buf.collect_pairs(line_pairs(n))
    out = buf.finish()
    got = collections.Counter()
    for p in range(3):
        for k, v in read_output(out, p):
            got[k] += v
    assert got == want
    assert counters.get("mapreduce", "map_spills") > 3


def write_run(path, records):
    with RunWriter(path) as w:
        w.begin()
        for k, v in sorted(records, key=lambda kv: keys.sort_key(kv[0])):
            w.add(keys.pack(k), keys.pack(v))
        return w.end()


@pytest.mark.parametrize("fan_in", [2, 3, 32])
def test_external_merge_with_bounded_fan_in(tmp_path, fan_in) -> None:
    rng = random.Random(7)
    runs, everything = [], []
    for i in range(11):
        records = [(rng.randint(0, 50), i * 1000 + j) for j in range(rng.randint(0, 40))]
        everything.extend(records)
        path = str(tmp_path / f"run{i}")
        runs.append((path, write_run(path, records)))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    grouped = [(keys.unpack_key(k), [keys.unpack_value(v) for v in vs])
               for k, vs in merge.groups(merge.merge(runs, str(scratch), fan_in=fan_in))]
    assert [k for k, _ in grouped] == sorted(set(k for k, _ in everything))
    want = collections.defaultdict(list)
    for k, v in everything:
        want[k].append(v)
    # Stable: values of one key come run by run, in each run's order.
    assert dict(grouped) == dict(want)


# ---- the sum combiner fast path -------------------------------------------------------

class _TextbookSum:
    def combiner(self, word, counts):
        yield word, sum(counts)


class _NotASum:
    def combiner(self, word, counts):
        yield word, max(counts)


def test_sum_combiners_are_recognised_and_look_alikes_are_not() -> None:
    from mapreduce import Job
    from mapreduce.combiners import is_sum_combiner

    class Declared(Job):
        combiner = Job.sum_values

    assert is_sum_combiner(Declared().combiner)
    assert is_sum_combiner(_TextbookSum().combiner)
    assert not is_sum_combiner(_NotASum().combiner)
    assert not is_sum_combiner(lambda k, vs: [(k, sum(vs))])
    namespace = {"sum": lambda vs: 0}
    exec("def combiner(self, word, counts):\n    yield word, sum(counts)\n", namespace)
    assert not is_sum_combiner(namespace["combiner"].__get__(object()))   # shadowed sum


def _mixed_pairs(n: int, seed: int) -> list:
    """Mostly (str, small int); some wide ints, floats, non-str keys and 2-lists."""
    rng = random.Random(seed)
    out: list = []
    for i in range(n):
        key = f"w{rng.randint(0, 300)}"
        roll = rng.random()
        if roll < 0.85:
            out.append((key, rng.randint(-5, 20)))
        elif roll < 0.9:
            out.append((key, rng.randint(1000, 10 ** 12)))
        elif roll < 0.93:
            out.append((key, 0.5))
        elif roll < 0.97:
            out.append((rng.randint(0, 50), 1))
        else:
            out.append([key, 3])
    return out


def _fast_and_called(tmp_path, partitions: int, threshold: int):
    """(counters, buffer) with the recognised textbook sum combiner, then with an
    equivalent combiner the engine does not recognise (called like any other)."""
    for name, combiner in (("fast", _TextbookSum().combiner),
                           ("called", lambda k, vs: [(k, sum(vs))])):
        folder = tmp_path / name
        folder.mkdir()
        counters = Counters()
        yield counters, MapOutputBuffer(partitions, str(folder), counters,
                                        spill_threshold_bytes=threshold, combiner=combiner)


@pytest.mark.parametrize("threshold", [4096, 1 << 30])
def test_sum_fast_path_matches_the_called_combiner(tmp_path, threshold) -> None:
    """The running totals give the same output and the same map output counters as
    calling an equivalent combiner that is not recognised (combine input too, when
    both spill once: the sum path holds less, so it may spill less often)."""
    pairs = _mixed_pairs(20_000, seed=threshold)
    results = []
    for counters, buf in _fast_and_called(tmp_path, 3, threshold):
        lines = [pairs[i:i + 7] for i in range(0, len(pairs), 7)]
        buf.collect_mapped(lambda _offset, line: iter(line), enumerate(lines))
        buf.collect("late", 2)
        out = buf.finish()
        totals: dict = {}
        for p in range(3):
            for k, v in read_output(out, p):
                totals[k] = totals.get(k, 0) + v
        results.append((totals, counters.get("mapreduce", "map_output_records"),
                        counters.get("mapreduce", "map_output_bytes"),
                        counters.get("mapreduce", "combine_input_records")
                        if threshold > len(pairs) * 1000 else None))
    assert results[0] == results[1]
    want: dict = {}
    for k, v in pairs:
        want[k] = want.get(k, 0) + v
    want["late"] = 2
    assert results[0][0] == want
    assert results[0][1] == len(pairs) + 1


class _Word(str):
    pass


def test_unit_pairs_and_their_look_alikes_match_the_called_combiner(tmp_path) -> None:
    """(word, 1) takes the counting fast path; True, 1.0, a str subclass key and a
    2-list are different pairs (or the same key) exactly as the called combiner sees."""
    pairs = []
    for i in range(3000):
        word = f"w{i % 17}"
        pairs += [(word, 1), (word, 1), (_Word(word), 1), (word, True), (word, 1.0),
                  [word, 1], (word, 2)]
    results = []
    for counters, buf in _fast_and_called(tmp_path, 2, 8192):
        buf.collect_mapped(lambda _o, line: iter(line),
                           enumerate(pairs[i:i + 5] for i in range(0, len(pairs), 5)))
        out = buf.finish()
        got = sorted((repr(k), repr(v)) for p in range(2) for k, v in read_output(out, p))
        results.append((got, counters.get("mapreduce", "map_output_records"),
                        counters.get("mapreduce", "map_output_bytes")))
    assert results[0] == results[1]
    assert results[0][1] == len(pairs)


@pytest.mark.parametrize("bad", [("w", 1, 2), ("w",), {"w": 0, 1: 0}, "w1"])
def test_a_malformed_item_among_unit_pairs_is_an_error(tmp_path, bad) -> None:
    buf = MapOutputBuffer(1, str(tmp_path), Counters(), combiner=_TextbookSum().combiner)
    with pytest.raises(JobError, match="must yield"):
        buf.collect_mapped(lambda _o, line: iter(line), enumerate([[("w", 1), ("w", 1), bad]]))


def test_hot_key_is_combined_in_memory_not_spilled(tmp_path) -> None:
    """A general combiner runs on a key's values once COMBINE_BOUND_VALUES wait, so
    one hot key cannot fill the buffer; the result is the same."""
    counters = Counters()
    buf = MapOutputBuffer(1, str(tmp_path), counters, spill_threshold_bytes=1 << 20,
                          combiner=lambda k, vs: [(k, max(vs))])
    for i in range(100_000):
        buf.collect("hot", i)
    assert len(buf._groups["hot"]) < 1024 and buf._buffered_bytes < 1 << 20
    out = buf.finish()
    assert read_output(out, 0) == [("hot", 99_999)]
    assert counters.get("mapreduce", "map_spills") == 1
    assert counters.get("mapreduce", "map_output_records") == 100_000
