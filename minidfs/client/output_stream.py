"""DFSOutputStream: writes a file's bytes into blocks through DataNode pipelines.

Created by `Client` (open(..., "wb"), put) after the Create RPC. Bytes are cut
into 64 KiB packets (the checksum unit); REQUEST_PACKETS packets travel in one
WriteBlock request because Python gRPC pays per message. Up to WINDOW_PACKETS
packets are in flight un-acked: the caller's thread builds and queues requests,
gRPC's thread streams them, and an ack-reader thread retires them, so the
pipeline never runs stop-and-wait. For every block: AddBlock (committing the
previous one with its length), a setup request that must be acked by every
target (else AbandonBlock and AddBlock again excluding the failed node), the
data, then `last=true` and every ack. close() finalizes the last block and calls
Complete until the NameNode says done. close() returns only when every DataNode
of every pipeline has acked every byte.

A DataNode failing after data was acked raises PipelineError naming it; the
un-acked requests are kept (_BlockPipeline.unacked) so pipeline recovery can
resend them once it exists.
"""
from __future__ import annotations

import collections
import io
import logging
import queue
import threading
import time

import grpc

from minidfs import errors
from minidfs.checksum import CHUNK_SIZE_BYTES, checksum_chunks
from minidfs.client.namenode_client import NamenodeClient
from minidfs.rpc import channels, client_namenode_pb2 as nn_pb
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb
from minidfs.rpc import datatransfer_pb2_grpc

log = logging.getLogger("minidfs.client.output")

REQUEST_PACKETS = 16          # packets per WriteBlock request (1 MiB)
WINDOW_PACKETS = 128          # un-acked packets in flight per pipeline (8 MiB; 4 MiB measured 2x slower)
PIPELINE_SETUP_ATTEMPTS = 4   # AddBlock tries, each excluding the node that failed
# A DataNode waits this long for its downstream's first ack (connect), so the
# client gives each hop that much for the setup ack.
SETUP_ACK_TIMEOUT_PER_NODE_S = channels.CONNECT_TIMEOUT_S + 1.0
ACK_TIMEOUT_S = 60.0          # no ack for this long while packets are in flight: failed
COMPLETE_MAX_WAIT_S = 60.0
COMPLETE_BACKOFF_S = 0.05
COMPLETE_BACKOFF_MAX_S = 1.0


class _SetupFailed(Exception):
    def __init__(self, node: str, why: str) -> None:
        super().__init__(f"{node}: {why}")
        self.node = node


