"""Text input: Hadoop's LineRecordReader rule over a seekable byte stream. Pure.

Used by every map task (inline runner and Worker child alike) and by the input sampler.

A split [start, start+length) owns exactly the lines that START inside it. A reader
whose split starts at s > 0 seeks to s-1 and discards everything through the first
newline at or after s-1 (if byte s-1 is itself a newline, nothing of the split is
discarded); every reader then reads lines while the line's first byte lies before the
split's end, reading past the end to finish the last one. So a line that crosses a
split boundary belongs to the split it starts in, a line longer than several splits
belongs to one split only, and no line is lost or read twice.

Records are (byte offset of the line, the line as str): the trailing "\n" is removed
and then one trailing "\r" (so CRLF files read cleanly); bytes that are not UTF-8 are
replaced with U+FFFD. A file without a final newline still yields its last line.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

# Inside the split we read in large chunks; past its end we only need to finish one
# line, so we read in small ones (past the end is usually the next, remote, block).
READ_CHUNK_BYTES = 1024 * 1024
TAIL_CHUNK_BYTES = 4 * 1024


class LineRecordReader:
    def __init__(self, stream: BinaryIO, start: int, length: int,
                 chunk_bytes: int = READ_CHUNK_BYTES,
                 tail_chunk_bytes: int = TAIL_CHUNK_BYTES) -> None:
        if start < 0 or length < 0:
            raise ValueError(f"bad split start={start} length={length}")
        self._stream = stream
        self.start = start
        self.end = start + length
        self._chunk_bytes = chunk_bytes
        self._tail_chunk_bytes = tail_chunk_bytes
        self._buf = b""
        self._bufpos = 0
        self._filepos = 0
        self.pos = start
        self._first_line = start
        self.records = 0

    @property
    def bytes_read(self) -> int:
        """Bytes of the lines this split owns that were read so far."""
        return max(0, self.pos - self._first_line)

    def progress(self) -> float:
        if self.end <= self.start:
            return 1.0
        return min(1.0, max(0.0, (self.pos - self.start) / (self.end - self.start)))

    def __iter__(self) -> Iterator[tuple[int, str]]:
        if self.start >= self.end:
            return
        if self.start > 0:
            self._seek(self.start - 1)
            self.pos = self.start - 1 + len(self._readline())
        else:
            self._seek(0)
            self.pos = 0
        self._first_line = self.pos
        while self.pos < self.end:
            line = self._readline()
            if not line:
                break
            offset = self.pos
            self.pos += len(line)
            self.records += 1
            yield offset, decode_line(line)

    def _seek(self, offset: int) -> None:
        self._stream.seek(offset)
        self._filepos = offset
        self._buf = b""
        self._bufpos = 0

    def _readline(self) -> bytes:
        """Bytes through the next newline (included), or to the end of the file."""
        pieces = []
        while True:
            i = self._buf.find(b"\n", self._bufpos)
            if i >= 0:
                pieces.append(self._buf[self._bufpos:i + 1])
                self._bufpos = i + 1
                return b"".join(pieces) if len(pieces) > 1 else pieces[0]
            if self._bufpos < len(self._buf):
                pieces.append(self._buf[self._bufpos:])
            size = self._chunk_bytes if self._filepos < self.end else self._tail_chunk_bytes
            self._buf = self._stream.read(size)
            self._bufpos = 0
            self._filepos += len(self._buf)
            if not self._buf:
                return b"".join(pieces)


def decode_line(line: bytes) -> str:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.decode("utf-8", "replace")
