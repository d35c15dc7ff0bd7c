"""DFSOutputStream: writes a file's bytes into blocks through DataNode pipelines.

Created by `Client` (open(..., "wb"), put) after the Create RPC. Bytes are cut
into 64 KiB packets (the checksum unit); REQUEST_PACKETS packets travel in one
WriteBlock request because Python gRPC pays per message. Up to WINDOW_PACKETS
packets are in flight un-acked: the caller's thread builds and queues requests,
gRPC's thread streams them, and an ack-reader thread retires them, so the
pipeline never runs stop-and-wait. For every block: its targets (from Create for
the first block, else AddBlock, committing the previous one with its length, as
soon as a byte for it is written), then its first request carrying the pipeline
header, which must be acked by every target before more is sent (else
AbandonBlock and AddBlock again excluding the failed node), the rest of the
data, then `last=true` and every ack. A small file is one request: header, data
and `last`. close() finalizes the last block and calls
Complete until the NameNode says done. close() returns only when every DataNode
of every pipeline has acked every byte.

A DataNode failing mid-block is dropped by pipeline recovery
(pipeline_recovery.py): every request sent but not acked by all is kept
(_BlockPipeline.unacked) and resent to the survivors under a new genstamp, a
replacement node is added when the policy says so, and the write goes on. It
fails (PipelineError) only when no DataNode is left.

hflush() / hsync() (docs/append.md) send what is buffered, a short last chunk
included, wait for every ack and tell the NameNode the length (Fsync); that chunk
stays buffered and goes again, longer, in the next request, which starts at its
chunk boundary. An append (append.py) starts the stream on the file's last block.
"""
from __future__ import annotations

import collections
import io
import logging
import queue
import threading
import time
from typing import NamedTuple

import grpc

from minidfs import errors
from minidfs.checksum import CHUNK_SIZE_BYTES, checksum_chunks
from minidfs.client import append, pipeline_recovery
from minidfs.client.namenode_client import NamenodeClient
from minidfs.datanode import wire
from minidfs.datanode.peers import WRITE_BLOCK_METHOD
from minidfs.rpc import channels, client_namenode_pb2 as nn_pb
from minidfs.rpc.channel_pool import ChannelPool, Lease
from minidfs.security.datanode_tokens import token_metadata
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb

log = logging.getLogger("minidfs.client.output")

REQUEST_PACKETS = 16          # packets per WriteBlock request (1 MiB; 2 MiB measured, see docs/datanode.md)
WINDOW_PACKETS = 128          # un-acked packets in flight per pipeline (8 MiB; 4 MiB measured 2x slower)
PIPELINE_SETUP_ATTEMPTS = 4   # AddBlock tries, each excluding the node that failed
# A DataNode waits this long for its downstream's first ack (connect), so the
# client gives each hop that much for the setup ack.
SETUP_ACK_TIMEOUT_PER_NODE_S = channels.CONNECT_TIMEOUT_S + 1.0
ACK_TIMEOUT_S = 60.0          # no ack for this long while packets are in flight: failed
COMPLETE_MAX_WAIT_S = 60.0
COMPLETE_BACKOFF_S = 0.05
COMPLETE_BACKOFF_MAX_S = 1.0
DATA_FIELD = pb.WriteBlockRequest.DESCRIPTOR.fields_by_name["data"].number


class _SetupFailed(Exception):
    def __init__(self, node: str, why: str) -> None:
        super().__init__(f"{node}: {why}")
        self.node = node


class Sent(NamedTuple):
    """A request sent but not yet acked by every target: kept for a resend."""

    seqno: int
    packets: int
    wire: bytes       # the encoded request, resent as it is
    end: int          # block offset just after its data