class _BlockPipeline:
    """The WriteBlock stream of one block: sender side in the caller's thread,
    acks read by a background thread."""

    def __init__(self, path: str, located: common.LocatedBlock, chunk_size: int,
                 channel: grpc.Channel) -> None:
        self.path = path
        self.block = located.block
        self.targets = list(located.locations)
        self.chunk_size = chunk_size
        self.length = 0
        self.seqno = 0
        self.unacked: collections.deque[tuple[int, int, pb.WriteBlockRequest]] = collections.deque()
        self._unacked_packets = 0
        self._cond = threading.Condition()
        self._error: errors.MinidfsError | None = None
        self._failed_index: int | None = None
        self._finished = False
        self._requests: queue.Queue = queue.Queue()
        stub = datatransfer_pb2_grpc.DataTransferStub(channel)
        self._call = stub.WriteBlock(self._request_iter(), timeout=channels.DATA_STREAM_DEADLINE_S)
        self._ack_thread = threading.Thread(target=self._read_acks, name=f"acks-{self.block.id}",
                                            daemon=True)
        self._ack_thread.start()

    def _request_iter(self):
        while True:
            request = self._requests.get()
            if request is None:
                return
            yield request

    def setup(self) -> None:
        """Sends the header and waits until every target acked it; _SetupFailed names
        the first node that did not."""
        header = pb.WriteHeader(block=self.block, downstream=self.targets[1:],
                                client_name="", stage=pb.WriteHeader.CREATE,
                                chunk_size=self.chunk_size)
        self._queue(pb.WriteBlockRequest(header=header, seqno=0, offset=0), 1)
        timeout = SETUP_ACK_TIMEOUT_PER_NODE_S * len(self.targets)
        with self._cond:
            if not self._cond.wait_for(lambda: not self.unacked or self._error, timeout):
                self._fail(0, f"no setup ack within {timeout:g}s")
            if self._error is not None:
                index = self._failed_index or 0
                self.abort()
                raise _SetupFailed(self.targets[index].name, str(self._error))

    def send(self, data: bytes, last: bool) -> None:
        """Queues one request (data = whole packets but maybe the last), blocking while
        the window is full. Raises the pipeline's error."""
        checksums = checksum_chunks(data, self.chunk_size)
        packets = max(1, len(checksums))
        self.seqno += packets
        request = pb.WriteBlockRequest(seqno=self.seqno, offset=self.length, data=data,
                                       checksums=checksums, last=last)
        self.length += len(data)
        self._queue(request, packets)

    def _queue(self, request: pb.WriteBlockRequest, packets: int) -> None:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._error is not None or self._unacked_packets + packets <= WINDOW_PACKETS,
                ACK_TIMEOUT_S)
            if not ok:
                self._fail(None, f"no ack within {ACK_TIMEOUT_S:g}s")
            if self._error is not None:
                raise self._error
            self.unacked.append((request.seqno, packets, request))
            self._unacked_packets += packets
        self._requests.put(request)

    def finish(self) -> None:
        """Waits until the last request is acked by every target (the replicas are
        finalized); raises the pipeline's error otherwise."""
        self._requests.put(None)
        with self._cond:
            if not self._cond.wait_for(lambda: self._finished or self._error is not None, ACK_TIMEOUT_S):
                self._fail(None, f"no ack within {ACK_TIMEOUT_S:g}s")
            if self._error is None and self.unacked:
                self._fail(None, "stream ended before every packet was acked")
            if self._error is not None:
                raise self._error
        self._ack_thread.join()

    def abort(self) -> None:
        self._requests.put(None)
        self._call.cancel()

    def _read_acks(self) -> None:
        try:
            for ack in self._call:
                bad = [i for i, s in enumerate(ack.statuses) if s != pb.WriteBlockAck.SUCCESS]
                if len(ack.statuses) != len(self.targets) and not bad:
                    bad = [len(ack.statuses)] if len(ack.statuses) < len(self.targets) else [0]
                with self._cond:
                    if bad:
                        self._fail(bad[0], ack.message or pb.WriteBlockAck.Status.Name(ack.statuses[bad[0]]))
                        return
                    while self.unacked and self.unacked[0][0] <= ack.seqno:
                        self._unacked_packets -= self.unacked.popleft()[1]
                    self._cond.notify_all()
        except grpc.RpcError as e:
            with self._cond:
                if self._error is None and e.code() != grpc.StatusCode.CANCELLED:
                    self._fail(0, f"{e.code().name.lower()}: {e.details()}")
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def _fail(self, index: int | None, why: str) -> None:
        """Records the first failure (caller holds the lock) and stops the stream;
        index = position of the failed target when known."""
        if self._error is not None:
            return
        self._failed_index = index
        where = f"{self.targets[index].name} ({self.targets[index].address})" if index is not None \
            and index < len(self.targets) else "pipeline"
        self._error = errors.PipelineError(
            f"{self.path}: block {self.block.id}: {where} failed: {why}")
        self._cond.notify_all()
        self._requests.put(None)
        self._call.cancel()


