"""The HA controller: tails the journal as a standby, fails over, renews the lease, steps down.

Started by server.py when `ha = true` (instead of `Namesystem.start`); it owns the
NameNode's role (`fs.ha`, ha_state.py) and swaps the namesystem's journal. One task
runs the life cycle (docs/ha.md):

- **Standby** (IdleSecondary, then ActiveSecondary once caught up): load the newest
  local image, then every ha_tail_interval_s read the committed edits after it from
  the JournalNodes (QuorumReader, in a worker thread so the event loop keeps serving
  DataNode reports) and apply them. The namesystem's ticker still runs: liveness,
  safe mode and checkpoints of the standby's own image; no replication work.
- **Failover**: every LEASE_CHECKS_PER_LEASE-th of a lease, look at the active's lease
  on the JournalNodes. Lapsed on a majority: take a new epoch (QuorumJournal.recover,
  which recovers the unfinished segment), apply the edits up to the last committed
  one, open a segment, take the lease, drop commands the standby's block map queued
  and become active (Primary). A race lost to the other NameNode (JournalFenced)
  leaves this one standby.
- **Active**: renew the lease every third of it. Step down when the lease may have
  lapsed, when a JournalNode reports a newer epoch (fenced), or on a graceful
  hand-over (TransitionToStandby). A failed journal (quorum lost) refuses writes at
  once and keeps serving reads until the lease runs out. Stepping down forgets the
  in-memory namespace (it may hold edits that never committed) and rebuilds it from
  the local image and the JournalNodes' history, as a standby.
- **Observer** (docs/observers.md): tails as a standby but never takes over
  (ha_state.may_take_over). A read waiting for a txid (state_guard.py) wakes the
  tailer at once (`wait_applied`) instead of waiting out the tail interval. With
  observers configured the active tells the JournalNodes its committed txid within
  COMMIT_NOTICE_INTERVAL_S of each sync (a lease renewal carries it), since they
  serve tailers only edits they know are committed.
- **Journal trimming**: the active purges only segments that both its own older
  image and the other NameNode's newest checkpoint (asked every PEER_POLL_INTERVAL_S)
  cover, so a standby never finds a gap after its image.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, Iterator

import grpc

from minidfs import errors
from minidfs.config import ClusterConfig, NodeConfig
from minidfs.namenode.journal import Journal, JournalError
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.qjournal.lease import current_holder, lapsed_on_majority, last_holder
from minidfs.qjournal.quorum_journal import QuorumJournal
from minidfs.qjournal.quorum_reader import QuorumReader
from minidfs.rpc import channels, client_namenode_pb2, client_namenode_pb2_grpc

log = logging.getLogger("minidfs.namenode.ha")

TAIL_PAGE_RECORDS = 10_000          # edits applied per tailing step (the loop stays responsive)
LEASE_CHECKS_PER_LEASE = 6          # a standby looks at the lease this often per duration
LEASE_RENEWALS_PER_LEASE = 3        # an active renews this often per duration
LAPSE_MARGIN_MS = 30                # a standby looks this long after the lease should lapse
HANDOVER_HOLD_LEASES = 2            # after a graceful hand-over, let the other NameNode win
TAKEOVER_STAGGER_S = 0.5            # cold start: per place in cluster.toml, nn2 tries after nn1
PEER_POLL_INTERVAL_S = 5.0
PEER_DEADLINE_S = 2.0
RETIRED_JOURNAL_LINGER_S = 25.0     # > the journal's write deadline: in-flight flushes end
UNREADABLE_LOG_EVERY = 50           # log every n-th failed tail while the journal is unreadable
# With observers: the active sends a committed-txid notice this soon after a sync
# (JournalNodes learn it only from the writer's next call), and a read waiting on
# an observer looks again at least this often.
COMMIT_NOTICE_INTERVAL_S = 0.03
APPLIED_RECHECK_S = 0.05


def journal_nodes(conf: ClusterConfig, node: NodeConfig) -> list[tuple[str, str]]:
    """(name, address) of every JournalNode as this NameNode reaches them. A node's
    `journal_addresses` (a list in cluster.toml's order of journalnodes) overrides
    the addresses, e.g. to go through a proxy a test can cut."""
    jns = conf.journalnodes
    if not jns:
        raise errors.ConfigError("ha = true needs journalnode entries in cluster.toml")
    override = node.extra.get("journal_addresses")
    if override is None:
        return [(jn.name, jn.address) for jn in jns]
    if not isinstance(override, list) or len(override) != len(jns):
        raise errors.ConfigError(f"nodes.{node.name}.journal_addresses: must list "
                                 f"{len(jns)} host:port addresses, one per journalnode")
    return [(jn.name, str(address)) for jn, address in zip(jns, override)]


class StandbyJournal(Journal):
    """The namesystem's journal while this NameNode is a standby: nothing may be written."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _refuse(self) -> errors.StandbyError:
        return errors.StandbyError(f"{self.name}: standby namenode; try the other namenode")

    def recover(self) -> int:
        raise self._refuse()

    def read_edits(self, from_txid: int) -> Iterator[tuple[int, dict[str, Any]]]:
        raise self._refuse()

    async def open(self, last_applied_txid: int) -> None:
        raise self._refuse()

    def append(self, txid: int, frame: bytes) -> None:
        raise self._refuse()

    async def sync(self, txid: int) -> None:
        raise self._refuse()

    async def roll(self) -> None:
        raise self._refuse()

    def purge(self, upto_txid: int) -> None:
        raise self._refuse()

    async def close(self) -> None:
        return None

    @property
    def last_txid(self) -> int:
        return 0

    @property
    def synced_txid(self) -> int:
        return 0


def _read_page(reader: QuorumReader, from_txid: int, upto_txid: int | None) -> list:
    """Up to TAIL_PAGE_RECORDS committed edits; blocking (run in a worker thread)."""
    return list(itertools.islice(reader.read_edits(from_txid, upto_txid), TAIL_PAGE_RECORDS))


class HaController:
    def __init__(self, fs: Namesystem, conf: ClusterConfig, node: NodeConfig) -> None:
        self.fs = fs
        self.ha = fs.ha
        self.name = node.name
        self.nodes = journal_nodes(conf, node)
        names = [n.name for n in conf.namenodes]
        self.stagger_s = names.index(node.name) * TAKEOVER_STAGGER_S
        self.peers = [n.address for n in conf.namenodes if n.name != node.name]
        self.lease_ms = max(1, int(conf.settings.ha_lease_duration_s * 1000))
        self.tail_interval_s = conf.settings.ha_tail_interval_s
        self.reader = QuorumReader(self.nodes)
        self.journal: QuorumJournal | None = None
        self.lease_holder = ""
        self.lease_remaining_ms = 0
        self._handover = asyncio.Event()
        self._handover_done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unreadable = 0
        self.has_observers = bool(conf.observers)
        self._tail_now = asyncio.Event()       # a read is waiting: tail at once
        self._applied_news = asyncio.Event()   # set (and replaced) when edits were applied

    # ---- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Loads the local image and starts as a standby."""
        self.fs.journal = StandbyJournal(self.name)
        image_txid = self.fs.load_image()
        log.info("standby %s: image txid %d, tailing the journal on %s", self.name, image_txid,
                 ", ".join(f"{n}={a}" for n, a in self.nodes))
        self.fs.start_ticking()
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def task(self) -> asyncio.Task[None]:
        assert self._task is not None
        return self._task

    async def stop(self) -> None:
        """Graceful stop: an active checkpoints, finalizes its segment and releases its
        lease (the standby takes over at once); a standby checkpoints its image."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.fs.stop_ticking()
        journal, self.journal = self.journal, None
        try:
            if self.fs.txid > self.fs.checkpoint_txid and not self.ha.writes_failed:
                await self.fs.checkpoint()
        except errors.MinidfsError as e:
            log.warning("no checkpoint at stop: %s", e)
        finally:
            self.ha.stepped_down("stopping", mono_ms())
            if journal is not None:
                try:
                    await journal.close(release_lease=True)
                except errors.MinidfsError as e:
                    log.warning("journal not closed cleanly: %s", e)
            await asyncio.get_running_loop().run_in_executor(None, self.reader.shutdown)

    async def _run(self) -> None:
        while True:
            if self.ha.active:
                await self._serve_active()
            else:
                await self._serve_standby()

    # ---- standby ----------------------------------------------------------------------

    async def _serve_standby(self) -> None:
        next_check_ms = 0
        check_every_ms = max(1, self.lease_ms // LEASE_CHECKS_PER_LEASE)
        while not self.ha.active:
            more = await self._tail()
            now = mono_ms()
            if now >= next_check_ms:
                if await self._lease_lapsed(now):
                    await self._take_over()
                    continue
                # Look again right when the lease would lapse if the active died now,
                # not up to a whole check interval later: that wait was a fixed part
                # of every failover.
                # (Nothing held: the usual interval, a lapse we may not take yet is no hurry.)
                remaining = self.lease_remaining_ms
                next_check_ms = mono_ms() + (min(check_every_ms, remaining + LAPSE_MARGIN_MS)
                                             if remaining else check_every_ms)
            if not more:
                wait_s = max(0.0, min(self.tail_interval_s, (next_check_ms - mono_ms()) / 1000))
                await self._wait_any(wait_s, self._tail_now)
                self._tail_now.clear()

    async def _tail(self) -> bool:
        """Applies the next page of committed edits; True when more are waiting."""
        loop = asyncio.get_running_loop()
        try:
            page = await loop.run_in_executor(None, _read_page, self.reader, self.fs.txid + 1, None)
        except errors.Unavailable as e:
            self._unreadable += 1
            if self._unreadable % UNREADABLE_LOG_EVERY == 1:
                log.warning("standby %s: journal unreadable: %s", self.name, e)
            self.ha.tailed(False, self.reader.committed_txid)
            return False
        self._unreadable = 0
        for txid, record in page:
            self.fs.apply_logged(txid, record)
        if page:
            news, self._applied_news = self._applied_news, asyncio.Event()
            news.set()
        committed = self.reader.committed_txid
        more = len(page) == TAIL_PAGE_RECORDS
        self.ha.tailed(not more and self.fs.txid >= committed, committed)
        return more

    async def _lease_lapsed(self, now_ms: int) -> bool:
        views = await self.reader.lease_views()
        holder = current_holder(views)
        self.lease_holder = holder.holder if holder else ""
        self.lease_remaining_ms = holder.remaining_ms if holder else 0
        for view in views:
            self.ha.saw_epoch(view.epoch)
        if not self.ha.may_take_over(now_ms) or not lapsed_on_majority(views, len(self.nodes)):
            return False
        wait_s = self._takeover_wait_s(last_holder(views))
        if wait_s:
            await asyncio.sleep(wait_s)
            return lapsed_on_majority(await self.reader.lease_views(), len(self.nodes))
        return True

    def _takeover_wait_s(self, last: str) -> float:
        """How long to let another NameNode go first when the lease lapsed, so two
        standbys seeing the same lapse do not both take over (epochs would fence
        the loser, but at the cost of a second take-over). The usual failover (the
        other NameNode held the lease and died) waits for nothing."""
        if not last:
            return self.stagger_s       # cold start: the order of cluster.toml
        if last == self.name:
            return TAKEOVER_STAGGER_S   # my own lease lapsed (paused, stepped down): the other first
        return 0.0

    async def _take_over(self) -> None:
        loop = asyncio.get_running_loop()
        started_ms = mono_ms()
        journal = QuorumJournal(self.nodes, writer=self.name)
        try:
            last = await loop.run_in_executor(None, journal.recover)
            log.info("%s: epoch %d taken, recovering up to txid %d (applied %d)",
                     self.name, journal.epoch, last, self.fs.txid)
            while self.fs.txid < last:
                page = await loop.run_in_executor(None, _read_page, journal,
                                                  self.fs.txid + 1, last)
                for txid, record in page:
                    self.fs.apply_logged(txid, record)
            await journal.open(self.fs.txid)
            if not await journal.renew_lease(self.lease_ms):
                raise JournalError("the lease could not be taken on a majority")
        except (errors.MinidfsError, OSError) as e:
            log.warning("%s: take-over failed, staying standby: %s", self.name, e)
            await loop.run_in_executor(None, journal.shutdown)
            return
        self._drop_standby_commands()
        # A standby's lease clocks started when it applied each file's edits, and
        # writers' renewals went to the old active: renew all, so a file being
        # written is not recovered the moment this NameNode takes over.
        self.fs.leases.renew_all(mono_ms())
        self.journal = journal
        journal.purge_limit = 0  # until the other NameNode tells its checkpoint
        self.fs.journal = journal
        self.fs.failed.clear()
        self.ha.became_active(journal.epoch, journal.lease.valid_until_ms)
        self.fs.update_safemode()
        log.warning("%s is now active (Primary) in epoch %d at txid %d, %d ms after the "
                    "lease lapsed was seen", self.name, journal.epoch, self.fs.txid,
                    mono_ms() - started_ms)

    def _drop_standby_commands(self) -> None:
        """Commands a standby's block map queued (e.g. DELETE of a block it had not yet
        read about) were never meant to be carried out."""
        bm = self.fs.bm
        for name in list(self.fs.registry.nodes):
            while bm.take_commands(name):
                pass

    # ---- active -----------------------------------------------------------------------

    async def _serve_active(self) -> None:
        journal = self.journal
        assert journal is not None
        renew_every_s = self.lease_ms / LEASE_RENEWALS_PER_LEASE / 1000
        next_peer_poll_ms = 0
        hinted = 0     # the committed txid the last renewal told the JournalNodes
        while True:
            await self._wait_for_renewal(journal, renew_every_s, hinted)
            if self._handover.is_set():
                await self._step_down("graceful hand-over", graceful=True)
                return
            if isinstance(journal.failure, errors.FencedError):
                await self._step_down(f"fenced: {journal.failure}")
                return
            if self.fs.failed.is_set() or journal.failure is not None:
                # Writes are refused from now on; reads go on until the lease may lapse.
                self.ha.journal_failed()
            else:
                try:
                    hinted = journal.synced_txid
                    await journal.renew_lease(self.lease_ms)
                    self.ha.lease_renewed(journal.lease.valid_until_ms)
                except errors.FencedError as e:
                    await self._step_down(f"fenced: {e}")
                    return
                except JournalError as e:
                    log.warning("%s: lease renewal failed: %s", self.name, e)
            now = mono_ms()
            if self.ha.lease_lost(now):
                await self._step_down("journal lease lapsed")
                return
            if now >= next_peer_poll_ms:
                next_peer_poll_ms = now + int(PEER_POLL_INTERVAL_S * 1000)
                await self._update_purge_limit(journal)

    async def _wait_for_renewal(self, journal: QuorumJournal, renew_every_s: float,
                                hinted: int) -> None:
        """Until the next renewal is due (or a failure, a hand-over). With observers a
        renewal is also due soon after a sync past `hinted`: it tells the JournalNodes
        the new committed txid, which observers wait for to serve reads-after-writes."""
        if not self.has_observers:
            await self._wait_any(renew_every_s, self.fs.failed, self._handover)
            return
        due = asyncio.get_running_loop().time() + renew_every_s
        while True:
            left = due - asyncio.get_running_loop().time()
            if left <= 0 or self.fs.failed.is_set() or self._handover.is_set():
                return
            if journal.synced_txid > hinted:
                return
            await self._wait_any(min(left, COMMIT_NOTICE_INTERVAL_S), self.fs.failed, self._handover)

    async def wait_applied(self, txid: int, timeout_s: float) -> bool:
        """An observer's read waiting for txid: True once applied, False after timeout_s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.fs.txid < txid:
            left = deadline - loop.time()
            if left <= 0:
                return False
            self._tail_now.set()
            await self._wait_any(min(left, APPLIED_RECHECK_S), self._applied_news)
        return True

    @staticmethod
    async def _wait_any(timeout_s: float, *events: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _update_purge_limit(self, journal: QuorumJournal) -> None:
        limits = []
        for address in self.peers:
            status = await peer_status(address)
            if status is None:
                return  # unknown: keep the last limit
            limits.append(status.checkpoint_txid)
        journal.purge_limit = min(limits, default=None)

    async def _step_down(self, reason: str, graceful: bool = False) -> None:
        now = mono_ms()
        log.warning("%s steps down to standby: %s", self.name, reason)
        hold_ms = HANDOVER_HOLD_LEASES * self.lease_ms if graceful else 0
        self.ha.stepped_down(reason, now, hold_ms)   # the guard refuses clients from here
        journal, self.journal = self.journal, None
        await self.fs.stop_ticking()
        self.fs.journal = StandbyJournal(self.name)
        if journal is not None:
            if graceful:
                try:
                    await journal.close(release_lease=True)
                except errors.MinidfsError as e:
                    log.warning("%s: hand-over close failed: %s", self.name, e)
            else:
                journal.abandon(reason)
                loop = asyncio.get_running_loop()
                loop.call_later(RETIRED_JOURNAL_LINGER_S,
                                lambda: loop.run_in_executor(None, journal.shutdown))
        # Memory may hold edits that never committed: rebuild from image + journal.
        cached = self.fs.retry_cache
        self.fs.reset()
        self.fs.failed.clear()
        image_txid = self.fs.load_image()
        # Tailing refills the retry cache from the edits after the image; the calls the
        # image covers are committed (an image follows a synced roll) and would be lost.
        self.fs.retry_cache.restore(cached.entries_upto(image_txid))
        self.fs.start_ticking()
        self._handover.clear()
        self._handover_done.set()

    # ---- requests ----------------------------------------------------------------------

    async def hand_over(self) -> None:
        """TransitionToStandby: returns once this NameNode is a standby."""
        if not self.ha.active:
            raise errors.PreconditionFailed(f"{self.name}: not active, nothing to hand over")
        self._handover_done.clear()
        self._handover.set()
        await self._handover_done.wait()

    def status(self) -> dict[str, Any]:
        fs, ha = self.fs, self.ha
        committed = self.journal.synced_txid if self.journal is not None else ha.journal_committed_txid
        return {
            "name": self.name, "ha": True, "role": ha.role, "state": ha.word,
            "epoch": ha.epoch, "last_txid": fs.txid, "journal_committed_txid": committed,
            "checkpoint_txid": fs.checkpoint_txid, "safe_mode": fs.safemode.on,
            "lease_holder": self.name if ha.active else self.lease_holder,
            "lease_remaining_ms": (max(0, ha.lease_valid_until_ms - mono_ms()) if ha.active
                                   else self.lease_remaining_ms),
        }


async def peer_status(address: str) -> client_namenode_pb2.HaStatus | None:
    """The other NameNode's HaStatus, None when it does not answer in time."""
    channel = channels.aio_channel(address)
    try:
        stub = client_namenode_pb2_grpc.ClientNamenodeStub(channel)
        return await stub.GetHaStatus(client_namenode_pb2.GetHaStatusRequest(),
                                      timeout=PEER_DEADLINE_S)
    except grpc.RpcError:
        return None
    finally:
        await channel.close()
