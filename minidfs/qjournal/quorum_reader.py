"""Reading the quorum journal without writing it: a standby's tailer and lease watcher.

QuorumReader is what a standby NameNode holds: `read_edits(from_txid)` yields the
committed edits the JournalNodes have (finalized segments, and the committed part
of the in-progress one), `lease_views()` / `lease_lapsed()` tell when the active's
lease has lapsed on a majority. quorum_journal.QuorumJournal (the writer) extends it.

Only committed edits are ever served by a JournalNode, so any one node's answer is
safe to apply; each page is asked of every node and the longest answer is taken,
so a lagging or dead node does not hold the tailer back.
"""
from __future__ import annotations

import asyncio
from typing import Any, Iterator, Sequence

from minidfs.errors import MinidfsError, Unavailable
from minidfs.journalnode import frames
from minidfs.journalnode.lease_table import LeaseView
from minidfs.qjournal.io_loop import IoLoop
from minidfs.qjournal.jn_channel import JournalNodeChannel
from minidfs.qjournal.lease import lapsed_on_majority
from minidfs.qjournal.segment import DEFAULT_JOURNAL_ID, validate_journal_id
from minidfs.rpc import journal_pb2 as pb

READ_DEADLINE_S = 10.0
READ_PAGE_BYTES = 1024 * 1024
LEASE_DEADLINE_S = 2.0


class QuorumReader:
    def __init__(self, nodes: Sequence[tuple[str, str]],
                 journal_id: str = DEFAULT_JOURNAL_ID) -> None:
        """nodes: (name, host:port) of every JournalNode in cluster.toml."""
        if not nodes:
            raise MinidfsError("no journal nodes configured")
        self.journal_id = validate_journal_id(journal_id)
        self.nodes = [JournalNodeChannel(name, address) for name, address in nodes]
        self.io = IoLoop(f"qjournal-{journal_id}")
        # Newest committed txid any JournalNode reported while we read: how far a
        # tailing standby could get (it is in sync when it applied this much).
        self.committed_txid = 0

    # ---- reading ------------------------------------------------------------------

    async def _read_page(self, since_txid: int) -> tuple[str, pb.GetJournaledEditsResponse]:
        request = pb.GetJournaledEditsRequest(journal_id=self.journal_id,
                                              since_txid=since_txid, max_bytes=READ_PAGE_BYTES)
        results = await asyncio.gather(
            *(node.call("GetJournaledEdits", request, READ_DEADLINE_S) for node in self.nodes),
            return_exceptions=True)
        answers = [(node.name, r) for node, r in zip(self.nodes, results)
                   if not isinstance(r, BaseException)]
        if not answers:
            errors = "; ".join(f"{n.name}: {r}" for n, r in zip(self.nodes, results))
            raise Unavailable(f"journal unreadable: no journal node answered ({errors})")
        self.committed_txid = max(self.committed_txid,
                                  max(a[1].committed_txid for a in answers))
        return max(answers, key=lambda a: a[1].num_txns)

    def read_edits(self, from_txid: int,
                   upto_txid: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yields (txid, record) from from_txid on, in order, without gaps, until the
        journal nodes have no more committed edits (or upto_txid). Blocking: a NameNode
        calls it at start-up or from its tailing thread, never on its event loop."""
        txid = from_txid
        while upto_txid is None or txid <= upto_txid:
            node, page = self.io.run_blocking(self._read_page(txid))
            if page.num_txns == 0:
                return
            yield from frames.decode_batch(page.records, txid, page.num_txns,
                                           f"edits from {node}")
            txid += page.num_txns

    # ---- lease ----------------------------------------------------------------------

    async def _lease_views(self) -> list[LeaseView]:
        request = pb.GetLeaseRequest(journal_id=self.journal_id)
        results = await asyncio.gather(
            *(node.call("GetLease", request, LEASE_DEADLINE_S) for node in self.nodes),
            return_exceptions=True)
        return [LeaseView(r.holder, r.epoch, r.remaining_ms)
                for r in results if not isinstance(r, BaseException)]

    async def lease_views(self) -> list[LeaseView]:
        """What every answering JournalNode knows of the active's lease."""
        return await self.io.run(self._lease_views())

    async def lease_lapsed(self) -> bool:
        """True when the active's lease has lapsed on a majority: time to take over."""
        return lapsed_on_majority(await self.lease_views(), len(self.nodes))

    # ---- shutdown -------------------------------------------------------------------

    async def _close_channels(self) -> None:
        for node in self.nodes:
            await node.close()

    def shutdown(self) -> None:
        """Closes the channels and stops the journal's loop. Blocking; idempotent."""
        if not self.io.loop.is_closed():
            self.io.run_blocking(self._close_channels())
            self.io.stop()
