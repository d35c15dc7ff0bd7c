"""A WriteBlock call that ends while its replica is being finalized: the finalize
runs to its end and is reported (found by `cluster chaos`: the replica was left
unreported, "Closing" at the NameNode for ever). Real storage on a temp dir; the
finalize is held at its start by an event, so the call can end in the middle."""
from __future__ import annotations

import asyncio
import threading

from minidfs.checksum import checksum_chunks
from minidfs.datanode import wire, write_pipeline
from minidfs.datanode.storage import FINALIZED, ReplicaWriter, Storage
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb

CHUNK = 1024
DATA = b"x" * (3 * CHUNK)


def _request() -> write_pipeline.Received:
    header = pb.WriteHeader(block=common.Block(id=7, genstamp=1), chunk_size=CHUNK,
                            stage=pb.WriteHeader.CREATE)
    msg = pb.WriteBlockRequest(header=header, seqno=3, offset=0,
                               checksums=checksum_chunks(DATA, CHUNK), last=True)
    return write_pipeline.Received.parse(
        wire.encode_with_data(msg.SerializeToString(), write_pipeline.DATA_FIELD, DATA))


def test_a_call_ended_during_finalize_still_finalizes_and_reports(tmp_path, monkeypatch) -> None:
    storage = Storage(tmp_path, block_size_bytes=64 * 1024)
    storage.open()
    started, release = threading.Event(), threading.Event()
    real_finalize = ReplicaWriter.finalize

    def held_finalize(self):
        started.set()
        release.wait(10)
        return real_finalize(self)
    monkeypatch.setattr(ReplicaWriter, "finalize", held_finalize)
    reported = []
    ctx = write_pipeline.PipelineContext("dn1", storage, None, reported.append)

    async def scenario() -> None:
        async def requests():
            yield _request()
            await asyncio.Event().wait()      # the client sends nothing more
        acks = write_pipeline.serve(ctx, requests())
        call = asyncio.ensure_future(anext(acks))
        while not started.is_set():
            await asyncio.sleep(0.01)
        call.cancel()                         # the call ends: its handler is cancelled
        await asyncio.gather(call, return_exceptions=True)
        await acks.aclose()
        release.set()
        for _ in range(500):
            if reported:
                break
            await asyncio.sleep(0.01)
    asyncio.run(scenario())
    (replica,) = reported
    assert replica.block_id == 7 and replica.state == FINALIZED
    assert storage.get(7).state == FINALIZED and storage.get(7).length == len(DATA)
