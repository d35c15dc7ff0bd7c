"""The JournalNode's gRPC servicer: protobuf in, journal storage/core call, protobuf out.

Served by server.py. Every request is validated here or in the core (a malformed one
gets INVALID_ARGUMENT and the node keeps serving). Disk work runs in a worker thread
under the journal's lock, so requests to one journal are applied one at a time, in
order, and nothing is answered before it is fsynced. Lease calls touch no disk.
"""
from __future__ import annotations

import asyncio
import logging
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from minidfs.config import ClusterConfig
from minidfs.errors import InvalidArgument, PreconditionFailed
from minidfs.journalnode.journal_core import check_positive
from minidfs.journalnode.journal_storage import JournalStorage
from minidfs.journalnode.lease_table import LeaseTable
from minidfs.journalnode import peer_fetch
from minidfs.qjournal.segment import Segment, validate_journal_id
from minidfs.rpc import journal_pb2 as pb
from minidfs.rpc import journal_pb2_grpc
from minidfs.rpc.status import rpc_errors

log = logging.getLogger("minidfs.journalnode")

# One JournalNode serves a handful of journals (one per HA name service), never an
# unbounded number a confused client could create.
MAX_JOURNALS = 16
MAX_TXID = 2**63 - 1
MAX_BATCH_TXNS = 1_000_000
DEFAULT_READ_BYTES = 1024 * 1024
MAX_READ_BYTES = 8 * 1024 * 1024


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def check_txid(name: str, value: int) -> int:
    check_positive(name, value)
    if value > MAX_TXID:
        raise InvalidArgument(f"{name} {value} out of range")
    return value


def read_limit(max_bytes: int) -> int:
    return min(max_bytes or DEFAULT_READ_BYTES, MAX_READ_BYTES)


def segment_pb(seg: Segment) -> pb.SegmentState:
    return pb.SegmentState(first_txid=seg.first_txid, last_txid=seg.last_txid,
                           in_progress=seg.in_progress)


@dataclass
class JournalHandle:
    storage: JournalStorage
    lease: LeaseTable
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        async with self.lock:
            return await asyncio.to_thread(fn, *args)


