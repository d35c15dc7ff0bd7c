"""Text input: Hadoop's LineRecordReader rule over a seekable byte stream. Pure.

Used by every map task (inline runner and Worker child alike, through `batches`) and
by the input sampler (through plain iteration).

A split [start, start+length) owns exactly the lines that START inside it. A reader
whose split starts at s > 0 seeks to s-1 and discards everything through the first
newline at or after s-1 (if byte s-1 is itself a newline, nothing of the split is
discarded); every reader then reads lines while the line's first byte lies before the
split's end, reading past the end to finish the last one. So a line that crosses a
split boundary belongs to the split it starts in, a line longer than several splits
belongs to one split only, and no line is lost or read twice.

Records are (byte offset of the line, the line as str): the trailing "\n" is removed
and then one trailing "\r" (so CRLF files read cleanly); bytes that are not UTF-8 are
replaced with U+FFFD. A file without a final newline still yields its last line. With
as_bytes (a Job's input_bytes) the lines are the bytes themselves, cut the same way.

Speed: the map task's per-line cost is the user's mapper, so the reader does no
per-line Python work. It reads big chunks and, per chunk, decodes the whole chunk once
and splits the text on "\n", and computes the offsets with itertools over the lines'
byte lengths (the text's own where the chunk is ASCII, else those of the bytes split on
b"\n"); all of that runs in C. Decoding a chunk and
then splitting gives the same lines as decoding line by line, because a newline byte
is never part of a UTF-8 sequence, valid or not, so no replacement crosses it.
"""
from __future__ import annotations

from itertools import accumulate, chain, repeat
from operator import add
from typing import BinaryIO, Iterator

# Inside the split we read in large chunks; past its end we only need to finish one
# line, so we read in small ones (past the end is usually the next, remote, block).
READ_CHUNK_BYTES = 1024 * 1024
TAIL_CHUNK_BYTES = 4 * 1024
# Lines per batch when the caller does not say.
BATCH_MAX_LINES = 4096

Batch = Iterator[tuple[int, str]]


class LineRecordReader:
    def __init__(self, stream: BinaryIO, start: int, length: int,
                 chunk_bytes: int = READ_CHUNK_BYTES,
                 tail_chunk_bytes: int = TAIL_CHUNK_BYTES, as_bytes: bool = False) -> None:
        if start < 0 or length < 0:
            raise ValueError(f"bad split start={start} length={length}")
        self._stream = stream
        self.start = start
        self.end = start + length
        self._chunk_bytes = chunk_bytes
        self._tail_chunk_bytes = tail_chunk_bytes
        self._as_bytes = as_bytes
        self._filepos = 0
        self.pos = start
        self._first_line = start
        # Lines handed out so far (counted a batch at a time).
        self.records = 0

    @property
    def bytes_read(self) -> int:
        """Bytes of the lines this split owns that were handed out so far."""
        return max(0, self.pos - self._first_line)

    def progress(self) -> float:
        if self.end <= self.start:
            return 1.0
        return min(1.0, max(0.0, (self.pos - self.start) / (self.end - self.start)))

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return chain.from_iterable(self.batches())

    def batches(self, max_lines: int = BATCH_MAX_LINES) -> Iterator[Batch]:
        """The split's lines as (offset, line) iterators of at most max_lines each."""
        for offsets, lines in self.line_batches(max_lines):
            yield zip(offsets, lines)

    def line_batches(self, max_lines: int = BATCH_MAX_LINES) -> Iterator[tuple[list[int], list[str]]]:
        """The split's lines as (offsets, lines) lists of at most max_lines each (what
        a Job's mapper_batch is given)."""
        if max_lines < 1:
            raise ValueError(f"a batch needs at least one line, got {max_lines}")
        if self.start >= self.end:
            return
        self.pos = self.start - 1 if self.start > 0 else 0
        self._stream.seek(self.pos)
        self._filepos = self.pos
        pending = self._skip_first_line() if self.start > 0 else b""
        self._first_line = self.pos
        # pending: the start of the unfinished line that starts at self.pos.
        while self.pos < self.end:
            data = self._read()
            at_eof = not data
            if at_eof and not pending:
                return
            # A last line without a newline ends at the end of the file.
            added_newline = at_eof and not pending.endswith(b"\n")
            if added_newline:
                data = b"\n"
            buf = pending + data if pending else data
            last_newline = buf.rfind(b"\n")
            if last_newline < 0:
                pending = buf
                continue
            limit = self.end - self.pos    # lines starting before this index are ours
            ends_here = limit <= last_newline
            used = buf.find(b"\n", limit - 1) + 1 if ends_here else last_newline + 1
            pending = buf[used:]
            yield from self._batches(buf, self.pos, buf.count(b"\n", 0, used), max_lines)
            self.pos += used - 1 if added_newline and used == len(buf) else used
            if ends_here or at_eof:
                return

    def _skip_first_line(self) -> bytes:
        """Drops the line that started before the split (the previous split's), through
        its newline; returns what was read after it."""
        while True:
            data = self._read()
            if not data:
                return b""
            newline = data.find(b"\n")
            if newline >= 0:
                self.pos += newline + 1
                return data[newline + 1:]
            self.pos += len(data)

    def _read(self) -> bytes:
        size = self._chunk_bytes if self._filepos < self.end else self._tail_chunk_bytes
        data = self._stream.read(size)
        self._filepos += len(data)
        return data

    def _batches(self, buf: bytes, offset: int, lines: int,
                 max_lines: int) -> Iterator[tuple[list[int], list]]:
        """The first `lines` newline-terminated lines of buf, which starts at offset
        (str lines, or bytes with as_bytes)."""
        if self._as_bytes:
            text = buf.split(b"\n", lines)
            del text[lines:]
            lengths = map(len, text)
            cr: str | bytes = b"\r"
        else:
            text = buf.decode("utf-8", "replace").split("\n", lines)
            del text[lines:]
            cr = "\r"
            if buf.isascii():
                # One byte per character: the lines' byte lengths are their text
                # lengths (splitting the bytes too was 40% of the reader's time).
                lengths = map(len, text)
            else:
                raw = buf.split(b"\n", lines)
                del raw[lines:]
                lengths = map(len, raw)
        offsets = list(accumulate(map(add, lengths, repeat(1)), add, initial=offset))
        if b"\r" in buf:
            text = [line[:-1] if line.endswith(cr) else line for line in text]
        if lines <= max_lines:
            self.records += lines
            del offsets[lines:]        # the offset after the last line
            yield offsets, text
            return
        for first in range(0, lines, max_lines):
            last = min(lines, first + max_lines)
            self.records += last - first
            yield offsets[first:last], text[first:last]
