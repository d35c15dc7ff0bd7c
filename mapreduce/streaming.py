"""Streaming jobs (Hadoop Streaming's contract): mapper, combiner and reducer are shell
commands that read lines on stdin and print `key<TAB>value` lines on stdout.

    job = streaming_job(mapper="tr -s ' ' '\\n'", reducer="uniq -c | awk '{print $2\"\\t\"$1}'")
    job().run(input="/books", output="/wc", reducers=2)      # or runner="inline"

`mapreduce streaming` (mapreduce/cli.py) builds the job class here and runs it with
the ordinary runners: a streaming job is a `Job` whose methods drive one command
process per task (mapreduce/streampipe.py), so splitting, partitioning, sorting,
the shuffle, retries and the output commit are the engine's own.

  map task     the mapper command gets the split's lines (the line only, no offset)
               on stdin; every line it prints is a (key, value) pair;
  combiner     the map's output pairs, in chunks of at most spill_threshold_bytes,
               sorted by key, each chunk through one run of the command (Hadoop may
               run a combiner any number of times; it must keep keys);
  reduce task  the reducer command gets the partition's `key<TAB>value` lines sorted
               by key (a key without a value: the key alone), one process per task.

No --reducer: the pairs are written as they are (Hadoop's identity reducer). A
command that exits non-zero fails the attempt with its stderr's last lines.
"""
from __future__ import annotations

import shutil
from operator import itemgetter
from typing import Any, Iterable, Iterator

from mapreduce.job import Job
from mapreduce.streampipe import CommandPipe, command_env, working_folder
from minidfs.errors import InvalidArgument

GENERATED_MODULE = "minidfs_streaming"
GENERATED_CLASS = "Streaming"
# A streaming record: (key, value), the value None for a line without a tab.
Pair = tuple[str, "str | None"]
# Bytes a buffered map output pair costs beyond its text, for the combine chunks.
PAIR_OVERHEAD_BYTES = 100

_SOURCE = '''"""A streaming job made by `mapreduce streaming` (see mapreduce/streaming.py)."""
from mapreduce.streaming import StreamingJob


class {name}(StreamingJob):
    mapper_command = {mapper!r}
    combiner_command = {combiner!r}
    reducer_command = {reducer!r}
'''


class StreamingJob(Job):
    mapper_command: str = "cat"
    combiner_command: str | None = None
    reducer_command: str | None = None

    _folder: str | None = None
    _map_pipe: CommandPipe | None = None
    _reduce_pipe: CommandPipe | None = None

    @classmethod
    def _shipped_module_(cls) -> tuple[str, str, bytes]:
        """(module name, file name, source) the cluster runner ships for this class:
        a generated module, since the class itself is made at run time."""
        source = _SOURCE.format(name=cls.__name__, mapper=cls.mapper_command,
                                combiner=cls.combiner_command, reducer=cls.reducer_command)
        return cls.__module__, f"{cls.__module__}.py", source.encode("utf-8")

    def mapper_init(self) -> None:
        self._map_pipe = self._start("mapper", self.mapper_command,
                                     {"mapreduce_map_input_file": self.input_path or "",
                                      "map_input_file": self.input_path or ""})

    def mapper(self, offset: int, line: str) -> None:
        assert self._map_pipe is not None
        self._map_pipe.write(line.encode("utf-8", "surrogateescape") + b"\n")

    def mapper_final(self) -> Iterator[tuple[str, str | None]]:
        assert self._map_pipe is not None
        try:
            produced = self._map_pipe.finish(self._counters)
            if self.combiner_command:
                produced = self._combine(produced)
            yield from produced
        finally:
            self._end()

    def reducer_init(self) -> None:
        if self.reducer_command:
            self._reduce_pipe = self._start("reducer", self.reducer_command, {})

    def reducer(self, key: Any, values: Iterable[Any]) -> list[tuple[Any, Any]] | None:
        pipe = self._reduce_pipe
        if pipe is None:
            return [(key, value) for value in values]
        # One write per key: a line per value, the key alone where there is no value.
        alone = f"{key}\n"
        prefix = f"{key}\t"
        text = "".join([alone if v is None else f"{prefix}{v}\n" for v in values])
        pipe.write(text.encode("utf-8", "surrogateescape"))
        return None

    def reducer_final(self) -> Iterator[tuple[str, str | None]]:
        if self._reduce_pipe is None:
            return
        try:
            yield from self._reduce_pipe.finish(self._counters)
        finally:
            self._end()

    def _combine(self, produced: Iterator[Pair]) -> Iterator[Pair]:
        chunk: list[Pair] = []
        size = 0
        for pair in produced:
            chunk.append(pair)
            size += PAIR_OVERHEAD_BYTES + len(pair[0]) + len(pair[1] or "")
            if size >= self.spill_threshold_bytes:
                yield from self._combine_chunk(chunk)
                chunk, size = [], 0
        if chunk:
            yield from self._combine_chunk(chunk)

    def _combine_chunk(self, chunk: list[Pair]) -> Iterator[Pair]:
        # Stable: a key's values reach the combiner in the mapper's order.
        chunk.sort(key=itemgetter(0))   # str keys: the engine's order too
        assert self.combiner_command is not None
        pipe = self._start("combiner", self.combiner_command, {})
        pipe.write("".join([f"{k}\n" if v is None else f"{k}\t{v}\n" for k, v in chunk])
                   .encode("utf-8", "surrogateescape"))
        chunk.clear()
        yield from pipe.finish(self._counters)

    def _start(self, role: str, command: str, extra_env: dict[str, str]) -> CommandPipe:
        if self._folder is None:
            self._folder = working_folder(self._files)
        return CommandPipe(role, command, self._folder, command_env(self._folder, extra_env))

    def _end(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def streaming_job(mapper: str, combiner: str | None = None,
                  reducer: str | None = None) -> type[StreamingJob]:
    """A StreamingJob class running these commands (run it like any Job class)."""
    for role, command in (("mapper", mapper), ("combiner", combiner), ("reducer", reducer)):
        if (command is not None or role == "mapper") and \
                (not isinstance(command, str) or not command.strip()):
            raise InvalidArgument(f"the {role} command must be a non-empty string")
    cls = type(GENERATED_CLASS, (StreamingJob,), {
        "mapper_command": mapper, "combiner_command": combiner, "reducer_command": reducer})
    cls.__module__ = GENERATED_MODULE
    return cls