class DFSOutputStream(io.RawIOBase):
    def __init__(self, nn: NamenodeClient, path: str, client_name: str, *, block_size: int,
                 replication: int, chunk_size: int = CHUNK_SIZE_BYTES, client_node: str = "") -> None:
        super().__init__()
        if block_size < 1 or chunk_size < 1 or replication < 1:
            raise errors.InvalidArgument(f"{path}: block size, chunk size and replication must be positive")
        self.nn = nn
        self.path = path
        self.client_name = client_name
        self.block_size = block_size
        self.replication = replication
        self.chunk_size = chunk_size
        self.client_node = client_node   # placement was decided at Create; kept for callers
        self._request_bytes = REQUEST_PACKETS * chunk_size
        self._buf = bytearray()
        self._pipeline: _BlockPipeline | None = None
        self._previous: common.Block | None = None
        self._channels: dict[str, grpc.Channel] = {}
        self._failed = False
        self.bytes_written = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if self.closed:
            raise ValueError("write to a closed file")
        if self._failed:
            raise errors.PipelineError(f"{self.path}: the stream failed earlier; nothing more is written")
        view = memoryview(b).cast("B")
        try:
            done = 0
            while done < len(view):
                if self._pipeline is None:
                    self._pipeline = self._open_block()
                target = min(self._request_bytes, self.block_size - self._pipeline.length)
                take = min(target - len(self._buf), len(view) - done)
                if not self._buf and take == target:
                    self._send(bytes(view[done:done + take]))
                else:
                    self._buf += view[done:done + take]
                    if len(self._buf) == target:
                        self._send(bytes(self._buf))
                        self._buf.clear()
                done += take
            self.bytes_written += done
            return done
        except BaseException:
            self._fail()
            raise

    def _send(self, data: bytes) -> None:
        pipeline = self._pipeline
        last = pipeline.length + len(data) >= self.block_size
        pipeline.send(data, last)
        if last:
            self._end_block()

    def _end_block(self) -> None:
        pipeline = self._pipeline
        pipeline.finish()
        self._previous = common.Block(id=pipeline.block.id, genstamp=pipeline.block.genstamp,
                                      length=pipeline.length)
        self._pipeline = None

    def _channel(self, address: str) -> grpc.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = channels.sync_channel(address)
        return channel

    def _open_block(self) -> _BlockPipeline:
        excluded: list[str] = []
        last_error = ""
        for _ in range(PIPELINE_SETUP_ATTEMPTS):
            located = self.nn.call("AddBlock", nn_pb.AddBlockRequest(
                path=self.path, client_name=self.client_name, previous=self._previous,
                excluded_nodes=excluded))
            if not located.locations:
                raise errors.PipelineError(f"{self.path}: the NameNode gave no DataNode for a new block")
            pipeline = _BlockPipeline(self.path, located, self.chunk_size,
                                      self._channel(located.locations[0].address))
            try:
                pipeline.setup()
                return pipeline
            except _SetupFailed as e:
                log.warning("%s: pipeline setup failed, excluding %s", self.path, e)
                last_error = str(e)
                excluded.append(e.node)
                self.nn.call("AbandonBlock", nn_pb.AbandonBlockRequest(
                    path=self.path, client_name=self.client_name, block=located.block))
        raise errors.PipelineError(f"{self.path}: no pipeline could be set up after "
                                   f"{PIPELINE_SETUP_ATTEMPTS} attempts: {last_error}")

    def _complete(self) -> None:
        deadline = time.monotonic() + COMPLETE_MAX_WAIT_S
        backoff = COMPLETE_BACKOFF_S
        request = nn_pb.CompleteRequest(path=self.path, client_name=self.client_name, last=self._previous)
        while not self.nn.call("Complete", request).done:
            if time.monotonic() >= deadline:
                raise errors.PipelineError(
                    f"{self.path}: not complete after {COMPLETE_MAX_WAIT_S:g}s: the NameNode has "
                    "not heard of the last block from enough DataNodes")
            time.sleep(backoff)
            backoff = min(backoff * 2, COMPLETE_BACKOFF_MAX_S)

    def _fail(self) -> None:
        self._failed = True
        if self._pipeline is not None:
            self._pipeline.abort()
            self._pipeline = None

    def close(self) -> None:
        """Finalizes the last block and completes the file; returns once every
        DataNode has acked every byte and the NameNode has closed the file."""
        if self.closed:
            return
        try:
            if not self._failed:
                try:
                    if self._pipeline is not None:
                        self._pipeline.send(bytes(self._buf), True)
                        self._buf.clear()
                        self._end_block()
                    self._complete()
                except BaseException:
                    self._fail()
                    raise
        finally:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            super().close()