class _BlockPipeline:
    """The WriteBlock stream of one block: sender side in the caller's thread,
    acks read by a background thread. A recovery pipeline (pipeline_recovery.py)
    continues a broken one: its counters start where that one's stopped."""

    def __init__(self, path: str, located: common.LocatedBlock, chunk_size: int,
                 channel: grpc.Channel, *, length: int = 0, seqno: int = 0,
                 acked_length: int = 0, recoveries: int = 0) -> None:
        self.path = path
        self.block = located.block
        self.targets = list(located.locations)
        self.token = located.block_token    # secure mode: the NameNode's WRITE token
        self.chunk_size = chunk_size
        self.length = length                # bytes sent so far
        self.seqno = seqno                  # last packet number sent
        self.acked_length = acked_length    # bytes acked by every target
        self.recoveries = recoveries        # pipeline recoveries of this block so far
        self.unacked: collections.deque[Sent] = collections.deque()
        self._unacked_packets = 0
        self._cond = threading.Condition()
        self._error: errors.MinidfsError | None = None
        self._failed_index: int | None = None
        self._connected = False     # the first node's initial metadata: the pipeline is up
        self._finished = False
        self._requests: queue.Queue = queue.Queue()
        # Requests go out as wire bytes built by wire.encode_with_data: protobuf
        # would copy each 1 MiB payload twice more (set + serialize).
        write_block = channel.stream_stream(WRITE_BLOCK_METHOD, request_serializer=None,
                                            response_deserializer=pb.WriteBlockAck.FromString)
        self._call = write_block(self._request_iter(), timeout=channels.DATA_STREAM_DEADLINE_S,
                                 metadata=token_metadata(self.token))
        self._ack_thread = threading.Thread(target=self._read_acks, name=f"acks-{self.block.id}",
                                            daemon=True)
        self._ack_thread.start()

    def _request_iter(self):
        while True:
            request = self._requests.get()
            if request is None:
                return
            yield request

    def setup(self, recovery: bool = False, first: bytes | bytearray | memoryview = b"",
              last: bool = False) -> None:
        """Sends the header and waits until every target acked it; _SetupFailed names
        the first node that did not. A new block's header carries its first request
        (`first`, `last`): the setup ack is that request's ack, one round trip for
        both (a whole small file, finalized, when last). With recovery, stage
        RECOVERY: the targets resume the block at acked_length (under the block's
        new genstamp), and a failure raises PipelineError (failed_node() names the
        node)."""
        offset = self.acked_length if recovery else 0
        block = common.Block(id=self.block.id, genstamp=self.block.genstamp, length=offset)
        header = pb.WriteHeader(block=block, downstream=self.targets[1:], client_name="",
                                stage=pb.WriteHeader.RECOVERY if recovery else pb.WriteHeader.CREATE,
                                chunk_size=self.chunk_size)
        checksums = checksum_chunks(first, self.chunk_size) if first else []
        packets = len(checksums)
        request = pb.WriteBlockRequest(header=header, seqno=packets, offset=offset,
                                       checksums=checksums, last=last)
        encoded = (wire.encode_with_data(request.SerializeToString(), DATA_FIELD, first)
                   if first else request.SerializeToString())
        if first:
            self.seqno, self.length = packets, len(first)
        try:
            self._queue(Sent(packets, max(1, packets), encoded, offset + len(first)))
        except errors.PipelineError:
            pass  # the first node refused the connection at once: handled below
        timeout = SETUP_ACK_TIMEOUT_PER_NODE_S * len(self.targets)
        with self._cond:
            # Connected within the setup timeout; the ack may take longer (a small
            # file's first request is also its last: the ack waits for the fsyncs).
            if not self._cond.wait_for(lambda: self._connected or not self.unacked or self._error,
                                       timeout):
                self._fail(0, f"no setup ack within {timeout:g}s")
            if not self._cond.wait_for(lambda: not self.unacked or self._error, ACK_TIMEOUT_S):
                self._fail(None, f"no ack within {ACK_TIMEOUT_S:g}s")
            if self._error is not None:
                self.abort()
                if recovery:
                    raise self._error
                raise _SetupFailed(self.failed_node(), str(self._error))
        self.acked_length = max(self.acked_length, offset + len(first))

    def send(self, data: bytes | bytearray | memoryview, last: bool, sync: bool = False) -> None:
        """Queues one request (data = whole packets but maybe the last; copied once,
        so the caller may reuse its buffer), blocking while the window is full.
        `sync`: the DataNodes fsync before acking (hsync). Raises the pipeline's error."""
        checksums = checksum_chunks(data, self.chunk_size)
        packets = max(1, len(checksums))
        self.seqno += packets
        small = pb.WriteBlockRequest(seqno=self.seqno, offset=self.length, checksums=checksums,
                                     last=last, sync=sync).SerializeToString()
        self.length += len(data)
        self._queue(Sent(self.seqno, packets, wire.encode_with_data(small, DATA_FIELD, data),
                         self.length))

    def resend(self, sent: Sent) -> None:
        """Queues a request a broken pipeline had sent (recovery)."""
        self._queue(sent)

    def _queue(self, sent: Sent) -> None:
        """Queues a request, blocking while the window is full. On the pipeline's error
        the request is kept in unacked (recovery resends it) and the error raised."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._error is not None or self._unacked_packets + sent.packets <= WINDOW_PACKETS,
                ACK_TIMEOUT_S)
            if not ok:
                self._fail(None, f"no ack within {ACK_TIMEOUT_S:g}s")
            self.unacked.append(sent)
            self._unacked_packets += sent.packets
            if self._error is not None:
                raise self._error
        self._requests.put(sent.wire)

    @property
    def error(self) -> errors.MinidfsError | None:
        return self._error

    def failed_node(self) -> str:
        """The target that failed; the first one when nobody could tell (a timeout)."""
        index = self._failed_index if self._failed_index is not None else 0
        return self.targets[min(index, len(self.targets) - 1)].name

    def pending(self) -> list[Sent]:
        """The data requests not acked by every target, in order (after a failure).
        (A header is never among them: setup waits for its ack.)"""
        with self._cond:
            return [sent for sent in self.unacked if sent.seqno > 0]

    def wait_acked(self) -> None:
        """Waits until every request sent so far is acked by every target (hflush);
        raises the pipeline's error."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self.unacked or self._error is not None,
                                       ACK_TIMEOUT_S):
                self._fail(None, f"no ack within {ACK_TIMEOUT_S:g}s")
            if self._error is not None:
                raise self._error

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
            self._call.initial_metadata()      # "connected" (write_pipeline.py)
            with self._cond:
                self._connected = True
                self._cond.notify_all()
            for ack in self._call:
                bad = [i for i, s in enumerate(ack.statuses) if s != pb.WriteBlockAck.SUCCESS]
                if len(ack.statuses) != len(self.targets) and not bad:
                    bad = [len(ack.statuses)] if len(ack.statuses) < len(self.targets) else [0]
                with self._cond:
                    if bad:
                        self._fail(bad[0], ack.message or pb.WriteBlockAck.Status.Name(ack.statuses[bad[0]]))
                        return
                    while self.unacked and self.unacked[0].seqno <= ack.seqno:
                        sent = self.unacked.popleft()
                        self._unacked_packets -= sent.packets
                        self.acked_length = sent.end
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
    """`pool`: the owning Client's channels (a private pool, closed with the stream,
    without one). `first_block`: the first block's targets when Create handed them
    out already (CreateRequest.add_block), which saves an AddBlock round trip."""

    def __init__(self, nn: NamenodeClient, path: str, client_name: str, *, block_size: int,
                 replication: int, chunk_size: int = CHUNK_SIZE_BYTES, client_node: str = "",
                 pool: ChannelPool | None = None,
                 first_block: common.LocatedBlock | None = None,
                 append_to: common.LocatedBlock | None = None, reopened: bool = False) -> None:
        """`append_to`: the file's last block when appending (Append's answer); with
        `reopened` its pipeline is opened again at once (append.py)."""
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
        self._own_pool = pool is None
        self._pool = ChannelPool(max_channels=4) if pool is None else pool
        self._leases: dict[str, Lease] = {}
        # The next block's targets, allocated before its first request is sent: by
        # Create for the first block, by AddBlock as soon as a byte for a later block
        # is written (as before the header carried data, so close() still has no
        # NameNode call left but Complete once every byte is buffered).
        self._next_block = first_block
        # The block being written was hflushed or appended to: a DataNode it loses is
        # replaced (HDFS's policy for such blocks, pipeline_recovery.should_replace).
        self._flushed_block = False
        self._failed = False
        self.bytes_written = 0
        # Set once every byte is acked and Complete is sent: from here a failure may
        # leave the file whole (the put's outcome is then unknown, not failed).
        self.completing = False
        # hflush: bytes written since the last one (nothing new, nothing to send).
        self._unflushed = False
        if append_to is not None:
            try:
                append.resume(self, append_to, reopened)
            except BaseException:
                self._fail()
                self._release()
                raise

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
                if self._pipeline is None and self._next_block is None:
                    self._next_block = self._add_block([])
                block_length = self._pipeline.length if self._pipeline is not None else 0
                target = min(self._request_bytes, self.block_size - block_length)
                take = min(target - len(self._buf), len(view) - done)
                if not self._buf and take == target:
                    self._send(view[done:done + take])
                else:
                    self._buf += view[done:done + take]
                    if len(self._buf) == target:
                        self._send(self._buf)
                        self._buf.clear()
                done += take
            self.bytes_written += done
            self._unflushed = self._unflushed or done > 0
            return done
        except BaseException:
            self._fail()
            raise

    def _send(self, data: bytearray | memoryview, last: bool = False) -> None:
        """Sends one request (the block's last when it fills the block or `last`),
        recovering the pipeline if it broke; a full block is finished. A block's
        first request opens it, carried by the pipeline's header."""
        block_length = self._pipeline.length if self._pipeline is not None else 0
        last = last or block_length + len(data) >= self.block_size
        if self._pipeline is None:
            self._pipeline = self._open_block(data, last)
        else:
            try:
                self._pipeline.send(data, last)
            except errors.PipelineError:
                self._recover()      # the request was kept: it is resent with the rest
        if last:
            self._end_block()

    def hflush(self, sync: bool = False) -> None:
        """Makes every byte written so far visible to new readers: sent and acked by
        every DataNode of the pipeline, the length told to the NameNode (HDFS's
        hflush). With `sync` the DataNodes also fsync the block first (hsync)."""
        if self.closed:
            raise ValueError("flush of a closed file")
        if self._failed:
            raise errors.PipelineError(f"{self.path}: the stream failed earlier; nothing more is written")
        if not (self._unflushed or (sync and self._pipeline is not None)):
            return
        try:
            if self._pipeline is None and not self._buf:
                # Every block so far is finalized (fsynced); the last one, just filled,
                # is not yet committed at the NameNode: its length is news there.
                last = self._previous
            else:
                self._flush_buffer(sync)
                while True:
                    try:
                        self._pipeline.wait_acked()
                        break
                    except errors.PipelineError:
                        self._recover()
                pipeline = self._pipeline
                last = common.Block(id=pipeline.block.id, genstamp=pipeline.block.genstamp,
                                    length=pipeline.acked_length)
            if last is not None:
                self.nn.call("Fsync", nn_pb.FsyncRequest(
                    path=self.path, client_name=self.client_name, last_block=last))
            self._unflushed = False
            self._flushed_block = True
        except BaseException:
            self._fail()
            raise

    def hsync(self) -> None:
        """hflush, and every DataNode of the pipeline fsyncs the block (HDFS's hsync)."""
        self.hflush(sync=True)

    def _flush_buffer(self, sync: bool) -> None:
        """Sends the buffered bytes, a short last chunk included, yet keeps that chunk
        buffered: the next request sends it again, longer, from its chunk boundary
        (the DataNode rewrites it; datatransfer.proto)."""
        data = bytes(self._buf)
        if self._pipeline is None:
            self._pipeline = self._open_block(data, last=False)
            if sync:
                self._send_kept(b"", sync)
        else:
            self._send_kept(data, sync)
        pipeline = self._pipeline
        tail = pipeline.length % self.chunk_size
        pipeline.length -= tail
        self._buf = bytearray(data[len(data) - tail:] if tail else b"")

    def _send_kept(self, data: bytes, sync: bool) -> None:
        try:
            self._pipeline.send(data, last=False, sync=sync)
        except errors.PipelineError:
            self._recover()      # the request was kept: it is resent with the rest

    def _recover(self) -> None:
        first = self._pipeline.targets[0]
        if self._pipeline.failed_node() == first.name:
            self._forget(first.address)
        self._pipeline = pipeline_recovery.recover(
            self.nn, self.path, self.client_name, self.replication, self._pipeline,
            self._channel, _BlockPipeline, flushed=self._flushed_block)

    def _end_block(self) -> None:
        while True:
            try:
                self._pipeline.finish()
                break
            except errors.PipelineError:
                self._recover()
        pipeline = self._pipeline
        self._previous = common.Block(id=pipeline.block.id, genstamp=pipeline.block.genstamp,
                                      length=pipeline.length)
        self._pipeline = None
        self._flushed_block = False

    def _channel(self, address: str) -> grpc.Channel:
        """This stream's channel to address: a pooled one, leased until close()."""
        lease = self._leases.get(address)
        if lease is None:
            lease = self._leases[address] = self._pool.lease(address)
        return lease.channel

    def _forget(self, address: str) -> None:
        """A node failed: later blocks (and other streams) connect to it afresh."""
        lease = self._leases.pop(address, None)
        if lease is not None:
            lease.release()
        self._pool.forget(address)

    def _add_block(self, excluded: list[str]) -> common.LocatedBlock:
        return self.nn.call("AddBlock", nn_pb.AddBlockRequest(
            path=self.path, client_name=self.client_name, previous=self._previous,
            excluded_nodes=excluded))

    def _open_block(self, first: bytes | bytearray | memoryview, last: bool) -> _BlockPipeline:
        excluded: list[str] = []
        last_error = ""
        for _ in range(PIPELINE_SETUP_ATTEMPTS):
            located, self._next_block = self._next_block, None
            if located is None:
                located = self._add_block(excluded)
            if not located.locations:
                raise errors.PipelineError(f"{self.path}: the NameNode gave no DataNode for a new block")
            pipeline = _BlockPipeline(self.path, located, self.chunk_size,
                                      self._channel(located.locations[0].address))
            try:
                pipeline.setup(first=first, last=last)
                return pipeline
            except _SetupFailed as e:
                log.warning("%s: pipeline setup failed, excluding %s", self.path, e)
                last_error = str(e)
                excluded.append(e.node)
                if e.node == located.locations[0].name:
                    self._forget(located.locations[0].address)
                self.nn.call("AbandonBlock", nn_pb.AbandonBlockRequest(
                    path=self.path, client_name=self.client_name, block=located.block))
        raise errors.PipelineError(f"{self.path}: no pipeline could be set up after "
                                   f"{PIPELINE_SETUP_ATTEMPTS} attempts: {last_error}")

    def _complete(self) -> None:
        deadline = time.monotonic() + COMPLETE_MAX_WAIT_S
        backoff = COMPLETE_BACKOFF_S
        request = nn_pb.CompleteRequest(path=self.path, client_name=self.client_name, last=self._previous)
        self.completing = True
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
                    if self._pipeline is not None or self._buf:
                        self._send(self._buf, last=True)
                        self._buf.clear()
                    if self._next_block is not None:
                        # An empty file: give back the block Create handed out.
                        self.nn.call("AbandonBlock", nn_pb.AbandonBlockRequest(
                            path=self.path, client_name=self.client_name,
                            block=self._next_block.block))
                        self._next_block = None
                    self._complete()
                except BaseException:
                    self._fail()
                    raise
        finally:
            self._release()
            super().close()

    def _release(self) -> None:
        for lease in self._leases.values():
            lease.release()
        self._leases.clear()
        if self._own_pool:
            self._pool.close()

    def flush(self) -> None:
        """io's flush is a no-op here (close() calls it): hflush() is explicit."""
