"""A JournalNode catching up from its peers: their epoch promise at start, then the
finalized segments it lacks (HDFS's JournalNode sync, HDFS-4025).

Started by server.py. Two jobs:

- **Epochs, before serving** (`adopt_epochs`): a JournalNode that lost its disk also
  lost its promise never to accept an older writer again - the fencing a majority of
  promises gives. Before it answers anyone it asks every peer for its promised epoch
  (GetJournalState, which never creates a journal) and promises the highest one it
  hears, durably. Residual risk, documented in docs/ha.md: if the only other node
  that held the newest promise is unreachable right then, the node starts with an
  older one; a deposed writer still needs a majority, and the writer that made the
  newest promise fences it at its next call.
- **Segments, in the background** (`run`): every journalnode_sync_interval_s, for
  each journal, read each peer's manifest of finalized segments and copy (peer_fetch
  .fetch_segment, checked frame by frame) every one that overlaps nothing this node
  holds and starts at or after the purge point - the earliest txid that every
  answering peer still holds, so segments the writer already purged everywhere else
  are not fetched back. A node that was down or wiped joins the writer's next segment
  by itself (StartLogSegment); this fills the history before it.
"""
from __future__ import annotations

import asyncio
import logging

import grpc

from minidfs.config import ClusterConfig
from minidfs.errors import MinidfsError
from minidfs.journalnode import peer_fetch
from minidfs.qjournal.segment import DEFAULT_JOURNAL_ID, Segment
from minidfs.rpc import channels, journal_pb2 as pb, journal_pb2_grpc

log = logging.getLogger("minidfs.journalnode.sync")

PEER_DEADLINE_S = 2.0
# Segments copied per journal per round: a node far behind catches up over a few
# rounds instead of holding a peer's disk for minutes.
MAX_SEGMENTS_PER_ROUND = 32


class PeerSync:
    def __init__(self, service, conf: ClusterConfig, name: str) -> None:
        self.service = service
        self.name = name
        self.interval_s = conf.settings.journalnode_sync_interval_s
        self.peers = [(n.name, n.address) for n in conf.journalnodes if n.name != name]
        self.copied_segments = 0

    async def _ask(self, address: str, method: str, request):
        async with channels.aio_channel(address) as channel:
            return await getattr(journal_pb2_grpc.JournalStub(channel), method)(
                request, timeout=PEER_DEADLINE_S)

    def _journal_ids(self) -> list[str]:
        return sorted(set(self.service.journals) | {DEFAULT_JOURNAL_ID})

    async def adopt_epochs(self) -> None:
        for journal_id in self._journal_ids():
            highest, heard = 0, []
            for peer, address in self.peers:
                try:
                    state = await self._ask(address, "GetJournalState",
                                            pb.GetJournalStateRequest(journal_id=journal_id))
                except grpc.RpcError:
                    continue
                heard.append(peer)
                highest = max(highest, state.promised_epoch)
            handle = self.service.peek(journal_id)
            mine = handle.storage.core.promised_epoch if handle is not None else 0
            if highest <= mine:
                continue
            handle = handle or self.service.journal(journal_id)
            await handle.run(handle.storage.promise, highest)
            log.warning("%s: journal %s: promised epoch %d as its peers (%s) did, up from %d "
                        "(lost or stale disk)", self.name, journal_id, highest,
                        ", ".join(heard), mine)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            for journal_id in self._journal_ids():
                try:
                    await self.sync_once(journal_id)
                except (grpc.RpcError, MinidfsError, OSError) as e:
                    log.warning("%s: journal %s: catching up from peers failed: %s",
                                self.name, journal_id, e)

    async def sync_once(self, journal_id: str) -> int:
        """Copies the missing finalized segments of one journal; how many it copied."""
        manifests: dict[str, list[Segment]] = {}
        for peer, address in self.peers:
            try:
                reply = await self._ask(address, "GetEditLogManifest", pb.GetEditLogManifestRequest(
                    journal_id=journal_id, since_txid=1, in_progress_ok=False))
            except grpc.RpcError:
                continue
            manifests[address] = [Segment(s.first_txid, s.last_txid, False)
                                  for s in reply.segments if s.last_txid >= s.first_txid]
        held = [segs for segs in manifests.values() if segs]
        if not held:
            return 0
        handle = self.service.peek(journal_id)
        if handle is None:
            # Peers hold history this node never had (a lost disk): it is one of them.
            handle = self.service.journal(journal_id)
        purge_point = max(segs[0].first_txid for segs in held)
        copied = 0
        for address, segments in manifests.items():
            for seg in segments:
                if copied >= MAX_SEGMENTS_PER_ROUND:
                    return copied
                if seg.first_txid < purge_point or _overlaps(handle.storage.core.segments, seg):
                    continue
                records = await peer_fetch.fetch_segment(address, journal_id, seg)
                if await handle.run(handle.storage.install_finalized, seg, records):
                    copied += 1
                    self.copied_segments += 1
                    log.info("%s: journal %s: copied %s from %s", self.name, journal_id, seg,
                             address)
        return copied


def _overlaps(segments: dict[int, Segment], seg: Segment) -> bool:
    # An empty segment (just started) still claims its first txid.
    return seg.first_txid in segments or any(
        not (s.last_txid < seg.first_txid or s.first_txid > seg.last_txid)
        for s in segments.values() if not s.empty)
