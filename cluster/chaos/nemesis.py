"""Carries out a chaos schedule on a local cluster, and heals every fault it caused.

kill: SIGKILL, started again at heal time. pause: SIGSTOP, SIGCONT at heal time.
restart: SIGTERM (a graceful stop), started again at heal time. corrupt: flips bytes
in the middle of one finalized block file on the DataNode's disk, chosen among
blocks the NameNode counts at full replication and never one corrupted before, so a
healthy copy always remains; nothing is undone: finding and repairing it is the
cluster's job (readers, the block scanner). disk-full: the DataNode is restarted with
`capacity_bytes` at what it already holds, so every new replica it is asked to take
fails with ENOSPC; at heal time it is restarted with its old capacity.
partition: this machine's kernel has no packet filter (no iptables, nft or netem)
and daemons share one loopback address, so a partition is not offered; asking for
it is a clear error (docs/chaos.md).

Every action and its result go to the report's fault list; an action that fails
(the node was already down) is recorded, not fatal.
"""
from __future__ import annotations

import logging
import pathlib
import random
import threading
import time
from typing import Callable

from cluster.chaos.schedule import Fault
from minidfs import config
from minidfs.client import health

log = logging.getLogger("minidfs.chaos")

CORRUPT_BYTES = 16


class Nemesis:
    def __init__(self, local, schedule: list[Fault], seed: int, clock: Callable[[], float],
                 fs_factory: Callable[[], object]) -> None:
        self.local = local
        self.schedule = schedule
        self.rng = random.Random(seed ^ 0x5EED)
        self.clock = clock
        self.fs_factory = fs_factory
        self.done: list[dict] = []
        self.open: dict[int, Fault] = {}
        self.corrupted_blocks: set[int] = set()
        self._saved_capacity: dict[str, int] = {}
        self._lock = threading.Lock()

    # ---- the timeline ------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Applies and heals faults at their times until the schedule ends or stop."""
        events = sorted([(f.at_s, 0, i) for i, f in enumerate(self.schedule)] +
                        [(f.heal_s, 1, i) for i, f in enumerate(self.schedule)])
        for at_s, is_heal, index in events:
            wait_s = at_s - self.clock()
            # A nemesis behind its schedule (slow restarts) must still stop on time.
            if stop.is_set() or (wait_s > 0 and stop.wait(wait_s)):
                break
            fault = self.schedule[index]
            if is_heal:
                if index in self.open:
                    self._heal(index, fault)
            else:
                self._inject(index, fault)
        self.heal_all()

    def heal_all(self) -> None:
        for index, fault in sorted(self.open.items()):
            self._heal(index, fault)

    def _note(self, index: int, fault: Fault, action: str, ok: bool, detail: str = "") -> None:
        row = {"fault": index, **fault.as_dict(), "action": action,
               "t_s": round(self.clock(), 3), "ok": ok}
        if detail:
            row["detail"] = detail[:300]
        with self._lock:
            self.done.append(row)
        log.info("chaos %s %s %s: %s %s", action, fault.kind, fault.node,
                 "ok" if ok else "FAILED", detail)

    def _inject(self, index: int, fault: Fault) -> None:
        try:
            detail = getattr(self, "_inject_" + fault.kind.replace("-", "_"))(fault) or ""
        except Exception as e:
            self._note(index, fault, "inject", False, f"{type(e).__name__}: {e}")
            return
        self.open[index] = fault
        self._note(index, fault, "inject", True, detail)

    def _heal(self, index: int, fault: Fault) -> None:
        self.open.pop(index, None)
        try:
            detail = getattr(self, "_heal_" + fault.kind.replace("-", "_"))(fault) or ""
            self._note(index, fault, "heal", True, detail)
        except Exception as e:
            self._note(index, fault, "heal", False, f"{type(e).__name__}: {e}")

    # ---- the faults ----------------------------------------------------------------

    def _inject_kill(self, fault: Fault) -> None:
        self.local.kill(fault.node, "KILL")

    def _heal_kill(self, fault: Fault) -> None:
        self._start(fault.node)

    def _inject_restart(self, fault: Fault) -> None:
        self.local.kill(fault.node, "TERM")

    _heal_restart = _heal_kill

    def _inject_pause(self, fault: Fault) -> None:
        self.local.kill(fault.node, "STOP")

    def _heal_pause(self, fault: Fault) -> None:
        self.local.kill(fault.node, "CONT")

    def _start(self, name: str) -> None:
        state = {n["name"]: n["state"] for n in self.local.status()}.get(name)
        if state == "paused":
            self.local.kill(name, "CONT")
        elif state == "stopped":
            self.local.start(name)

    def _inject_corrupt(self, fault: Fault) -> str:
        node = self.local.conf.node(fault.node)
        on_disk = {}
        for data_dir in _data_dirs(node):
            for path in pathlib.Path(data_dir).glob("current/finalized/*/blk_*"):
                if not path.name.endswith(".meta") and path.name[4:].isdigit():
                    on_disk[int(path.name[4:])] = path
        fully_replicated = self._fully_replicated_blocks()
        choices = sorted(b for b in on_disk if b in fully_replicated
                         and b not in self.corrupted_blocks)
        if not choices:
            return "no fully replicated block to corrupt on this node"
        block_id = self.rng.choice(choices)
        path = on_disk[block_id]
        size = path.stat().st_size
        if size == 0:
            return f"blk_{block_id} is empty"
        offset = size // 2
        with open(path, "r+b") as f:
            f.seek(offset)
            data = f.read(CORRUPT_BYTES)
            f.seek(offset)
            f.write(bytes(b ^ 0xFF for b in data))
        self.corrupted_blocks.add(block_id)
        return f"blk_{block_id}: {len(data)} bytes flipped at offset {offset}"

    def _heal_corrupt(self, fault: Fault) -> None:
        return None

    def _fully_replicated_blocks(self) -> set[int]:
        with self.fs_factory() as fs:
            result = health.fsck(fs.namenode, "/", files=True, blocks=True, locations=True)
        return {b["id"] for f in result.get("file_details", []) for b in f.get("blocks", [])
                if b["live"] >= b["expected"] and not b["problems"]}

    def _inject_disk_full(self, fault: Fault) -> str:
        conf = self.local.conf
        node = conf.node(fault.node)
        self._saved_capacity[fault.node] = node.capacity_bytes
        used = sum(p.stat().st_size for d in _data_dirs(node)
                   for p in pathlib.Path(d).glob("current/**/*") if p.is_file())
        self.local.kill(fault.node, "TERM")
        node.capacity_bytes = max(1, used)
        config.save(conf, conf.path)
        self.local.start(fault.node)
        return f"capacity set to the {used} bytes it holds"

    def _heal_disk_full(self, fault: Fault) -> None:
        conf = self.local.conf
        node = conf.node(fault.node)
        self.local.kill(fault.node, "TERM")
        node.capacity_bytes = self._saved_capacity.pop(fault.node, 0)
        config.save(conf, conf.path)
        self._start(fault.node)

    def _inject_partition(self, fault: Fault) -> None:
        raise NotImplementedError("partition is not available on this machine")


def _data_dirs(node) -> list:
    return list(node.volume_dirs)


def wait_until(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.5) -> float | None:
    """Seconds until condition() held, or None after timeout_s (errors count as no)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            if condition():
                return time.monotonic() - start
        except Exception:
            pass
        time.sleep(poll_s)
    return None
