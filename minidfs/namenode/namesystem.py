"""The NameNode's async glue: the pure cores, the journal, the clock, checkpoints.

Owns the namespace, block manager, DataNode registry, leases and safe mode, and
the journal and checkpoint images. The servicers call one method per RPC (plain
Python values in, views.py values out). A mutation validates against the pure
core (which raises minidfs.errors), applies the resulting edit records, appends
them to the journal and awaits `journal.sync` before returning, so an edit is
durable before the client hears back; concurrent edits share one fsync. This is
the only NameNode code that reads the clock: wall time for mtimes, monotonic time
for liveness, leases and timers. A background task ticks the cores every
TICK_INTERVAL_S and checkpoints when due.

HA: `ha` (ha_state.py) says whether this NameNode is active; a standby schedules no
replication or lease recovery and neither rolls nor purges the journal. The HA
controller (ha_controller.py) drives it through load_image / apply_logged /
start_ticking / reset instead of start. Mutations tagged with a client's rpc id are
answered from the retry cache (retry_cache.py) when they were already applied.
"""
from __future__ import annotations

import asyncio
import logging
import pathlib
import time
from typing import Callable

from minidfs import memory
from minidfs.config import Settings
from minidfs.namenode import checkpoint, editlog_format, heap, image_writer, loop_slices
from minidfs.namenode.block_manager import BlockManager
from minidfs.namenode.datanode_registry import DatanodeRegistry
from minidfs.errors import EditNotDurable, StandbyError
from minidfs.event_feed import EventFeed
from minidfs.namenode.edits import RPC, Record
from minidfs.namenode.file_journal import FileJournal
from minidfs.namenode.ha_state import HaState
from minidfs.namenode.inode import INodeFile
from minidfs.namenode.journal import Journal, JournalError
from minidfs.namenode.lease_recovery import LeaseRecovery
from minidfs.namenode.leases import LeaseManager
from minidfs.namenode import namespace
from minidfs.namenode.namespace import Namespace
from minidfs.namenode.retry_cache import RetryCache, RpcKey
from minidfs.namenode.safemode import SafeMode
from minidfs.namenode.trash_emptier import TrashEmptier
from minidfs.namenode.user_groups import UserGroups
from minidfs.namenode.views import StatsView

log = logging.getLogger("minidfs.namenode")

TICK_INTERVAL_S = 0.5
# A tick this late means the NameNode was not running (SIGSTOP, a stalled host):
# writers' renewals may be queued unread, so leases get a fresh period before any
# is judged expired - else a paused NameNode would, on waking, recover (and cut
# short) files whose writers were alive all along.
PAUSED_TICK_GAP_MS = int(4 * TICK_INTERVAL_S * 1000)
MAX_LEASE_RECOVERIES_PER_TICK = 100


def wall_ms() -> int:
    return int(time.time() * 1000)


def mono_ms() -> int:
    return int(time.monotonic() * 1000)


