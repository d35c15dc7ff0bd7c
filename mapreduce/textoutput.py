"""The default output format: one `key<TAB>value` line per output pair. Pure.

Used by reduce tasks and by map tasks of map-only jobs (inline and on Workers).
Each field is written as:
  - str: as is;  bytes: decoded as UTF-8 (invalid bytes become backslash escapes);
  - lists, tuples and dicts: compact JSON (non-ASCII kept, bytes inside as text);
  - anything else (int, float, bool, None inside a key): str(x).
A pair whose value is None is written as the key alone (no tab), like Hadoop's
NullWritable. A job that wants another format overrides `Job.format_output(key, value)`.
"""
from __future__ import annotations

import json
from typing import Any, BinaryIO, Callable

WRITE_BUFFER_BYTES = 256 * 1024


def format_field(x: Any) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", "backslashreplace")
    if isinstance(x, (list, tuple, dict)):
        return json.dumps(x, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return str(x)


def _json_default(x: Any) -> Any:
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", "backslashreplace")
    return str(x)


def format_line(key: Any, value: Any) -> str:
    if value is None:
        return format_field(key)
    return f"{format_field(key)}\t{format_field(value)}"


class TextWriter:
    """Buffers formatted lines and writes them to a binary stream (local or DFS)."""

    def __init__(self, stream: BinaryIO, formatter: Callable[[Any, Any], str] = format_line) -> None:
        self._stream = stream
        self._formatter = formatter
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.records = 0
        self.bytes_written = 0

    def write(self, key: Any, value: Any) -> None:
        line = self._formatter(key, value)
        if not isinstance(line, str):
            raise TypeError(f"format_output must return str, got {type(line).__name__}")
        data = (line + "\n").encode("utf-8", "surrogateescape")
        self._pending.append(data)
        self._pending_bytes += len(data)
        self.records += 1
        if self._pending_bytes >= WRITE_BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._stream.write(data)
            self.bytes_written += len(data)
            self._pending.clear()
            self._pending_bytes = 0
