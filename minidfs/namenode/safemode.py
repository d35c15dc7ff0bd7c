"""Safe mode: read-only until enough blocks have been reported. Pure.

Owned by the namesystem, which calls `update(total, reported, now_ms)` after
start-up, after block reports and on every tick. The NameNode starts in safe
mode; it leaves automatically once the fraction of complete blocks with at least
one live replica reaches the threshold and has stayed there for the extension
(no blocks at all: off at once). `enter()` (the SafeMode RPC) keeps it on until
`leave()`; automatic exit never undoes a manual enter. While on, every mutation
fails (SafeModeStarting, which clients retry, unless it was
entered by hand: SafeModeError); reads work.
"""
from __future__ import annotations

from minidfs.errors import SafeModeError, SafeModeStarting
from minidfs.events import Emit, no_events


class SafeMode:
    def __init__(self, threshold: float, extension_ms: int, emit: Emit = no_events) -> None:
        self.emit = emit
        self.threshold = threshold
        self.extension_ms = extension_ms
        self.on = True
        self.manual = False
        self._reached_ms: int | None = None
        self._total = 0
        self._reported = 0

    def update(self, total_blocks: int, reported_blocks: int, now_ms: int) -> None:
        self._total, self._reported = total_blocks, reported_blocks
        if not self.on or self.manual:
            return
        if total_blocks == 0:
            self._left("no blocks to wait for")
            return
        if reported_blocks / total_blocks < self.threshold:
            self._reached_ms = None
            return
        if self._reached_ms is None:
            self._reached_ms = now_ms
        if now_ms - self._reached_ms >= self.extension_ms:
            self._left(f"{reported_blocks} of {total_blocks} blocks reported")

    def _left(self, why: str) -> None:
        self.on = False
        self.emit("safemode_left", reason=why)

    def enter(self) -> None:
        if not self.on:
            self.emit("safemode_entered", reason="entered by hand")
        self.on = True
        self.manual = True

    def leave(self) -> None:
        if self.on:
            self.emit("safemode_left", reason="left by hand")
        self.on = False
        self.manual = False
        self._reached_ms = None

    def check(self, path: str) -> None:
        """Raises for a mutation of path while safe mode is on: SafeModeStarting
        (retriable) while waiting for block reports, SafeModeError when manual."""
        if self.on and self.manual:
            raise SafeModeError(f"{path}: name node is in safe mode")
        if self.on:
            raise SafeModeStarting(f"{path}: name node is in safe mode: {self.reason()}")

    def reason(self) -> str:
        if not self.on:
            return "safe mode is off"
        if self.manual:
            return "safe mode was turned on manually; leave it with `safemode leave`"
        return (f"safe mode is on: {self._reported} of {self._total} blocks reported, "
                f"waiting for {self.threshold:.1%}")
