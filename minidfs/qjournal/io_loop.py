"""A private event loop thread for the quorum journal's gRPC calls.

The journal interface mixes blocking calls (`recover`, `read_edits`, made before the
NameNode serves or from a tailing thread) and coroutines (`sync`, `roll`, called on
the NameNode's loop). Running every JournalNode call on one loop of the journal's
own keeps one set of grpc.aio channels and one code path for quorum waiting; the
callers block on (`run_blocking`) or await (`run`) the result.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")
# Blocking callers wait at most this long for any one operation (each RPC inside
# has its own shorter deadline; this only guards against a wedged loop).
BLOCKING_CALL_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 5.0


class IoLoop:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run_blocking(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("run_blocking called from the journal's own loop")
        return self.submit(coro).result(BLOCKING_CALL_TIMEOUT_S)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        if not self._thread.is_alive():
            self.loop.close()
