"""The chaos workload: threads that write, read, rename and delete files in their own
directories (and, with the MapReduce workload, run word count jobs), recording every
operation in the History with its outcome.

Each thread owns a directory and a Client, and runs one operation at a time, so each
path's history is a sequence the checker can replay. Names are never reused, and a
path whose last operation had an unknown outcome is never touched again: its state
is then one of two, which the checker decides at the end. Writes go through
`Client.put` (the shell's `put`: a failed copy removes its partial file).
"""
from __future__ import annotations

import collections
import io
import random
import threading

from typing import Callable

import xxhash

from cluster.chaos.history import FAILED, OK, UNKNOWN, History
from minidfs import history

CHUNK_BYTES = 64 * 1024
# Sizes of the files written, by share: most small, some several 64 KiB blocks long.
SIZE_CLASSES = ((0.45, 0, 16 * 1024), (0.35, 16 * 1024, 200 * 1024),
                (0.20, 200 * 1024, 700 * 1024))
MULTI_BLOCK_SIZE_BYTES = CHUNK_BYTES
# Pause between operations of one thread, so a run records a few thousand operations,
# not millions, and the nemesis's faults are not drowned by the client's own load.
THINK_S = 0.02


def digest(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def outcome_of(e: BaseException) -> str:
    """minidfs.history's rule (failed only when the client promised nothing changed),
    except that an exception which is no minidfs error counts as unknown here: the
    run goes on, and the report lists the error."""
    try:
        said = history.outcome_of(e)
    except BaseException:
        return UNKNOWN
    return {history.OK: OK, history.FAIL: FAILED}.get(said, UNKNOWN)


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"[:300]


class StorageWorker(threading.Thread):
    def __init__(self, name: str, make_client: Callable[[], object], root: str,
                 history: History, seed: int, clock: Callable[[], float],
                 stop: threading.Event) -> None:
        super().__init__(name=f"chaos-{name}", daemon=True)
        self.label = name
        self.make_client = make_client
        self.dir = f"{root}/{name}"
        self.history = history
        self.rng = random.Random(seed)
        self.clock = clock
        self.stop = stop
        self.certain: dict[str, str] = {}   # path -> digest: known complete, touchable
        self.serial = 0

    def run(self) -> None:
        with self.make_client() as fs:
            self.fs = fs
            while not self.stop.is_set():
                try:
                    fs.mkdir(self.dir, parents=True)
                    break
                except Exception:
                    self.stop.wait(0.5)
            while not self.stop.is_set():
                self.step()
                self.stop.wait(THINK_S)

    def _fresh(self, prefix: str) -> str:
        self.serial += 1
        return f"{self.dir}/{prefix}{self.serial:05d}"

    def step(self) -> None:
        r = self.rng.random()
        if not self.certain or r < 0.5:
            self.write()
        elif r < 0.75:
            self.read()
        elif r < 0.88:
            self.rename()
        else:
            self.delete()

    def _size(self) -> int:
        r = self.rng.random()
        for share, low, high in SIZE_CLASSES:
            if r < share:
                return self.rng.randint(low, high)
            r -= share
        return 0

    def _record(self, kind: str, fn: Callable[[], object], **fields) -> tuple[str, object]:
        op = self.history.begin(self.label, kind, self.clock(), **fields)
        if op is None:
            self.stop.set()
            return FAILED, None
        try:
            result = fn()
            op.outcome = OK
        except Exception as e:
            result = None
            op.outcome, op.error = outcome_of(e), _short(e)
        op.end_s = self.clock()
        if kind == "read" and op.outcome == OK:
            op.digest = digest(result)  # type: ignore[arg-type]
        return op.outcome, result

    def write(self) -> None:
        path = self._fresh("f")
        data = self.rng.randbytes(self._size())
        block_size = MULTI_BLOCK_SIZE_BYTES if len(data) > 2 * CHUNK_BYTES else None
        outcome, _ = self._record(
            "write", lambda: self.fs.put(io.BytesIO(data), path, block_size=block_size),
            path=path, digest=digest(data), length=len(data))
        if outcome == OK:
            self.certain[path] = digest(data)

    def read(self) -> None:
        path = self.rng.choice(sorted(self.certain))
        self._record("read", lambda: self.fs.cat(path), path=path, expected=self.certain[path])

    def rename(self) -> None:
        src = self.rng.choice(sorted(self.certain))
        dst = self._fresh("r")
        content = self.certain.pop(src)
        outcome, _ = self._record("rename", lambda: self.fs.rename(src, dst), path=src, dst=dst,
                                  digest=content)
        if outcome == OK:
            self.certain[dst] = content
        elif outcome == FAILED:
            self.certain[src] = content

    def delete(self) -> None:
        path = self.rng.choice(sorted(self.certain))
        content = self.certain.pop(path)
        outcome, _ = self._record("delete", lambda: self.fs.delete(path), path=path,
                                  digest=content)
        if outcome == FAILED:
            self.certain[path] = content


def word_counts(texts: list[bytes]) -> dict[str, int]:
    """The sequential reference of the word count job (str keys, as its mapper)."""
    counts: collections.Counter = collections.Counter()
    for text in texts:
        counts.update(text.decode().split())
    return dict(counts)


def corpus(seed: int, files: int = 2, size_bytes: int = 200 * 1024) -> list[bytes]:
    """A fixed, seeded text corpus for the MapReduce workload."""
    rng = random.Random(seed)
    words = [f"w{rng.randrange(10_000):04d}" for _ in range(500)]
    texts = []
    for _ in range(files):
        lines, size = [], 0
        while size < size_bytes:
            line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
            lines.append(line)
            size += len(line) + 1
        texts.append(("\n".join(lines) + "\n").encode())
    return texts


class JobWorker(threading.Thread):
    """Runs word count jobs one after another over the corpus; a job that succeeded
    must equal the sequential count (checked by the runner with `job_outputs`)."""

    def __init__(self, conf_path: str, make_client: Callable[[], object], root: str,
                 history: History, clock: Callable[[], float], stop: threading.Event) -> None:
        super().__init__(name="chaos-jobs", daemon=True)
        self.conf_path = conf_path
        self.make_client = make_client
        self.root = root
        self.history = history
        self.clock = clock
        self.stop = stop

    def run(self) -> None:
        from examples.wordcount import WordCount

        serial = 0
        while not self.stop.is_set():
            serial += 1
            output = f"{self.root}/jobs/wc{serial:03d}"
            op = self.history.begin("jobs", "job", self.clock(), path=f"{self.root}/corpus",
                                    dst=output)
            if op is None:
                return
            try:
                WordCount().run(input=f"{self.root}/corpus", output=output, reducers=2,
                                conf=self.conf_path)
                op.outcome = OK
            except Exception as e:
                op.outcome, op.error = outcome_of(e), _short(e)
            op.end_s = self.clock()
            self.stop.wait(0.5)


