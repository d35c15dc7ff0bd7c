"""One JournalNode as the quorum journal sees it (HDFS's IPCLoggerChannel).

Lives on the journal's IoLoop (io_loop.py); used by quorum_call.py, quorum_journal.py
and quorum_reader.py. Every call has a deadline and comes back as a minidfs
exception. Writer calls to one node (segment starts, batches, finalizes) are sent
strictly in order, one after another: a node that fails one, or falls more than
MAX_QUEUED_CALLS behind, is out of
sync and gets no more batches until the writer starts the next segment on it.
"""
from __future__ import annotations

import asyncio
from typing import Any

import grpc

from minidfs.errors import MinidfsError, PreconditionFailed
from minidfs.rpc import channels, journal_pb2_grpc
from minidfs.rpc.status import from_rpc_error

MAX_QUEUED_CALLS = 64


class OutOfSync(PreconditionFailed):
    """This JournalNode missed an earlier batch of the current segment."""


class JournalNodeChannel:
    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address
        self._channel: grpc.aio.Channel | None = None
        self._stub: journal_pb2_grpc.JournalStub | None = None
        self.in_sync = False
        self._queued = 0
        self._tail: asyncio.Future[None] | None = None

    def _get_stub(self) -> journal_pb2_grpc.JournalStub:
        if self._stub is None:
            self._channel = channels.aio_channel(self.address)
            self._stub = journal_pb2_grpc.JournalStub(self._channel)
        return self._stub

    async def call(self, method: str, request: Any, deadline_s: float) -> Any:
        try:
            return await getattr(self._get_stub(), method)(request, timeout=deadline_s)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    async def ordered(self, method: str, request: Any, deadline_s: float,
                      needs_sync: bool = False, starts_segment: bool = False) -> Any:
        """A writer call, sent only after every earlier writer call to this node has
        completed, so the node sees batches, finalizes and segment starts in the
        writer's order even when it lags behind the quorum."""
        if self._queued >= MAX_QUEUED_CALLS:
            self.in_sync = False
            raise OutOfSync(f"{self.name}: more than {MAX_QUEUED_CALLS} calls behind")
        previous = self._tail
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tail = done
        self._queued += 1
        try:
            if previous is not None:
                await previous
            if needs_sync and not self.in_sync:
                raise OutOfSync(f"{self.name}: out of sync until the next segment")
            try:
                response = await self.call(method, request, deadline_s)
            except MinidfsError:
                self.in_sync = False
                raise
            if starts_segment:
                self.in_sync = True
            return response
        finally:
            self._queued -= 1
            done.set_result(None)
            if self._tail is done:
                self._tail = None

    async def drain(self) -> None:
        """Returns once every writer call queued so far has completed."""
        if self._tail is not None:
            await asyncio.shield(self._tail)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None
