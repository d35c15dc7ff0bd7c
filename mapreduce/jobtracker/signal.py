"""A change signal on the event loop: a sequence number and a way to wait for the next.

Used by the JobTracker (tracker.py) for "there may be new work" (Workers' WatchWork
doorbell) and "a job's status may have changed" (clients' WatchJob), so neither
Workers nor clients find changes by polling.
"""
from __future__ import annotations

import asyncio


class ChangeSignal:
    def __init__(self) -> None:
        self.sequence = 0
        self._event = asyncio.Event()

    def changed(self) -> None:
        self.sequence += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seen: int, timeout_s: float) -> int:
        """The sequence once it differs from `seen`, or after timeout_s."""
        if self.sequence == seen:
            try:
                await asyncio.wait_for(self._event.wait(), timeout_s)
            except asyncio.TimeoutError:
                pass
        return self.sequence
