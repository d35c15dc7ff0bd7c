"""Combiners the engine recognises, so it can run them without calling them. Pure.

Used by the map-side buffer (mapside.py). A sum combiner, declared as
`combiner = Job.sum_values` or written the textbook way

    def combiner(self, word, counts):
        yield word, sum(counts)

adds up a key's int values. The map side then keeps one running total per key as the
pairs arrive (`d[k] += v`, no list of values per key) and writes (key, total) at a
spill: what the combiner would have produced from the same values, because adding
ints in any grouping gives the same int. The textbook form is recognised by its
bytecode (the same instructions, constants and names as `sum_values`, with `sum` the
builtin), so a combiner that only looks like it (a shadowed `sum`, a closure, a
different body) is called like any other.
"""
from __future__ import annotations

import builtins
from typing import Any, Iterable, Iterator

# The code flags that say what a function is (generator, varargs, ...); the higher
# ones only record the module's `from __future__` imports.
_KIND_FLAGS = 0xFFFF


def sum_values(self: Any, key: Any, values: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    yield key, sum(values)


def is_sum_combiner(combiner: Any) -> bool:
    """True when `combiner` (a bound method or a function) is the sum of its values."""
    func = getattr(combiner, "__func__", combiner)
    if func is sum_values:
        return True
    code = getattr(func, "__code__", None)
    if code is None or getattr(func, "__closure__", None):
        return False
    ref = sum_values.__code__
    if (code.co_code, code.co_consts, code.co_names, code.co_flags & _KIND_FLAGS) != \
            (ref.co_code, ref.co_consts, ref.co_names, ref.co_flags & _KIND_FLAGS):
        return False
    # A method's `self` is bound; a plain function must take (key, values) after it.
    takes = code.co_argcount - (1 if hasattr(combiner, "__func__") else 0)
    if code.co_argcount != ref.co_argcount or takes != 2:
        return False
    module_globals = getattr(func, "__globals__", {})
    found = module_globals.get("sum", getattr(func, "__builtins__", {}).get("sum", builtins.sum))
    return found is builtins.sum
