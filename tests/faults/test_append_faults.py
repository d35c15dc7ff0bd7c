"""Append, hflush and lease recovery under faults, with real processes
(docs/append.md): a DataNode SIGKILLed in the middle of an append (the append goes
on, byte-exact), a writer SIGKILLed after hflush (its flushed bytes survive lease
recovery, by `admin recover-lease` and by the hard limit), and appends across a
NameNode SIGKILL + restart.

4 DataNodes, 1 MiB blocks, short heartbeats and dead-node interval.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from minidfs.cli.main import cli
from minidfs.client import health

MiB = 1024 * 1024
BLOCK = MiB
DATANODES = ("dn1", "dn2", "dn3", "dn4")
CLUSTER_OPTIONS = {"datanodes": 4, "workers": 0, "block_size": BLOCK,
                   "heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0,
                   "lease_soft_limit_s": 1.0, "lease_hard_limit_s": 4.0}
WAIT_S = 60.0


def payload(size: int, seed: int) -> bytes:
    pattern = bytes((i * 7 + seed) % 251 for i in range(251 * 64))
    return (pattern * (size // len(pattern) + 1))[:size]


@pytest.fixture
def nodes_back(cluster, fs, wait_until, start_datanode):
    try:
        yield
    finally:
        for node in cluster.status():
            if node["name"] in DATANODES and node["state"] == "stopped":
                start_datanode(node["name"])
        wait_until(lambda: all(n["state"] == "live" for n in health.datanode_report(fs.namenode)),
                   WAIT_S, "every DataNode live")


def test_datanode_sigkill_during_an_append(cluster, fs, wait_until, nodes_back):
    path = "/faults/append-kill"
    first = payload(300_001, 1)              # one short block: the append reopens it
    more = payload(2 * MiB + 4321, 2)        # fills it, then two more blocks
    with fs.open(path, "wb") as f:
        f.write(first)
    genstamp = fs.stat(path)["blocks"][0]["genstamp"]
    with fs.open(path, "ab") as f:
        f.write(more[:100_000])
        f.flush()                            # acked by the reopened pipeline
        victim = f.raw._pipeline.targets[1].name
        cluster.kill(victim, "STOP")         # the next bytes are in flight when it dies
        f.write(more[100_000:400_000])
        io.BufferedWriter.flush(f)
        cluster.kill(victim, "KILL")
        f.write(more[400_000:])
    assert fs.cat(path) == first + more
    blocks = fs.stat(path)["blocks"]
    assert blocks[0]["genstamp"] > genstamp
    assert victim not in blocks[0]["locations"]
    assert len(blocks) == 3


WRITER = textwrap.dedent("""
    import sys
    from minidfs import Client
    fs = Client(conf=sys.argv[1])
    f = fs.open(sys.argv[2], "wb")
    f.write(open(sys.argv[3], "rb").read())
    f.flush()
    print("flushed", flush=True)
    sys.stdin.read()       # until the test kills it
