"""Honest outcomes with real processes (docs/outcomes.md): what a client says about a
change - ok, failed, outcome unknown - is checked against the namespace afterwards
with the history checker (minidfs/history.py): nothing reported failed is visible,
everything reported ok is, unknown ones are all or nothing.

- Two of three JournalNodes killed while mkdir / rm / mv / put run in a loop, then
  brought back (issue 20's report: a mkdir told "failed" that had happened).
- SIGKILL of the active NameNode in the middle of a burst of renames and deletes; a
  rename resent with the same call id to the NameNode that took over is answered from
  its retry cache.
- A put whose close (Complete) times out while the only NameNode is SIGSTOPped.

Every cluster is stopped in a finally, also when a test fails; loops are bounded.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import random
import subprocess
import sys
import threading
import time
from typing import Callable, Iterator

from cluster import LocalCluster
from minidfs import config, errors, history
from minidfs.client.client import Client
from minidfs.client.ha_admin import ha_statuses
from minidfs.client.namenode_client import NamenodeClient
from minidfs.history import Entry, Op
from minidfs.rpc import client_namenode_pb2 as pb

LEASE_S = 2.0
HA_SETTINGS = {"heartbeat_interval_s": 0.5, "ha_lease_duration_s": LEASE_S}
WAIT_S = 40.0
# The workload's clients give up early, so that the outage produces failed and
# unknown answers instead of riding it out (the default wait would).
SHORT_WAIT_S = 2.0
OPS_PER_KIND = 12              # the bound of each workload loop
PACE_S = 0.25                  # between one thread's operations: the loop spans the outage
OUTAGE_S = 6.0


# ---- helpers ------------------------------------------------------------------------


@contextlib.contextmanager
def running(root, **options) -> Iterator[LocalCluster]:
    local = LocalCluster(root, datanodes=3, block_size=64 * 1024, **options)
    try:
        local.up()
        yield local
    finally:
        local.down()


def wait_for(condition: Callable, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.1)


def the_active(local: LocalCluster, other_than: str | None = None) -> str:
    def find():
        active = [s["name"] for s in ha_statuses(local.conf, deadline_s=1.0)
                  if s["role"] == "active"]
        return active[0] if len(active) == 1 and active[0] != other_than else None
    return wait_for(find, "exactly one active namenode")


def impatient_client(local: LocalCluster, wait_s: float = SHORT_WAIT_S) -> Client:
    conf = config.load(local.conf_path)
    conf.settings.client_failover_wait_s = wait_s
    return Client(conf)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(fs: Client, root: str) -> dict[str, Entry]:
    """Every path under root with its type and, for files, the sha256 of its bytes."""
    found: dict[str, Entry] = {}
    for entry in fs.ls(root, recursive=True):
        if entry["type"] == "directory":
            found[entry["path"]] = Entry("dir")
        else:
            found[entry["path"]] = Entry("file", digest(fs.cat(entry["path"])))
    return found


class Workload:
    """One thread per kind of operation, each on its own paths, recording outcomes."""

    def __init__(self, fs: Client, root: str, kinds: tuple[str, ...], count: int,
                 pace_s: float = 0.0) -> None:
        self.fs = fs
        self.pace_s = pace_s
        self.root = root
        self.kinds = kinds
        self.count = count
        self.history: list[Op] = []
        self.done = {kind: 0 for kind in kinds}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def prepare(self, fs: Client) -> None:
        """What rm and mv act on, made before any fault."""
        fs.mkdir(self.root, parents=True)
        for i in range(self.count):
            if "rm" in self.kinds:
                with fs.open(f"{self.root}/rm{i}", "wb") as f:
                    f.write(b"x" * 100)
            if "mv" in self.kinds:
                fs.mkdir(f"{self.root}/mv{i}")

    def _one(self, kind: str, i: int) -> Op:
        fs, root = self.fs, self.root
        data = random.randbytes(random.randint(1, 3000)) if kind == "put" else b""
        error: BaseException | None = None
        try:
            if kind == "mkdir":
                fs.mkdir(f"{root}/mk{i}")
            elif kind == "rm":
                if not fs.delete(f"{root}/rm{i}"):
                    raise errors.FileNotFound(f"{root}/rm{i}: nothing deleted")
            elif kind == "mv":
                fs.rename(f"{root}/mv{i}", f"{root}/mvd{i}")
            else:
                fs.put(io.BytesIO(data), f"{root}/put{i}")
        except errors.MinidfsError as e:
            error = e
        dst = f"{root}/mvd{i}" if kind == "mv" else ""
        path = {"mkdir": "mk", "rm": "rm", "mv": "mv", "put": "put"}[kind]
        return Op(kind, f"{root}/{path}{i}", history.outcome_of(error), dst=dst,
                  digest=digest(data) if kind == "put" else "", detail=str(error or ""))

    def _run(self, kind: str) -> None:
        for i in range(self.count):
            if self._stop.is_set():
                return
            op = self._one(kind, i)
            with self._lock:
                self.history.append(op)
                self.done[kind] += 1
            self._stop.wait(self.pace_s)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, args=(kind,), daemon=True)
                         for kind in self.kinds]
        for thread in self._threads:
            thread.start()

    def ops_done(self) -> int:
        with self._lock:
            return sum(self.done.values())

    def finish(self, timeout_s: float = 120.0) -> None:
        """Waits until every thread ran its bounded loop to the end."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "a workload thread hung"

    def stop(self) -> None:
        self._stop.set()
        self.finish()

    def verdict(self, fs: Client) -> history.Verdict:
        verdict = history.check(self.history, snapshot(fs, self.root))
        print(f"\n{self.root}: {verdict.summary()}")
        for op in self.history:
            if op.outcome != history.OK:
                print(f"  {op}")
        return verdict


