"""Human sizes: "64KiB", "1MiB", "128M", "4096" -> bytes, and back. Pure."""
from __future__ import annotations

import re

from minidfs.errors import InvalidArgument

_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1024**4, "tb": 1000**4, "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Bytes for "64KiB", "1MiB", "128M" (binary, as in HDFS), "1MB" (decimal), "4096"."""
    if isinstance(text, int):
        return text
    match = _SIZE_RE.match(str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise InvalidArgument(f"{text}: not a size (try 64KiB, 1MiB, 128M)")
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if value != int(value):
        raise InvalidArgument(f"{text}: not a whole number of bytes")
    return int(value)


def format_size(n: int) -> str:
    """Compact binary size: 0B, 1023B, 64KiB, 1.5MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            if unit == "B" or value == int(value):
                return f"{int(value)}{unit}"
            return f"{value:.1f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")