""")


def _writer_flushes_then_dies(cluster, tmp_path, path: str, data: bytes) -> None:
    local = tmp_path / path.replace("/", "_")
    local.write_bytes(data)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(cluster.conf_path), path, str(local)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"flushed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()


def test_writer_sigkill_after_hflush_keeps_the_flushed_bytes(cluster, fs, wait_until, tmp_path):
    by_admin, by_limit = payload(MiB + 54_321, 3), payload(77_777, 4)
    _writer_flushes_then_dies(cluster, tmp_path, "/faults/dead-writer-a", by_admin)
    _writer_flushes_then_dies(cluster, tmp_path, "/faults/dead-writer-b", by_limit)
    # Readers see the flushed bytes while the file is still open.
    assert fs.cat("/faults/dead-writer-a") == by_admin
    assert fs.info("/faults/dead-writer-a")["under_construction"]
    result = CliRunner().invoke(cli, ["--conf", str(cluster.conf_path), "admin", "recover-lease",
                                      "/faults/dead-writer-a"], prog_name="minidfs")
    assert result.exit_code == 0, result.output
    assert "closed" in result.stdout
    assert not fs.info("/faults/dead-writer-a")["under_construction"]
    assert fs.cat("/faults/dead-writer-a") == by_admin
    # The other is recovered by the NameNode itself once the hard limit passed.
    wait_until(lambda: not fs.info("/faults/dead-writer-b")["under_construction"], WAIT_S,
               "the hard limit's lease recovery")
    assert fs.cat("/faults/dead-writer-b") == by_limit
    # Their last blocks were finalized on every replica under the recovery genstamp.
    report = wait_until(lambda: _healthy(fs, "/faults"), WAIT_S, "fsck healthy")
    assert report["open_files"] == 0


def _healthy(fs, path: str):
    report = health.fsck(fs.namenode, path)
    return report if report["healthy"] else None


def test_append_survives_a_namenode_sigkill_and_restart(cluster, fs, wait_until):
    path = "/faults/append-restart"
    a, b, c = payload(200_000, 5), payload(150_000, 6), payload(MiB, 7)
    with fs.open(path, "wb") as f:
        f.write(a)
    with fs.open(path, "ab") as f:
        f.write(b)
    with fs.open(path, "ab") as f:
        f.write(c[:500_000])
        f.flush()
        cluster.kill("nn1", "KILL")
        cluster.start("nn1")
        # The writer carries on with the restarted NameNode (its edits replayed).
        f.write(c[500_000:])
    wait_until(lambda: not fs.info(path)["under_construction"], WAIT_S, "the file closed")
    assert fs.cat(path) == a + b + c
    cluster.kill("nn1", "KILL")
    cluster.start("nn1")
    wait_until(lambda: _readable(fs, path), WAIT_S, "the file readable after the restart")
    assert fs.cat(path) == a + b + c


def _readable(fs, path: str) -> bool:
    try:
        return fs.stat(path)["length"] >= 0 and not health.fsck(fs.namenode, "/")["missing"]
    except Exception:  # noqa: BLE001 - safe mode / starting: not yet
        return False


def test_append_survives_a_failover(tmp_path):
    from cluster import LocalCluster
    from minidfs.client.ha_admin import ha_statuses

    local = LocalCluster(tmp_path / "ha", datanodes=3, ha=True, block_size=BLOCK,
                         heartbeat_interval_s=0.5, ha_lease_duration_s=2.0)
    try:
        local.up()

        def active() -> str | None:
            found = [s["name"] for s in ha_statuses(local.conf, deadline_s=1.0)
                     if s["role"] == "active"]
            return found[0] if len(found) == 1 else None

        a, b, c = payload(100_000, 8), payload(333_333, 9), payload(MiB + 1, 10)
        with local.client() as fs:
            with fs.open("/ha/log", "wb") as f:
                f.write(a)
            with fs.open("/ha/log", "ab") as f:
                f.write(b)
            first = active()
            assert first is not None
            with fs.open("/ha/log", "ab") as f:
                f.write(c[:200_000])
                f.flush()
                local.kill(first, "KILL")
                # The standby takes over with the APPEND and UPDATE_LENGTH edits applied.
                f.write(c[200_000:])
            _wait(lambda: active() not in (None, first), "the other namenode active")
            assert fs.cat("/ha/log") == a + b + c
            assert not fs.info("/ha/log")["under_construction"]
    finally:
        local.down()


def _wait(condition, what: str, timeout_s: float = WAIT_S):
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_hflushed_bytes_read_through_an_observer(tmp_path):
    """With an observer serving reads, a reader sees exactly the flushed bytes of a
    file being written (the observer knows no pipeline: the active answers). Another
    client's hflush is seen after an msync, the observer model's rule (HDFS-12943)."""
    from cluster import LocalCluster

    local = LocalCluster(tmp_path / "obs", datanodes=3, ha=True, observers=1, block_size=BLOCK,
                         heartbeat_interval_s=0.5)
    try:
        local.up()
        data = payload(BLOCK + 12_345, 11)
        with local.client() as writer, local.client() as reader:
            with writer.open("/obs/log", "wb") as f:
                f.write(data[:700_000])
                f.flush()
                reader.msync()
                assert reader.cat("/obs/log") == data[:700_000]
                f.write(data[700_000:])
                f.flush()
                reader.msync()
                assert reader.cat("/obs/log") == data
            with writer.open("/obs/log", "ab") as f:
                f.write(b"appended")
                f.flush()
                reader.msync()
                assert reader.cat("/obs/log") == data + b"appended"
            reader.msync()
            assert reader.cat("/obs/log") == data + b"appended"
    finally:
        local.down()