# ---- two of three JournalNodes down --------------------------------------------------


def test_journal_quorum_lost_mid_workload_reports_honest_outcomes(tmp_path):
    with running(tmp_path / "c", ha=True, **HA_SETTINGS) as local:
        with local.client() as fs:
            work = Workload(impatient_client(local), "/q", ("mkdir", "rm", "mv", "put"),
                            OPS_PER_KIND, PACE_S)
            work.prepare(fs)
        shell = None
        try:
            work.start()
            wait_for(lambda: work.ops_done() >= 4, "operations before the outage")
            local.kill("jn2")
            local.kill("jn3")
            # The shell with the default wait (30 s) rides the outage out: it says it
            # is waiting, and its mkdir ends ok once the JournalNodes are back.
            shell = subprocess.Popen(
                [sys.executable, "-m", "minidfs.cli.main", "--conf", str(local.conf_path),
                 "mkdir", "/q/shell"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(OUTAGE_S)
            local.start("jn2")
            local.start("jn3")
            _, stderr = shell.communicate(timeout=WAIT_S)
        finally:
            work.stop()
            work.fs.close()
            if shell is not None and shell.poll() is None:
                shell.kill()
                shell.wait()
        assert shell.returncode == 0, stderr
        assert stderr.decode().splitlines() == [
            "minidfs: mkdir: waiting for an active NameNode… (Ctrl-C to stop)"]
        the_active(local)
        with local.client() as fs:
            assert fs.info("/q/shell")["type"] == "directory"
            verdict = work.verdict(fs)
        assert verdict.ok, "\n".join(verdict.violations)
        # The outage really cut some operations short (else this proved nothing).
        assert verdict.counts[history.OK] < verdict.operations


# ---- SIGKILL of the active NameNode ----------------------------------------------------


def test_sigkill_active_mid_renames_and_deletes(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="minidfs.client.namenode")
    with running(tmp_path / "c", ha=True, **HA_SETTINGS) as local:
        old = the_active(local)
        with local.client() as fs:
            work = Workload(fs, "/k", ("rm", "mv"), 3 * OPS_PER_KIND)
            work.prepare(fs)
            fs.mkdir("/k/cached")
            # A rename the old active applies; resent with the same call id after the
            # failover it must be answered from the new active's retry cache.
            cached = pb.RenameRequest(src="/k/cached", dst="/k/cached-moved")
            cached.rpc_id.client_id, cached.rpc_id.call_id = "outcomes-test", 1
            direct = NamenodeClient([local.conf.node(old).address], deadline_s=5.0,
                                    failover_passes=1)
            try:
                direct.call("Rename", cached)
            finally:
                direct.close()
            try:
                work.start()
                wait_for(lambda: work.ops_done() >= 8, "operations before the kill")
                local.kill(old)
                work.finish()
            finally:
                work.stop()
            new = the_active(local, other_than=old)
            retry = NamenodeClient([local.conf.node(new).address], deadline_s=5.0,
                                   failover_passes=1)
            try:
                retry.call("Rename", cached)          # FileNotFound if the cache lost it
            finally:
                retry.close()
            assert fs.exists("/k/cached-moved") and not fs.exists("/k/cached")
            verdict = work.verdict(fs)
        settled = [r.getMessage() for r in caplog.records if "settled ok by a retry" in r.getMessage()]
        print(f"{len(settled)} calls settled ok by a retry after a maybe-applied attempt: "
              f"{settled[:2]}")
        assert verdict.ok, "\n".join(verdict.violations)
        assert verdict.operations == 2 * 3 * OPS_PER_KIND


# ---- a put whose close times out on a paused NameNode -------------------------------------


class PausingSource(io.RawIOBase):
    """A readable stream of `data` that calls `at_end` once, just before its EOF: the
    put has sent every byte by then and goes on to close the file."""

    def __init__(self, data: bytes, at_end: Callable[[], None]) -> None:
        super().__init__()
        self._data = memoryview(data)
        self._at_end: Callable[[], None] | None = at_end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._data:
            at_end, self._at_end = self._at_end, None
            if at_end is not None:
                at_end()
            return 0
        n = min(len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_put_whose_close_times_out_on_a_paused_namenode_is_never_failed(tmp_path):
    with running(tmp_path / "c", lease_soft_limit_s=1.0, lease_hard_limit_s=3.0) as local:
        data = random.randbytes(2 * 1024 * 1024 + 123)
        paused = threading.Event()

        def pause() -> None:
            local.kill("nn1", "STOP")
            paused.set()

        fs = impatient_client(local, wait_s=3.0)
        error: BaseException | None = None
        try:
            fs.put(PausingSource(data, pause), "/paused/a.bin")
        except errors.MinidfsError as e:
            error = e
        finally:
            if paused.is_set():
                local.kill("nn1", "CONT")
            fs.close()
        assert paused.is_set()
        outcome = history.outcome_of(error)
        print(f"\nput during SIGSTOP: {outcome} ({error})")
        assert outcome in (history.OK, history.UNKNOWN), error
        with local.client() as reader:
            # An unknown close leaves the file to its Complete (queued on the paused
            # NameNode) or to lease recovery: either way it ends whole.
            wait_for(lambda: not reader.info("/paused/a.bin")["under_construction"],
                     "the file to be closed")
            verdict = history.check(
                [Op("put", "/paused/a.bin", outcome, digest=digest(data))],
                snapshot(reader, "/paused"))
            assert verdict.ok, (verdict.violations, reader.stat("/paused/a.bin"), len(data))
            assert reader.cat("/paused/a.bin") == data
