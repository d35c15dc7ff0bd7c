"""NameNode HA under faults, with real processes: SIGKILL of the active under 8 writing
clients, SIGSTOP past the lease, JournalNodes down, a network partition between the
active and the JournalNodes (TCP proxies the test cuts), and all NameNodes and
JournalNodes SIGKILLed at once.

Each test runs its own small cluster (jn1..jn3, nn1, nn2, dn1..dn3; lease 2 s,
heartbeats 0.5 s) under tmp_path, stopped in a finally also when the test fails.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import signal
import threading
import time
from typing import Iterator

import pytest

from cluster import LocalCluster
from cluster.layout import Home, plan
from minidfs import config, errors
from minidfs.client.ha_admin import ha_statuses
from minidfs.client.namenode_client import NamenodeClient
from minidfs.rpc import client_namenode_pb2 as pb

LEASE_S = 2.0
HA_SETTINGS = {"heartbeat_interval_s": 0.5, "ha_lease_duration_s": LEASE_S}
WAIT_S = 30.0
WRITERS = 8


# ---- helpers ------------------------------------------------------------------------


@contextlib.contextmanager
def ha_cluster(root, conf: config.ClusterConfig | None = None) -> Iterator[LocalCluster]:
    """A running HA cluster in root (from conf when given, else planned here)."""
    if conf is not None:
        Home(root).make_dirs(list(conf.nodes))
        config.save(conf, Home(root).conf_path)
    local = LocalCluster(root, datanodes=3, ha=True, block_size=64 * 1024, **HA_SETTINGS)
    try:
        local.up()
        yield local
    finally:
        local.down()


def wait_for(condition, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.1)


def roles(local: LocalCluster) -> dict[str, dict]:
    return {s["name"]: s for s in ha_statuses(local.conf, deadline_s=1.0)}


def the_active(local: LocalCluster, other_than: str | None = None) -> str:
    def find():
        active = [n for n, s in roles(local).items() if s["role"] == "active"]
        return active[0] if len(active) == 1 and active[0] != other_than else None
    return wait_for(find, "exactly one active namenode" + (f" other than {other_than}"
                                                           if other_than else ""))


def direct(local: LocalCluster, name: str, deadline_s: float = 3.0) -> NamenodeClient:
    return NamenodeClient([local.conf.node(name).address], deadline_s=deadline_s,
                          failover_passes=1)


def write_file(fs, path: str, size: int) -> str:
    data = random.randbytes(size)
    with fs.open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def read_digest(fs, path: str) -> str:
    return hashlib.sha256(fs.cat(path)).hexdigest()


# ---- SIGKILL of the active under load -----------------------------------------------


def test_sigkill_active_while_8_clients_write(tmp_path):
    with ha_cluster(tmp_path / "c") as local:
        old = the_active(local)
        stop = threading.Event()
        acked: list[tuple[float, str, str]] = []
        failed: list[str] = []
        lock = threading.Lock()

        def writer(n: int) -> None:
            with local.client() as fs:
                i = 0
                while not stop.is_set():
                    path = f"/load/w{n}/f{i}"
                    i += 1
                    try:
                        digest = write_file(fs, path, random.randint(1, 150_000))
                    except errors.MinidfsError as e:
                        with lock:
                            failed.append(f"{path}: {e}")
                        continue
                    with lock:
                        acked.append((time.monotonic(), path, digest))

        threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(WRITERS)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(acked) >= 3 * WRITERS, "writes before the kill")
            killed = time.monotonic()
            local.kill(old)
            after = lambda: [a for a in acked if a[0] > killed]  # noqa: E731
            wait_for(lambda: len(after()) >= 3 * WRITERS, "writes on the new active", 60)
        finally:
            stop.set()
            for t in threads:
                t.join(90)
        first = min(a[0] for a in after()) - killed
        print(f"\nfailover: SIGKILL of {old} -> first acknowledged write {first:.2f} s; "
              f"{len(acked)} writes acknowledged, {len(failed)} failed {failed[:3]}")
        assert first < 20
        assert the_active(local) != old
        with local.client() as fs:
            for _, path, digest in acked:
                assert read_digest(fs, path) == digest, path


# ---- SIGSTOP past the lease ---------------------------------------------------------


def test_sigstop_active_past_its_lease_is_fenced(tmp_path):
    with ha_cluster(tmp_path / "c") as local:
        old = the_active(local)
        with local.client() as fs:
            fs.mkdir("/before")
        local.kill(old, "STOP")
        try:
            new = the_active(local, other_than=old)
            with local.client() as fs:
                fs.mkdir("/during")
        finally:
            local.kill(old, "CONT")
        # Woken up, its own clock says its lease ran out: it answers nothing as active
        # and cannot commit (a JournalNode promised a newer epoch).
        nn = direct(local, old)
        try:
            with pytest.raises(errors.MinidfsError):
                nn.call("Mkdirs", pb.MkdirsRequest(path="/from-old", parents=True))
            with pytest.raises(errors.StandbyError):
                nn.call("GetFileInfo", pb.PathRequest(path="/"))
        finally:
            nn.close()
        wait_for(lambda: roles(local)[old]["role"] == "standby", f"{old} to step down")
        states = roles(local)
        assert [n for n, s in states.items() if s["role"] == "active"] == [new]
        assert states[old]["epoch"] <= states[new]["epoch"]
        with local.client() as fs:
            assert fs.exists("/before") and fs.exists("/during") and not fs.exists("/from-old")
        assert "steps down to standby" in local.log(old)


# ---- JournalNodes down --------------------------------------------------------------


def test_one_journalnode_down_works_two_down_refuses_writes(tmp_path):
    with ha_cluster(tmp_path / "c") as local:
        with local.client() as fs:
            digest = write_file(fs, "/jn/a", 100_000)
            local.kill("jn3")
            assert write_file(fs, "/jn/b", 100_000)       # a majority is left
            fs.mkdir("/jn/c")
        active = the_active(local)
        local.kill("jn2")
        nn = direct(local, active)
        try:
            # The active applied it and sent it to the journal, which then failed: the
            # client cannot know whether it survives, and says so (docs/outcomes.md).
            with pytest.raises(errors.OutcomeUnknownError, match="journal quorum lost"):
                nn.call("Mkdirs", pb.MkdirsRequest(path="/jn/refused", parents=True))
            # Reads on the active go on until its lease may have lapsed...
            assert nn.call("GetFileInfo", pb.PathRequest(path="/jn/a")).length == 100_000
            # ... then it steps down, and nobody can take over without a majority.
            wait_for(lambda: all(s["role"] == "standby" for s in roles(local).values()),
                     "both namenodes to be standby", 3 * LEASE_S + 5)
            with pytest.raises(errors.StandbyError):
                nn.call("GetFileInfo", pb.PathRequest(path="/jn/a"))
        finally:
            nn.close()
        local.start("jn2")
        local.start("jn3")
        the_active(local)
        with local.client() as fs:
            assert read_digest(fs, "/jn/a") == digest
            assert fs.exists("/jn/c")
            # "/jn/refused" reached one JournalNode; the recovery after the restart may
            # adopt that copy (QJM: a refused write's outcome is unknown, as after a
            # timeout). Either way both NameNodes agree, and the client was told
            # neither "ok" nor "failed" but "outcome unknown".
            fs.mkdir("/jn/after")


# ---- a partition between the active and the JournalNodes -----------------------------


class TcpProxy:
    """127.0.0.1:port -> target, in its own event loop thread; cut() drops every
    connection and refuses new ones until heal()."""

    def __init__(self, target: str) -> None:
        self.target_host, port = target.rsplit(":", 1)
        self.target_port = int(port)
        self.cut_off = False
        self._writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)
        self.address = f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _listen(self):
        return await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def _handle(self, reader, writer) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        def drop():
            self.cut_off = True
            for w in list(self._writers):
                w.transport.abort()
        self.loop.call_soon_threadsafe(drop)

    def heal(self) -> None:
        self.loop.call_soon_threadsafe(setattr, self, "cut_off", False)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def test_partition_isolating_the_active_from_the_journalnodes(tmp_path):
    root = tmp_path / "c"
    conf = plan(Home(root), datanodes=3, workers=0, ha=True, block_size=64 * 1024,
                replication=3, settings=dict(HA_SETTINGS))
    proxies = [TcpProxy(jn.address) for jn in conf.journalnodes]
    try:
        conf.node("nn1").extra["journal_addresses"] = [p.address for p in proxies]
        with ha_cluster(root, conf) as local:
            if the_active(local) != "nn1":   # nn1 (behind the proxies) must be the active
                from minidfs.client.ha_admin import failover
                failover(local.conf)
                wait_for(lambda: the_active(local) == "nn1", "nn1 active")
            with local.client() as fs:
                fs.mkdir("/part/before", parents=True)
            for p in proxies:
                p.cut()
            nn1 = direct(local, "nn1", deadline_s=2.0)
            acked_by_nn1 = []
            try:
                def nn2_active() -> bool:
                    try:
                        nn1.call("Mkdirs", pb.MkdirsRequest(path=f"/part/nn1-{time.monotonic_ns()}",
                                                           parents=True))
                        acked_by_nn1.append(True)
                    except errors.MinidfsError:
                        pass
                    return roles(local)["nn2"]["role"] == "active"
                wait_for(nn2_active, "nn2 to take over", 3 * LEASE_S + 15)
                with local.client() as fs:
                    fs.mkdir("/part/during")
                wait_for(lambda: roles(local)["nn1"]["role"] == "standby", "nn1 to step down")
                with pytest.raises(errors.MinidfsError):
                    nn1.call("Mkdirs", pb.MkdirsRequest(path="/part/late", parents=True))
            finally:
                nn1.close()
            assert acked_by_nn1 == []
            for p in proxies:
                p.heal()

            def caught_up():
                states = roles(local)
                return (states["nn1"]["role"] == "standby"
                        and states["nn1"]["last_txid"] == states["nn2"]["last_txid"])
            wait_for(caught_up, "nn1 to catch up as a standby after the partition heals")
            with local.client() as fs:
                assert fs.exists("/part/before") and fs.exists("/part/during")
                assert [e for e in fs.ls("/part") if "nn1-" in e["path"]] == []
    finally:
        for p in proxies:
            p.close()


# ---- everything SIGKILLed at once ---------------------------------------------------


def test_restart_all_namenodes_and_journalnodes(tmp_path):
    with ha_cluster(tmp_path / "c") as local:
        expected = {}
        with local.client() as fs:
            for i in range(20):
                expected[f"/all/f{i}"] = write_file(fs, f"/all/f{i}", 10_000 * (i + 1))
            fs.rename("/all/f0", "/all/renamed")
            expected["/all/renamed"] = expected.pop("/all/f0")
            fs.delete("/all/f1")
            expected.pop("/all/f1")
        names = ["nn1", "nn2", "jn1", "jn2", "jn3"]
        pids = {row["name"]: row["pid"] for row in local.status() if row["name"] in names}
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: all(r["state"] == "stopped" for r in local.status()
                             if r["name"] in names), "the kills")
        for name in ["jn1", "jn2", "jn3", "nn1", "nn2"]:
            local.start(name)
        new = the_active(local)
        nn = direct(local, new)
        try:   # like any NameNode start: safe mode until the DataNodes reported
            wait_for(lambda: not nn.call("GetStats", pb.GetStatsRequest()).safe_mode,
                     "safe mode to end")
        finally:
            nn.close()
        with local.client() as fs:
            found = {e["path"] for e in fs.ls("/all")}
            assert found == set(expected)
            for path, digest in expected.items():
                assert read_digest(fs, path) == digest, path
