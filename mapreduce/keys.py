"""How map output keys and values are encoded, ordered, grouped and partitioned. Pure.

Called by the map-side buffer, the merger and the reducer loop, on the inline runner
and on Workers alike, so both agree byte for byte.

Keys and values are anything msgpack carries (None, bool, int, float, str, bytes,
lists/tuples, dicts). A key travels as its msgpack bytes; the partition of a key is
`xxh3_64(msgpack.packb(key)) % R` (unless the job has a partitioner), so a key and
its decoded copy always land in the same partition.

Order within a partition: keys sort in their natural order when they have one type.
Mixed types sort by (type rank, value) with the ranks

    None < bool < numbers < str < bytes < arrays < maps < msgpack ext types

ints and floats are one rank compared by value; an int and an equal float (1, 1.0)
are different keys (they encode differently) and the int sorts first. NaN sorts
after every other number. Arrays compare element by element, maps by their sorted
(key, value) items. Two keys form one group exactly when their sort keys are equal,
which is exactly when their encodings are equal (arrays compare as tuples, so a
mapper's list key and tuple key are the same key).

Decoded keys come back with arrays as tuples (hashable); decoded values come back
with arrays as lists.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import msgpack
import xxhash

from minidfs.errors import JobError

_NONE, _BOOL, _NUMBER, _STR, _BYTES, _ARRAY, _MAP, _EXT = range(8)


def sort_key(key: Any) -> tuple:
    """The total-order sort key of a (decoded or user-given) map output key."""
    kind = type(key)
    if kind is str:
        return (_STR, key)
    if kind is int:
        return (_NUMBER, key, 0)
    if kind is float:
        if key != key:
            return (_NUMBER, math.inf, 2)
        return (_NUMBER, key, 1)
    if kind is tuple or kind is list:
        return (_ARRAY, tuple(sort_key(item) for item in key))
    if key is None:
        return (_NONE,)
    if kind is bool:
        return (_BOOL, key)
    if kind is bytes or kind is bytearray or kind is memoryview:
        return (_BYTES, bytes(key))
    if isinstance(key, dict):
        return (_MAP, tuple(sorted((sort_key(k), sort_key(v)) for k, v in key.items())))
    if isinstance(key, msgpack.ExtType):
        return (_EXT, key.code, key.data)
    if isinstance(key, (list, tuple)):
        return (_ARRAY, tuple(sort_key(item) for item in key))
    # Subclasses of the basic types (e.g. an IntEnum) order as their base type.
    for base, rank in ((bool, _BOOL), (int, _NUMBER), (float, _NUMBER), (str, _STR)):
        if isinstance(key, base):
            return sort_key(base(key))
    raise TypeError(f"a {type(key).__name__} cannot be a map output key")


# One Packer for the process: msgpack.packb would build a new one per call, which
# was the largest single cost of the map side. Packer.pack resets itself on an error.
pack_unchecked: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True).pack


def pack(obj: Any, what: str = "map output") -> bytes:
    """msgpack bytes of a key or value, with a clear error for what msgpack cannot carry."""
    try:
        return pack_unchecked(obj)
    except (TypeError, ValueError, OverflowError) as e:
        raise JobError(f"{what} {obj!r:.80} cannot be serialized with msgpack: {e}") from None


def unpack_key(data: bytes) -> Any:
    return msgpack.unpackb(data, use_list=False, raw=False, strict_map_key=False)


def unpack_value(data: bytes) -> Any:
    return msgpack.unpackb(data, use_list=True, raw=False, strict_map_key=False)


def hash_partition(key_bytes: bytes, num_partitions: int) -> int:
    return xxhash.xxh3_64_intdigest(key_bytes) % num_partitions


Partitioner = Callable[[Any, int], int]


def checked_partition(partitioner: Partitioner, key: Any, num_partitions: int) -> int:
    """Calls a job's partitioner and refuses an answer outside [0, R)."""
    part = partitioner(key, num_partitions)
    if type(part) is not int or not 0 <= part < num_partitions:
        raise JobError(
            f"partitioner returned {part!r} for key {key!r:.80}; "
            f"it must be an int in [0, {num_partitions})"
        )
    return part
