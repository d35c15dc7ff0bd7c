"""The quorum journal against three real JournalNode processes.

Each test gets its own jn1..jn3 (python -m minidfs.journalnode.server) on free
loopback ports under tmp_path; every process is stopped in the fixture's finally.
"""
from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import textwrap
import time

import grpc
import pytest

from minidfs import config
from minidfs.errors import FencedError, Unavailable
from minidfs.journalnode import frames
from minidfs.namenode.editlog_format import encode
from minidfs.namenode.journal import JournalError
from minidfs.qjournal.quorum_journal import QuorumJournal
from minidfs.qjournal.quorum_reader import QuorumReader
from minidfs.rpc import channels, journal_pb2 as pb, journal_pb2_grpc

JN_NAMES = ("jn1", "jn2", "jn3")
START_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(txid: int) -> bytes:
    return encode({"txid": txid, "op": "MKDIRS", "path": f"/d{txid}", "mtime": txid})


class JournalNodes:
    def __init__(self, tmp_path) -> None:
        self.conf_path = tmp_path / "cluster.toml"
        lines = ["[cluster]", "ha = true"]
        for name in JN_NAMES:
            lines += [f"[nodes.{name}]", 'kind = "journalnode"',
                      f'address = "127.0.0.1:{free_port()}"', f'data_dir = "nodes/{name}"']
        self.conf_path.write_text("\n".join(lines) + "\n")
        self.conf = config.load(self.conf_path)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = tmp_path

    @property
    def addresses(self) -> list[tuple[str, str]]:
        return [(n, self.conf.node(n).address) for n in JN_NAMES]

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "minidfs.journalnode.server", "--conf", str(self.conf_path),
             "--id", name], stderr=log, stdout=log)
        self.wait_serving(name)

    def wait_serving(self, name: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.stub(name).GetJournalState(pb.GetJournalStateRequest(journal_id="minidfs"),
                                                timeout=1.0)
                return
            except grpc.RpcError:
                if time.monotonic() > deadline or self.procs[name].poll() is not None:
                    raise AssertionError(f"{name} did not start: "
                                         f"{(self.logs / f'{name}.log').read_text()}")
                time.sleep(0.1)

    def signal(self, name: str, sig: int) -> None:
        self.procs[name].send_signal(sig)
        if sig == signal.SIGKILL:
            self.procs[name].wait(10)

    def stub(self, name: str) -> journal_pb2_grpc.JournalStub:
        return journal_pb2_grpc.JournalStub(channels.sync_channel(self.conf.node(name).address))

    def segment_names(self, name: str) -> list[str]:
        current = self.conf.node(name).data_dir / "minidfs" / "current"
        return sorted(p.name for p in current.glob("edits_*.log"))

    def segment_files(self, name: str) -> dict[str, bytes]:
        current = self.conf.node(name).data_dir / "minidfs" / "current"
        return {p.name: p.read_bytes() for p in current.glob("edits_*.log")}

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def jns(tmp_path):
    nodes = JournalNodes(tmp_path)
    try:
        for name in JN_NAMES:
            nodes.start(name)
        yield nodes
    finally:
        nodes.stop_all()


async def write(journal: QuorumJournal, first: int, last: int) -> None:
    for txid in range(first, last + 1):
        journal.append(txid, record(txid))
    await journal.sync(last)


async def open_writer(jns: JournalNodes, name: str = "nn1") -> QuorumJournal:
    journal = QuorumJournal(jns.addresses, writer=name)
    last = await asyncio.to_thread(journal.recover)
    await journal.open(last)
    return journal


async def test_batches_reach_every_journal_node(jns) -> None:
    journal = await open_writer(jns)
    try:
        await write(journal, 1, 40)
        # group commit: many waiters, few flushes
        for txid in range(41, 141):
            journal.append(txid, record(txid))
        await asyncio.gather(*(journal.sync(t) for t in range(41, 141)))
        assert journal.synced_txid == 140
        await journal.roll()
        await write(journal, 141, 150)
        await journal.roll()
        await write(journal, 151, 155)
    finally:
        await journal.close()
    expected = ["edits_0000000000000000001-0000000000000000140.log",
                "edits_0000000000000000141-0000000000000000150.log",
                "edits_0000000000000000151-0000000000000000155.log"]
    for name in JN_NAMES:
        files = jns.segment_files(name)
        assert sorted(files) == expected, name
        assert files == jns.segment_files("jn1")
    reader = QuorumReader(jns.addresses)
    try:
        txids = [t for t, _ in await asyncio.to_thread(lambda: list(reader.read_edits(1)))]
    finally:
        reader.shutdown()
    assert txids == list(range(1, 156))


async def test_purge_drops_old_segments_everywhere(jns) -> None:
    journal = await open_writer(jns)
    try:
        await write(journal, 1, 10)
        await journal.roll()
        await write(journal, 11, 12)
        journal.purge(10)
        deadline = time.monotonic() + 10
        while any(len(jns.segment_names(n)) != 1 for n in JN_NAMES):
            assert time.monotonic() < deadline, [jns.segment_names(n) for n in JN_NAMES]
            await asyncio.sleep(0.05)
    finally:
        await journal.close()


async def test_one_node_down_writes_continue_two_down_refused(jns) -> None:
    journal = await open_writer(jns)
    try:
        await write(journal, 1, 10)
        jns.signal("jn3", signal.SIGKILL)
        await write(journal, 11, 30)
        jns.signal("jn2", signal.SIGKILL)
        journal.append(31, record(31))
        with pytest.raises(Unavailable, match="journal quorum lost") as failure:
            await journal.sync(31)
        assert isinstance(failure.value, JournalError)
        with pytest.raises(JournalError):   # sticky: the NameNode must stop
            journal.append(32, record(32))
    finally:
        await journal.close()
    # jn1 acknowledged everything up to 30 before it was left alone
    jn1 = jns.segment_files("jn1")["edits_inprogress_0000000000000000001.log"]
    assert [t for t, _ in frames.decode_batch(jn1[: len(b"".join(record(t) for t in range(1, 31)))],
                                              1, 30)][-1] == 30


async def test_a_newer_writer_fences_the_old_one(jns) -> None:
    old = await open_writer(jns, "nn1")
    new = None
    try:
        await write(old, 1, 20)
        new = QuorumJournal(jns.addresses, writer="nn2")
        last = await asyncio.to_thread(new.recover)
        assert last == 20 and new.epoch == old.epoch + 1
        old.append(21, record(21))
        with pytest.raises(FencedError, match="fenced"):
            await old.sync(21)
        await new.open(last)
        await write(new, 21, 25)
    finally:
        await old.close()
        if new is not None:
            await new.close()
    for name in JN_NAMES:
        files = jns.segment_files(name)
        assert sorted(files) == ["edits_0000000000000000001-0000000000000000020.log",
                                 "edits_0000000000000000021-0000000000000000025.log"], name
        history = [(t, r["path"]) for t, r in frames.decode_batch(
            files["edits_0000000000000000021-0000000000000000025.log"], 21, 5)]
        assert history == [(t, f"/d{t}") for t in range(21, 26)]   # old writer's 21 is gone


WRITER_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from minidfs.namenode.editlog_format import encode
    from minidfs.qjournal.quorum_journal import QuorumJournal
    nodes = [tuple(a.split("=")) for a in sys.argv[1:]]
    async def main():
        j = QuorumJournal(nodes, writer="nn1")
        last = await asyncio.to_thread(j.recover)
        await j.open(last)
        txid = last
        while True:
            for _ in range(7):
                txid += 1
                j.append(txid, encode({"txid": txid, "op": "MKDIRS", "path": f"/w{txid}"}))
            await j.sync(txid)
            print(txid, flush=True)
    asyncio.run(main())
""")


async def test_recovery_after_writer_killed_mid_batch_agrees_on_one_history(jns) -> None:
    args = [f"{n}={a}" for n, a in jns.addresses]
    writer = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, *args],
                              stdout=subprocess.PIPE, text=True)
    acked = 0
    try:
        for line in writer.stdout:
            acked = int(line)
            if acked >= 120:
                jns.signal("jn3", signal.SIGSTOP)    # jn3 falls behind the quorum
            if acked >= 300:
                break
        writer.kill()
        writer.wait(10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(10)
        writer.stdout.close()
    jns.signal("jn3", signal.SIGCONT)
    journal = QuorumJournal(jns.addresses, writer="nn2")
    try:
        last = await asyncio.to_thread(journal.recover)
        assert last >= acked      # nothing acknowledged is lost
        history = await asyncio.to_thread(lambda: list(journal.read_edits(1)))
        assert [t for t, _ in history] == list(range(1, last + 1))
        assert all(r["path"] == f"/w{t}" for t, r in history)
    finally:
        await journal.close()
    finalized = f"edits_0000000000000000001-{last:019d}.log"
    copies = [jns.segment_files(n).get(finalized) for n in JN_NAMES]
    assert sum(c is not None for c in copies) >= 2
    assert len({c for c in copies if c is not None}) == 1   # one history, byte for byte


async def test_tailer_follows_committed_edits_and_lease(jns) -> None:
    journal = await open_writer(jns)
    reader = QuorumReader(jns.addresses)
    try:
        await write(journal, 1, 30)
        assert await journal.renew_lease(1_000)      # also carries the committed txid
        tailed = await asyncio.to_thread(lambda: list(reader.read_edits(1)))
        assert [t for t, _ in tailed] == list(range(1, 31))
        views = await reader.lease_views()
        assert len(views) == 3 and all(v.holder == "nn1" and v.remaining_ms > 0 for v in views)
        assert not await reader.lease_lapsed()
        await asyncio.sleep(1.2)
        assert await reader.lease_lapsed()
        assert not journal.lease.valid(time.monotonic_ns() // 1_000_000)
    finally:
        reader.shutdown()
        await journal.close()


def test_malformed_requests_get_invalid_argument_and_node_keeps_serving(jns) -> None:
    stub = jns.stub("jn1")

    def code(method: str, request) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as e:
            getattr(stub, method)(request, timeout=5)
        return e.value.code()

    bad_id = pb.RequestInfo(journal_id="../etc", epoch=1)
    assert code("NewEpoch", pb.NewEpochRequest(journal_id="../etc", epoch=1)) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code("NewEpoch", pb.NewEpochRequest(journal_id="minidfs", epoch=0)) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code("StartLogSegment", pb.StartLogSegmentRequest(info=bad_id, first_txid=1)) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code("Journal", pb.JournalRequest(first_txid=1, num_txns=1, records=b"x")) \
        == grpc.StatusCode.INVALID_ARGUMENT
    stub.NewEpoch(pb.NewEpochRequest(journal_id="minidfs", epoch=1), timeout=5)
    info = pb.RequestInfo(journal_id="minidfs", epoch=1)
    stub.StartLogSegment(pb.StartLogSegmentRequest(info=info, first_txid=1), timeout=5)
    assert code("Journal", pb.JournalRequest(info=info, segment_first_txid=1, first_txid=1,
                                             num_txns=1, records=b"\x01" * 40)) \
        == grpc.StatusCode.DATA_LOSS
    assert code("Journal", pb.JournalRequest(info=info, segment_first_txid=1, first_txid=1,
                                             num_txns=0, records=record(1))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code("AcceptRecovery", pb.AcceptRecoveryRequest(
        info=info, segment=pb.SegmentState(first_txid=1, last_txid=1), source_node="nope")) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code("RenewLease", pb.RenewLeaseRequest(info=info, holder="nn1",
                                                   duration_ms=10**9)) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code("GetJournaledEdits", pb.GetJournaledEditsRequest(journal_id="minidfs")) \
        == grpc.StatusCode.INVALID_ARGUMENT
    old = pb.RequestInfo(journal_id="minidfs", epoch=1)
    stub.NewEpoch(pb.NewEpochRequest(journal_id="minidfs", epoch=2), timeout=5)
    with pytest.raises(grpc.RpcError) as e:
        stub.Journal(pb.JournalRequest(info=old, segment_first_txid=1, first_txid=1,
                                       num_txns=1, records=record(1)), timeout=5)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "fenced: epoch 1 < promised 2" in e.value.details()
    # still serving
    state = stub.GetJournalState(pb.GetJournalStateRequest(journal_id="minidfs"), timeout=5)
    assert state.promised_epoch == 2
    assert jns.procs["jn1"].poll() is None


def test_corrupt_segment_stops_startup_with_one_line(jns, tmp_path) -> None:
    stub = jns.stub("jn2")
    stub.NewEpoch(pb.NewEpochRequest(journal_id="minidfs", epoch=1), timeout=5)
    info = pb.RequestInfo(journal_id="minidfs", epoch=1)
    stub.StartLogSegment(pb.StartLogSegmentRequest(info=info, first_txid=1), timeout=5)
    stub.Journal(pb.JournalRequest(info=info, segment_first_txid=1, first_txid=1, num_txns=3,
                                   records=record(1) + record(2) + record(3)), timeout=5)
    jns.signal("jn2", signal.SIGKILL)
    path = jns.conf.node("jn2").data_dir / "minidfs" / "current" / \
        "edits_inprogress_0000000000000000001.log"
    data = bytearray(path.read_bytes())
    data[15] ^= 0xFF
    path.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, "-m", "minidfs.journalnode.server", "--conf",
                           str(jns.conf_path), "--id", "jn2"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith("minidfs journalnode jn2: ") and "corrupt" in last_line
    assert "Traceback" not in proc.stderr
