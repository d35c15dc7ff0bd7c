"""Lease recovery: closing a file whose writer is gone. Pure.

Called by the namesystem for every file whose lease passed the hard limit (each
tick), and at once for `admin recover-lease` (RecoverLease) or an append that
finds the soft limit passed. `step` looks at the file's last block and returns
what to do now:

* no last block, or it is committed: close the file as it is;
* a DataNode reported the last block finalized: close with the shortest length
  reported (the block manager keeps it);
* the last block was never flushed, never reopened by an append and no DataNode
  reported it: nothing was promised, the block is dropped and the file closed;
* otherwise block recovery, HDFS's way: log a new genstamp for the block (the
  recovery id) and send RECOVER to one live node holding it (the primary, a
  different one on each retry), naming every live holder. The primary agrees on
  the shortest replica and has them finalize it under the recovery id
  (datanode/block_recovery.py); their reports then close the file on a later
  step. Every byte the writer hflushed is on every replica, so it survives.

A recovery that produced nothing within RECOVERY_RETRY_MS is tried again with
the next holder as primary; with no live holder the file waits (its data may come
back with a DataNode).
"""
from __future__ import annotations

from typing import NamedTuple

from minidfs.namenode import edits
from minidfs.namenode.block_manager import RECOVER, BlockManager, RecoverCommand
from minidfs.namenode.datanode_registry import DatanodeRegistry
from minidfs.namenode.edits import Record
from minidfs.namenode.inode import DROPPED, CORRUPT, INodeFile
from minidfs.namenode.namespace import Namespace

RECOVERY_RETRY_MS = 10_000


class _Attempt(NamedTuple):
    retry_at_ms: int
    tries: int



class Step(NamedTuple):
    records: list[Record]
    command: tuple[str, RecoverCommand] | None = None   # (primary node, RECOVER)

    @property
    def closes(self) -> bool:
        return any(r["op"] == edits.CLOSE for r in self.records)


class LeaseRecovery:
    def __init__(self) -> None:
        self._attempts: dict[int, _Attempt] = {}   # block id -> its running recovery

    def in_progress(self, file: INodeFile) -> bool:
        return bool(file.blocks) and file.blocks[-1].id in self._attempts

    def step(self, ns: Namespace, bm: BlockManager, registry: DatanodeRegistry,
             file: INodeFile, now_ms: int, wall_ms: int) -> Step:
        path = file.path()
        last = file.blocks[-1] if file.blocks else None
        if last is None or last.committed:
            return Step(ns.recover_lease(path, None, wall_ms))
        reported = bm.reported_lengths.get(last.id)
        if reported is not None:
            self._attempts.pop(last.id, None)
            return Step(ns.recover_lease(path, reported, wall_ms))
        holders = sorted(set(bm.uc_targets.get(last.id, ()))
                         | {n for n, s in (last.replicas or {}).items() if s not in (DROPPED, CORRUPT)})
        if last.length == 0 and not last.replicas and last.id not in self._attempts:
            return Step(ns.recover_lease(path, None, wall_ms))
        attempt = self._attempts.get(last.id)
        if attempt is not None and now_ms < attempt.retry_at_ms:
            return Step([])
        live = [n for n in holders if registry.is_live(n)]
        if not live:
            return Step([])
        tries = attempt.tries + 1 if attempt is not None else 1
        self._attempts[last.id] = _Attempt(now_ms + RECOVERY_RETRY_MS, tries)
        primary = live[(tries - 1) % len(live)]
        recovery_gs = ns.last_genstamp + 1
        # The holders stay the block's pipeline: readers and the next retry find them.
        bm.uc_targets[last.id] = live
        # Genstamp 0: any replica on these nodes is the block's. They are its pipeline,
        # yet a writer that died before reopening it (append) or before its recovery
        # stream reached them all leaves older genstamps there, and each of them
        # still holds every acknowledged byte.
        command = RecoverCommand(RECOVER, last.id, 0, last.length, tuple(live), recovery_gs)
        return Step([edits.set_genstamp(path, last.id, recovery_gs)], (primary, command))

    def forget(self, file: INodeFile) -> None:
        if file.blocks:
            self._attempts.pop(file.blocks[-1].id, None)