class Namesystem:
    def __init__(self, settings: Settings, data_dir: pathlib.Path,
                 journal: Journal | None = None, ha: HaState | None = None,
                 groups: dict[str, list[str]] | None = None, freeze_heap: bool = False) -> None:
        self.settings = settings
        # The daemon's namesystem (the only one in its process) freezes what it
        # loads out of the cyclic GC's sight (heap.py); tests sharing a process don't.
        self.freeze_heap = freeze_heap
        current = pathlib.Path(data_dir) / "current"
        self.images = checkpoint.ImageStore(current)
        self.journal = journal or FileJournal(current)
        # Without HA: always active. With HA the controller (ha_controller.py) sets it.
        self.ha = ha or HaState("namenode", enabled=False)
        # Outlives reset(): a step-down rebuilds the cores, not the history of events.
        self.events = EventFeed(self.ha.name)
        self.ha.emit = self.events.emit
        # Superusers and groups (permissions); `groups` is cluster.toml's [groups].
        self.users = UserGroups(groups or {}, settings.superusergroup,
                                enabled=settings.permissions_enabled)
        self.failed = asyncio.Event()
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        # Set (and replaced) whenever DataNodes report replicas, so a Complete waiting
        # for its last block's first finalized replica wakes at once (client_ops.py).
        self._replica_news = asyncio.Event()
        # `admin set-bandwidth` (balancer_ops.py): sent to DataNodes on heartbeat
        # replies; 0 = none set, each DataNode keeps balance_bandwidth_bytes_per_s.
        self.balance_bandwidth_bytes_per_s = 0
        self.trash_emptier = TrashEmptier(self)
        self.reset()

    def reset(self) -> None:
        """Empty cores, before loading; again when an HA NameNode steps down, since its
        memory may hold edits that never committed: it reloads from image + journal."""
        settings = self.settings
        if self.freeze_heap and getattr(self, "ns", None) is not None:
            heap.release_loaded()   # the frozen namespace being dropped must be collectable
        self.ns = self._empty_namespace()
        emit = self.events.emit
        self.registry = DatanodeRegistry(int(settings.dead_node_interval_s * 1000), emit)
        self.bm = BlockManager(self.registry, settings.replication_streams_per_node, emit)
        self.leases = LeaseManager(int(settings.lease_soft_limit_s * 1000),
                                   int(settings.lease_hard_limit_s * 1000))
        self.safemode = SafeMode(settings.safemode_threshold,
                                 int(settings.safemode_extension_s * 1000), emit)
        self.retry_cache = RetryCache()
        self.lease_recovery = LeaseRecovery()
        self.txid = 0
        self._checkpoint_txid = 0
        self._checkpoint_mono_ms = 0
        self._bulk_frees_released = 0     # bm.bulk_frees already followed by a trim

    def replicas_reported(self) -> None:
        news, self._replica_news = self._replica_news, asyncio.Event()
        news.set()

    async def replica_news(self, timeout_s: float) -> None:
        """Returns when DataNodes next report replicas, or after timeout_s."""
        try:
            await asyncio.wait_for(self._replica_news.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Loads the newest checkpoint, replays the log after it, opens the journal.
        Raises EditLogCorrupt when anything but a torn tail is damaged."""
        self.failed = asyncio.Event()
        started_ms = mono_ms()
        image_txid = self.load_image()
        image_ms = mono_ms() - started_ms
        self.journal.recover()
        with heap.collector_paused():
            for txid, record in self.journal.read_edits(image_txid + 1):
                self.apply_logged(txid, record)
        await self.journal.open(self.txid)
        self.events.emit("safemode_entered", reason="start-up: waiting for block reports")
        self.update_safemode()
        log.info("namespace loaded: image txid %d (%d ms), last txid %d (%d ms in all), "
                 "%d files, %d blocks", image_txid, image_ms, self.txid,
                 mono_ms() - started_ms, self.ns.files, len(self.bm.blocks))
        self.start_ticking()

    def load_image(self) -> int:
        """Installs the newest checkpoint image (if any); returns its txid. Loaded
        with the cyclic GC paused, then frozen out of its sight (heap.py)."""
        if self.freeze_heap:
            heap.collect_before_load()
        with heap.collector_paused():
            ns, image_txid = self.images.load_newest(self.users.superuser, self.users.supergroup)
            self._install(ns)
        if self.freeze_heap:
            heap.freeze_loaded()
        # Decoding the image made transient objects as large as the namespace.
        memory.release_free_memory()
        self.txid = self._checkpoint_txid = image_txid
        self._checkpoint_mono_ms = mono_ms()
        return image_txid

    def _empty_namespace(self) -> Namespace:
        return Namespace(owner=self.users.superuser, group=self.users.supergroup)

    def apply_logged(self, txid: int, record: Record) -> None:
        """Applies one edit read back from the journal (replay, or a standby tailing)."""
        self._apply(record)
        self.txid = txid

    @property
    def checkpoint_txid(self) -> int:
        """Txid of the newest checkpoint image taken or loaded."""
        return self._checkpoint_txid

    def start_ticking(self) -> None:
        if self._tick_task is None or self._tick_task.done():
            self._tick_task = asyncio.get_running_loop().create_task(self._ticker())

    async def stop_ticking(self) -> None:
        """Stops the ticker and waits for a running checkpoint (HA step-down, stop)."""
        if self._tick_task is not None:
            self._tick_task.cancel()
            await asyncio.gather(self._tick_task, return_exceptions=True)
        if self._checkpoint_task is not None:
            await asyncio.gather(self._checkpoint_task, return_exceptions=True)

    async def stop(self) -> None:
        """Graceful stop: a final checkpoint, then the journal is finalized."""
        await self.stop_ticking()
        try:
            if not self.failed.is_set() and self.txid > self._checkpoint_txid:
                await self.checkpoint()
        finally:
            await self.journal.close()

    def _install(self, ns: Namespace) -> None:
        self.ns = ns
        self.registry.excluded = ns.excluded_datanodes   # the same set: replay keeps it current
        # Every known node too: a NameNode stepping down rebuilds its namespace, which
        # may lack an exclusion it had applied but never committed.
        for name in sorted(set(self.registry.nodes) | ns.excluded_datanodes):
            self._excluded_changed(name)
        now = mono_ms()
        for node in ns.walk():
            if isinstance(node, INodeFile):
                for block in node.blocks:
                    self.bm.add_block(block)
                if node.client is not None:
                    self.leases.add(node.client, node, now)

    # ------------------------------------------------------------ edit path

    def _apply(self, record: Record, durable: bool = True) -> None:
        fx = self.ns.apply(record)
        for block in fx.removed:
            self.bm.remove_block(block, 0 if durable else record["txid"])
        for block in fx.added:
            self.bm.add_block(block)
        for block in fx.bumped:
            self.bm.genstamp_bumped(block)
        for block in fx.recheck:
            self.bm.recheck(block)
        for name in fx.datanodes:
            self._excluded_changed(name)
        if fx.closed or fx.opened:
            now = mono_ms()
            for holder, file in fx.closed:
                self.leases.remove(holder, file)
            for holder, file in fx.opened:
                self.leases.add(holder, file, now)
        rpc = record.get(RPC)
        if rpc is not None:
            self.retry_cache.record((rpc[0], rpc[1]), record["txid"], record, mono_ms())
        for top in fx.unlinked:
            namespace.detach(top)   # freed by reference counting, even if frozen (heap.py)

    def _excluded_changed(self, name: str) -> None:
        """An admin's decommission (or its cancel) reached the namespace: the node, if
        registered, leaves (or rejoins) service and every block on it is judged again
        (copies when it leaves, trimming of the surplus when it returns)."""
        if self.registry.sync_admin_state(name):
            self.bm.recheck_node(name)

    def log_edits(self, records: list[Record]) -> None:
        """Applies records and appends them to the journal; no await in between, so
        the tree and the log see the same order. Callers then `await sync()`."""
        if self.ha.writes_failed:
            raise StandbyError(f"{self.ha.name}: the edit log failed, this namenode is "
                               "stepping down; try the other namenode")
        frames = []
        for i, record in enumerate(records, start=self.txid + 1):
            record["txid"] = i
            frames.append(editlog_format.encode(record))
        for record, frame in zip(records, frames):
            self._apply(record, durable=False)
            self.txid = record["txid"]
            self.journal.append(self.txid, frame)

    async def sync(self) -> None:
        """Waits until every edit logged so far is durable."""
        txid = self.txid
        try:
            await self.journal.sync(txid)
        except JournalError as e:
            log.critical("%s", e)
            self.bm.drop_held_deletes()
            self.failed.set()
            if self.ha.enabled:
                # HA: not fatal - the controller steps down; the client tries the other.
                # The edit is applied here and may sit on a minority of JournalNodes,
                # which the next active's recovery may adopt: the client must treat
                # this as "maybe applied" (EditNotDurable), not as a refusal.
                self.ha.journal_failed()
                raise EditNotDurable(f"{self.ha.name}: edit not durable ({e}); this namenode "
                                     "is stepping down, try the other namenode") from None
            raise
        self.bm.release_deletes(txid)
        if self.txid - self._checkpoint_txid >= self.settings.checkpoint_txns:
            self._start_checkpoint()

    async def mutate(self, path: str, validate: Callable[[], list[Record]],
                     rpc: RpcKey | None = None) -> list[Record]:
        """Safe-mode check, validate, apply, log, sync: one namespace change. With an
        rpc id, a call already applied (a client's retry) returns its logged record."""
        if rpc is not None:
            done = self.retry_cache.lookup(rpc, mono_ms())
            if done is not None:
                await self.sync()  # the first attempt may still be waiting for its sync
                return [done.record]
        self.safemode.check(path)
        records = validate()
        if records:
            if rpc is not None:
                records[0][RPC] = list(rpc)
            self.log_edits(records)
            await self.sync()
        return records

    # ----------------------------------------------------------- checkpoints

    def _start_checkpoint(self) -> None:
        if self._checkpoint_task is None or self._checkpoint_task.done():
            self._checkpoint_task = asyncio.get_running_loop().create_task(self._checkpoint_logged())

    async def _checkpoint_logged(self) -> None:
        try:
            await self.checkpoint()
        except JournalError:
            self.failed.set()
        except Exception:  # noqa: BLE001 - a failed checkpoint is retried next time
            log.exception("checkpoint failed; the edit log keeps everything meanwhile")

    async def checkpoint(self) -> None:
        """Writes fsimage_<txid>, keeps the newest IMAGES_KEPT and purges edit
        segments the older kept image already covers. The image is serialized in a
        forked child from a snapshot taken before any await (a consistent cut), so
        the loop keeps serving (image_writer.py)."""
        txid = self.txid
        loop = asyncio.get_running_loop()
        started_ms = mono_ms()
        fork_ms = 0.0
        if image_writer.CAN_FORK:
            tmp = self.images.tmp_path(txid)
            forked = time.perf_counter()
            pid = image_writer.fork_serializer(self.ns, txid, tmp)
            # The one step of a checkpoint on the loop: copying the heap's page tables.
            fork_ms = (time.perf_counter() - forked) * 1000
            try:
                await self._roll_for_image()
            finally:
                # Reaped whatever happens, so no child is left behind.
                waited = loop.run_in_executor(None, image_writer.wait_serializer, pid)
                await waited
            size = await loop.run_in_executor(None, self.images.install, txid)
        else:
            data = checkpoint.serialize(self.ns, txid)
            await self._roll_for_image()
            await loop.run_in_executor(None, self.images.write, txid, data)
            size = len(data)
        self._checkpoint_txid = txid
        self._checkpoint_mono_ms = mono_ms()
        pruned_upto = self.images.prune()
        if self.ha.active:
            self.journal.purge(pruned_upto)
        log.info("checkpoint at txid %d (%d bytes, %d ms; fork %.1f ms)", txid, size,
                 mono_ms() - started_ms, fork_ms)
        self.events.emit("checkpoint_written", txid=txid, bytes=size, fork_ms=round(fork_ms, 1))

    async def _roll_for_image(self) -> None:
        # A standby applies only committed edits and never writes the journal: it
        # neither rolls nor purges (the active purges what both images cover).
        if self.ha.active:
            await self.journal.roll()  # every edit <= txid is durable before the image is

    # ------------------------------------------------------------------ tick

    async def _ticker(self) -> None:
        while True:
            slept_from_ms = mono_ms()
            await asyncio.sleep(TICK_INTERVAL_S)
            now_ms = mono_ms()
            if now_ms - slept_from_ms > PAUSED_TICK_GAP_MS:
                log.warning("namenode tick %.1f s late (paused?): every lease renewed",
                            (now_ms - slept_from_ms) / 1000)
                self.leases.renew_all(now_ms)
            try:
                await self.tick(now_ms)
            except JournalError:
                return
            except Exception:  # noqa: BLE001 - the ticker must outlive one bad tick
                log.exception("namenode tick failed")

    async def tick(self, now_ms: int) -> None:
        for node in self.registry.tick(now_ms):
            log.warning("datanode %s is dead (silent for %.1f s)", node.name,
                        (now_ms - node.last_heartbeat_ms) / 1000)
            self.bm.node_dead(node.name)
        if self.ha.active:  # a standby only watches; the active schedules the work
            for name in self.bm.tick(now_ms):
                log.info("datanode %s is decommissioned: its replicas are all copied elsewhere", name)
            # A million changed blocks (after a full report): slices of time, loop free.
            await loop_slices.run_sliced(iter(lambda: self.bm.evaluate_checks(now_ms), False))
        self.update_safemode(now_ms)
        if self.ha.active and not self.safemode.on:
            await self._recover_leases(now_ms)
            await self.trash_emptier.tick(now_ms, wall_ms())
        if self.bm.bulk_frees != self._bulk_frees_released:
            self._bulk_frees_released = self.bm.bulk_frees
            asyncio.get_running_loop().run_in_executor(None, memory.release_free_memory)
        interval_ms = self.settings.checkpoint_interval_s * 1000
        due = (now_ms - self._checkpoint_mono_ms >= interval_ms
               or self.txid - self._checkpoint_txid >= self.settings.checkpoint_txns)
        if self.txid > self._checkpoint_txid and due:
            self._start_checkpoint()

    def update_safemode(self, now_ms: int | None = None) -> None:
        # A standby stays in safe mode (its namespace may lag the reports); it is
        # evaluated when it becomes active, with the reports it has collected.
        if self.safemode.on and not self.safemode.manual and self.ha.active:
            total, reported = self.bm.safe_counts()
            self.safemode.update(total, reported, mono_ms() if now_ms is None else now_ms)
            if not self.safemode.on:
                log.info("leaving safe mode: %d of %d blocks reported", reported, total)

    async def _recover_leases(self, now_ms: int) -> None:
        expired = self.leases.expired(now_ms)[:MAX_LEASE_RECOVERIES_PER_TICK]
        logged = False
        for holder, file in expired:
            if not self.lease_recovery.in_progress(file):
                log.warning("lease of %s on %s expired: recovering the file", holder, file.path())
            logged |= self._recovery_step(file, now_ms)
        if logged:
            await self.sync()

    def _recovery_step(self, file: INodeFile, now_ms: int) -> bool:
        """One step of a file's lease recovery (lease_recovery.py); True if it logged."""
        step = self.lease_recovery.step(self.ns, self.bm, self.registry, file, now_ms, wall_ms())
        if step.command is not None:
            primary, command = step.command
            log.info("%s: block %d: recovery with genstamp %d, primary %s", file.path(),
                     command.block_id, command.recovery_genstamp, primary)
            self.events.emit("block_recovery", path=file.path(), block=command.block_id,
                             primary=primary, nodes=list(command.targets))
        if step.records:
            self.log_edits(step.records)
        if step.command is not None:
            self.bm.queue_command(*step.command)
        if step.closes:
            self.lease_recovery.forget(file)
            self.events.emit("lease_recovered", path=file.path())
        return bool(step.records)

    async def recover_file_now(self, file: INodeFile) -> bool:
        """Lease recovery of one file at once (admin recover-lease, an append past the
        soft limit); True once the file is closed."""
        if file.client is None:
            return True
        if self._recovery_step(file, mono_ms()):
            await self.sync()
        return file.client is None

    # ----------------------------------------------------------------- stats

    def stats(self) -> StatsView:
        live = self.registry.live_nodes()
        return StatsView(
            capacity=sum(n.capacity for n in live), used=sum(n.used for n in live),
            remaining=sum(n.remaining for n in live), live_datanodes=len(live),
            dead_datanodes=len(self.registry.nodes) - len(live), files=self.ns.files,
            blocks=len(self.bm.blocks), under_replicated=self.bm.under_replicated_count(),
            missing=self.bm.missing_count(), corrupt=self.bm.corrupt_count(),
            safe_mode=self.safemode.on, last_txid=self.txid)