class JournalService(journal_pb2_grpc.JournalServicer):
    def __init__(self, conf: ClusterConfig, name: str, data_dir: pathlib.Path) -> None:
        self.conf = conf
        self.name = name
        self.data_dir = data_dir
        self.journals: dict[str, JournalHandle] = {}

    def load_existing(self) -> None:
        """Opens every journal already on disk (so damage stops start-up, not a request)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.data_dir.iterdir()):
            if path.is_dir() and (path / "current").is_dir():
                self._open(validate_journal_id(path.name))

    def _open(self, journal_id: str) -> JournalHandle:
        if len(self.journals) >= MAX_JOURNALS:
            raise PreconditionFailed(f"{journal_id}: this node already serves {MAX_JOURNALS} journals")
        storage = JournalStorage(self.data_dir / journal_id)
        storage.load()
        handle = self.journals[journal_id] = JournalHandle(storage, LeaseTable(
            now_ms(), startup_hold_ms=int(self.conf.settings.ha_lease_duration_s * 1000)))
        log.info("journal %s: promised epoch %d, segments %s", journal_id,
                 storage.core.promised_epoch, [str(s) for s in storage.core.manifest(1, True)])
        return handle

    def _journal(self, journal_id: str) -> JournalHandle:
        validate_journal_id(journal_id)
        return self.journals.get(journal_id) or self._open(journal_id)

    def peek(self, journal_id: str) -> JournalHandle | None:
        """The journal if this node holds it; a question about one it does not hold
        (a status query, a peer catching up) must not create it."""
        validate_journal_id(journal_id)
        if journal_id in self.journals:
            return self.journals[journal_id]
        if (self.data_dir / journal_id / "current").is_dir():
            return self._open(journal_id)
        return None

    def journal(self, journal_id: str) -> JournalHandle:
        """The journal, created when missing (peer_sync.py adopting its peers' epoch)."""
        return self._journal(journal_id)

    def _writer(self, request: Any) -> tuple[JournalHandle, int, int]:
        """The journal, epoch and committed-txid hint of a writer request."""
        if not request.HasField("info"):
            raise InvalidArgument("request info (journal id, epoch) is missing")
        info = request.info
        handle = self._journal(info.journal_id)
        check_positive("epoch", info.epoch)
        return handle, info.epoch, info.committed_txid

    def formatted(self) -> bool:
        """Holds at least one journal (a NameNode has written to it): /readyz."""
        return bool(self.journals)

    def close(self) -> None:
        for handle in self.journals.values():
            handle.storage.close()

    # ---- epochs and writing ---------------------------------------------------------------

    @rpc_errors
    async def GetJournalState(self, request, context):
        handle = self.peek(request.journal_id)
        if handle is None:
            return pb.GetJournalStateResponse(promised_epoch=0, committed_txid=0)
        core = handle.storage.core
        return pb.GetJournalStateResponse(promised_epoch=core.promised_epoch,
                                          committed_txid=core.committed_txid)

    @rpc_errors
    async def NewEpoch(self, request, context):
        handle = self._journal(request.journal_id)
        last = await handle.run(handle.storage.new_epoch, request.epoch)
        log.info("journal %s: promised epoch %d", request.journal_id, request.epoch)
        return pb.NewEpochResponse(last_segment=segment_pb(last)) if last \
            else pb.NewEpochResponse()

    @rpc_errors
    async def StartLogSegment(self, request, context):
        handle, epoch, _ = self._writer(request)
        check_txid("first_txid", request.first_txid)
        await handle.run(handle.storage.start_segment, epoch, request.first_txid)
        return pb.StartLogSegmentResponse()

    @rpc_errors
    async def Journal(self, request, context):
        handle, epoch, committed = self._writer(request)
        check_txid("segment_first_txid", request.segment_first_txid)
        check_txid("first_txid", request.first_txid)
        if not 0 < request.num_txns <= MAX_BATCH_TXNS or not request.records:
            raise InvalidArgument(f"a batch holds 1..{MAX_BATCH_TXNS} records, "
                                  f"got num_txns {request.num_txns}")
        last = await handle.run(handle.storage.journal, epoch, request.segment_first_txid,
                                request.first_txid, request.num_txns, request.records, committed)
        return pb.JournalResponse(last_txid=last)

    @rpc_errors
    async def FinalizeLogSegment(self, request, context):
        handle, epoch, _ = self._writer(request)
        check_txid("first_txid", request.first_txid)
        await handle.run(handle.storage.finalize, epoch, request.first_txid, request.last_txid)
        return pb.FinalizeLogSegmentResponse()

    @rpc_errors
    async def Purge(self, request, context):
        handle, epoch, committed = self._writer(request)
        check_txid("upto_txid", request.upto_txid)
        count = await handle.run(handle.storage.purge, epoch, request.upto_txid, committed)
        return pb.PurgeResponse(purged_segments=count)

    # ---- reading ----------------------------------------------------------------------

    @rpc_errors
    async def GetEditLogManifest(self, request, context):
        handle = self.peek(request.journal_id)
        if handle is None:
            return pb.GetEditLogManifestResponse(committed_txid=0)
        core = handle.storage.core
        segments = core.manifest(request.since_txid, request.in_progress_ok)
        return pb.GetEditLogManifestResponse(segments=[segment_pb(s) for s in segments],
                                             committed_txid=core.committed_txid)

    @rpc_errors
    async def GetJournaledEdits(self, request, context):
        handle = self._journal(request.journal_id)
        check_txid("since_txid", request.since_txid)
        storage = handle.storage

        def read() -> tuple[int, bytes]:
            found = storage.core.readable(request.since_txid)
            if found is None:
                return 0, b""
            seg, upto = found
            return storage.read(seg, request.since_txid, upto, read_limit(request.max_bytes))

        count, data = await handle.run(read)
        return pb.GetJournaledEditsResponse(first_txid=request.since_txid, num_txns=count,
                                            records=data,
                                            committed_txid=storage.core.committed_txid)

    @rpc_errors
    async def GetSegment(self, request, context):
        handle = self._journal(request.journal_id)
        check_txid("segment_first_txid", request.segment_first_txid)
        check_txid("since_txid", request.since_txid)
        storage = handle.storage

        def read() -> tuple[Segment, int, bytes]:
            seg = storage.core.segments.get(request.segment_first_txid)
            if seg is None:
                raise PreconditionFailed(f"no segment at txid {request.segment_first_txid} here")
            if not seg.first_txid <= request.since_txid <= seg.last_txid + 1:
                raise InvalidArgument(f"txid {request.since_txid} outside {seg}")
            if request.since_txid > seg.last_txid:
                return seg, 0, b""
            return (seg, *storage.read(seg, request.since_txid, seg.last_txid,
                                       read_limit(request.max_bytes)))

        seg, count, data = await handle.run(read)
        return pb.GetSegmentResponse(first_txid=request.since_txid, num_txns=count,
                                     records=data, segment=segment_pb(seg))

    # ---- recovery ---------------------------------------------------------------------

    @rpc_errors
    async def PrepareRecovery(self, request, context):
        handle, epoch, committed = self._writer(request)
        check_txid("segment_first_txid", request.segment_first_txid)

        def prepare():
            handle.storage.admit(epoch)
            handle.storage.core.note_committed(committed)
            return handle.storage.core.prepare(epoch, request.segment_first_txid)

        vote = await handle.run(prepare)
        reply = pb.PrepareRecoveryResponse(segment_epoch=vote.segment_epoch,
                                           committed_txid=vote.committed_txid)
        if vote.segment is not None:
            reply.segment.CopyFrom(segment_pb(vote.segment))
        return reply

    @rpc_errors
    async def AcceptRecovery(self, request, context):
        handle, epoch, committed = self._writer(request)
        if not request.HasField("segment"):
            raise InvalidArgument("the segment to accept is missing")
        proposal = Segment(check_txid("segment first_txid", request.segment.first_txid),
                           request.segment.last_txid, True)
        source = self.conf.nodes.get(request.source_node)
        if source is None or source.kind != "journalnode":
            raise InvalidArgument(f"{request.source_node!r}: not a journal node of this cluster")
        storage = handle.storage
        async with handle.lock:
            def check() -> bool:
                storage.admit(epoch)
                storage.core.note_committed(committed)
                return storage.core.check_accept(epoch, proposal, source.name == self.name)

            must_copy = await asyncio.to_thread(check)
            records = None
            if must_copy:
                records = await peer_fetch.fetch_segment(source.address, request.info.journal_id,
                                                         proposal)
            await asyncio.to_thread(storage.install_recovered, epoch, proposal, records)
        log.info("journal %s: accepted %s from %s in epoch %d", request.info.journal_id,
                 proposal, source.name, epoch)
        return pb.AcceptRecoveryResponse()

    # ---- lease ------------------------------------------------------------------------

    @rpc_errors
    async def RenewLease(self, request, context):
        handle, epoch, committed = self._writer(request)
        async with handle.lock:
            if handle.storage.core.check_epoch(epoch):
                await asyncio.to_thread(handle.storage.promise, epoch)
            handle.lease.renew(epoch, request.holder, request.duration_ms, now_ms())
            # Renewals come every few hundred ms: they keep a tailing standby's view of
            # what is committed fresh even when no edits flow.
            handle.storage.core.note_committed(committed)
        return pb.RenewLeaseResponse()

    @rpc_errors
    async def GetLease(self, request, context):
        handle = self._journal(request.journal_id)
        view = handle.lease.view(now_ms())
        return pb.GetLeaseResponse(holder=view.holder, epoch=view.epoch,
                                   remaining_ms=view.remaining_ms,
                                   promised_epoch=handle.storage.core.promised_epoch)
