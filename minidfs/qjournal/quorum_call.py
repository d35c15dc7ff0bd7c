"""Send one request to every JournalNode, return as soon as a majority answered.

Used by quorum_journal.py and quorum_reader.py on the journal's IoLoop. Calls still
running when the quorum is reached keep running (a slow node still gets its batch,
in order); their outcome is only logged. A FencedError from any node ends the wait
at once: a newer writer exists and this one must step down.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from minidfs.errors import FencedError, MinidfsError, Unavailable
from minidfs.namenode.journal import JournalError
from minidfs.qjournal.jn_channel import JournalNodeChannel
from minidfs.qjournal.segment import majority

log = logging.getLogger("minidfs.qjournal")


class QuorumLost(JournalError, Unavailable):
    """Fewer than a majority of JournalNodes took the request: nothing is durable."""


class JournalFenced(JournalError, FencedError):
    """A JournalNode promised a newer epoch: this writer is deposed and must step down."""


def _log_late(name: str, what: str) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.info("%s to %s failed after the quorum answered: %s", what, name,
                     task.exception())
    return done


async def quorum_call(nodes: list[JournalNodeChannel],
                      call: Callable[[JournalNodeChannel], Awaitable[Any]],
                      what: str, total: int | None = None,
                      need: int | None = None) -> dict[str, Any]:
    """{node name: response} of at least `need` (default: a majority of `total`,
    default len(nodes)) nodes. Raises JournalFenced or QuorumLost otherwise."""
    total = total if total is not None else len(nodes)
    need = need if need is not None else majority(total)
    tasks = {asyncio.ensure_future(call(node)): node for node in nodes}
    answers: dict[str, Any] = {}
    failures: dict[str, str] = {}
    pending = set(tasks)
    try:
        while pending and len(answers) < need:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            fenced = None
            for task in done:
                node = tasks[task]
                exc = task.exception()
                if exc is None:
                    answers[node.name] = task.result()
                elif isinstance(exc, FencedError):
                    fenced = JournalFenced(f"{what}: {node.name}: {exc}")
                elif isinstance(exc, MinidfsError):
                    failures[node.name] = str(exc)
                else:
                    raise exc
            if fenced is not None:
                raise fenced
            if len(answers) + len(pending) < need:
                break
    finally:
        for task in pending:
            task.add_done_callback(_log_late(tasks[task].name, what))
    if len(answers) < need:
        detail = "; ".join(f"{n}: {m}" for n, m in sorted(failures.items()))
        raise QuorumLost(f"journal quorum lost: {what} reached {len(answers)} of {total} "
                         f"journal nodes, {need} needed ({detail})")
    return answers
