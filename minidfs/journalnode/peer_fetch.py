"""Copies a segment from a peer JournalNode during segment recovery (AcceptRecovery).

Called by journal_service.py when the writer's chosen copy of a segment lives on
another JournalNode: pages through the peer's GetSegment and returns the records
first..last of that segment, verified by the caller before they replace anything.
"""
from __future__ import annotations

from minidfs.errors import PreconditionFailed
from minidfs.qjournal.segment import Segment
from minidfs.rpc import channels, journal_pb2, journal_pb2_grpc
from minidfs.rpc.status import translate

PAGE_BYTES = 4 * 1024 * 1024
# A segment is rolled at every checkpoint; anything bigger than this is not one the
# NameNode wrote, and copying it would take the node's memory.
MAX_SEGMENT_BYTES = 512 * 1024 * 1024
PAGE_DEADLINE_S = 30.0


async def fetch_segment(address: str, journal_id: str, segment: Segment) -> bytes:
    chunks: list[bytes] = []
    total = 0
    txid = segment.first_txid
    async with channels.aio_channel(address) as channel:
        stub = journal_pb2_grpc.JournalStub(channel)
        while txid <= segment.last_txid:
            with translate():
                page = await stub.GetSegment(journal_pb2.GetSegmentRequest(
                    journal_id=journal_id, segment_first_txid=segment.first_txid,
                    since_txid=txid, max_bytes=PAGE_BYTES), timeout=PAGE_DEADLINE_S)
            if page.num_txns == 0 or page.first_txid != txid:
                raise PreconditionFailed(
                    f"{address}: holds {page.segment.first_txid}-{page.segment.last_txid}, "
                    f"cannot supply txid {txid} of {segment}")
            total += len(page.records)
            if total > MAX_SEGMENT_BYTES:
                raise PreconditionFailed(f"{segment} exceeds {MAX_SEGMENT_BYTES} bytes")
            chunks.append(page.records)
            txid += page.num_txns
    data = b"".join(chunks)
    if txid - 1 != segment.last_txid:
        raise PreconditionFailed(f"{address}: sent txids up to {txid - 1}, chose {segment}")
    return data
