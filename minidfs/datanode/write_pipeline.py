"""One WriteBlock call on a DataNode: receive, forward, verify, write, ack.

Called by the DataTransfer servicer (datanode/service.py) for every WriteBlock
stream, from a client (stage CREATE, or RECOVERY after a pipeline failure) or
another DataNode (stage TRANSFER). The contract is in
protos/minidfs/rpc/datatransfer.proto; in short:

* the first request carries the header (and, from a client, the block's first
  data: one round trip for a small file); this node opens WriteBlock to
  downstream[0] with downstream[1:] and forwards every request as soon as it has
  checked its framing (before the local write, so the nodes work in parallel);
* "connected" travels up as the call's initial metadata, before any ack: the tail
  sends it on the header, every other node once its downstream's has come (or
  that node was given up on): so a hung node is found within
  DOWNSTREAM_SETUP_TIMEOUT_PER_NODE_S per hop although the first ack may wait for
  a finalize's fsync;
* each request is checksum-verified and written; `last` finalizes the replica;
* one ack per request goes upstream once the local write AND the downstream ack
  of the same seqno are in; statuses = [this node, downstream...]. A downstream
  that cannot be reached or breaks reports ERROR for its position and the ones
  after it, and this node keeps writing and acking its own status;
* a local failure (checksum, disk full, I/O) removes the replica and ends the call
  after its ack; a stream that ends without `last` leaves the replica in rbw/;
* RECOVERY (docs/recovery.md): every node already holds the block's first
  header.block.length bytes; it cuts its replica there, takes the header's (new)
  genstamp and receives from that offset on, like a CREATE stream. Append
  (docs/append.md) reopens a finalized last block the same way;
* a request may start at the chunk boundary below the bytes received, rewriting
  the short last chunk longer (the writer hflushed it, or appends to it); `sync`
  fsyncs the replica before the ack (hsync); an ack that every node downstream
  returned SUCCESS for makes its bytes visible to readers (writer.visible_length).
Malformed requests end the call with INVALID_ARGUMENT.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable

import grpc

from minidfs import errors
from minidfs.checksum import chunk_count, first_bad_chunk
from minidfs.metrics.traffic import TRAFFIC
from minidfs.datanode import meta_format, wire
from minidfs.datanode.peers import Peers
from minidfs.datanode.storage import Replica, ReplicaWriter, Storage, check_block_id, check_genstamp
from minidfs.rpc import channels
from minidfs.rpc import datatransfer_pb2 as pb

log = logging.getLogger("minidfs.datanode.pipeline")

SUCCESS = pb.WriteBlockAck.SUCCESS
ERROR = pb.WriteBlockAck.ERROR
ERROR_CHECKSUM = pb.WriteBlockAck.ERROR_CHECKSUM
ERROR_DISK_FULL = pb.WriteBlockAck.ERROR_DISK_FULL

MAX_PIPELINE_NODES = 16
# Requests received (and forwarded) but not yet acked upstream; beyond this the
# node stops reading, so gRPC flow control pushes back on the sender.
PENDING_ACKS_MAX = 64
# A downstream node that owes an ack this long is treated as failed.
DOWNSTREAM_ACK_TIMEOUT_S = 60.0
# The downstream's initial metadata proves the rest of the pipeline connected; it
# gets this long per node still downstream, so the node nearest a hung one times
# out first and names it (the client waits a little longer per node, see
# output_stream.py).
DOWNSTREAM_SETUP_TIMEOUT_PER_NODE_S = channels.CONNECT_TIMEOUT_S
MAX_REQUEST_DATA_BYTES = channels.MAX_MESSAGE_BYTES - 64 * 1024
# Start flushing a replica to disk every this many bytes, in the background, so the
# fsync at finalize (which the client waits for) has little left to write.
WRITEBACK_EVERY_BYTES = 8 * 1024 * 1024
DATA_FIELD = pb.WriteBlockRequest.DESCRIPTOR.fields_by_name["data"].number
# Test-only: a DataNode that acknowledges packets whose bytes it never wrote (it
# writes zeros), so tests/faults/test_chaos.py can show the chaos checker catches a
# broken promise. Read once at import; nothing sets it outside that test.
DISCARD_ACKED_DATA_FOR_TESTS = os.environ.get("MINIDFS_TEST_DISCARD_ACKED_DATA") == "1"


class Received:
    """A WriteBlock request as it came off the wire: its bytes (forwarded downstream
    as they are, no re-encoding), the message parsed WITHOUT its data field, and
    the data as a view into the wire bytes (protobuf would copy it twice; see
    wire.py)."""

    __slots__ = ("raw", "msg", "data")

    def __init__(self, raw: bytes, msg: pb.WriteBlockRequest, data: memoryview) -> None:
        self.raw = raw
        self.msg = msg
        self.data = data

    @classmethod
    def parse(cls, raw: bytes) -> "Received":
        small, data = wire.split_data(raw, DATA_FIELD)
        return cls(raw, pb.WriteBlockRequest.FromString(small), data)


@dataclass
class PipelineContext:
    """What a WriteBlock call needs from its DataNode."""

    name: str
    storage: Storage
    peers: Peers
    on_finalized: Callable[[Replica], None]
    active: set = field(default_factory=set)


@dataclass(frozen=True)
class Header:
    block_id: int
    genstamp: int
    chunk_size: int
    stage: int
    downstream: tuple
    start_offset: int = 0      # RECOVERY: where the replica resumes


def check_address(block_id: int, address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.InvalidArgument(f"block {block_id}: bad downstream address {address!r}")


def parse_header(request: pb.WriteBlockRequest) -> Header:
    """The validated header of a first request; InvalidArgument if it is unusable."""
    if not request.HasField("header"):
        raise errors.InvalidArgument("WriteBlock: the first request must carry a header")
    h = request.header
    block_id = check_block_id(h.block.id)
    check_genstamp(h.block.genstamp)
    if not meta_format.valid_chunk_size(h.chunk_size):
        raise errors.InvalidArgument(f"block {block_id}: invalid chunk size {h.chunk_size}")
    if h.stage not in (pb.WriteHeader.CREATE, pb.WriteHeader.TRANSFER, pb.WriteHeader.RECOVERY):
        raise errors.InvalidArgument(f"block {block_id}: unknown stage {h.stage}")
    if len(h.downstream) > MAX_PIPELINE_NODES:
        raise errors.InvalidArgument(f"block {block_id}: pipeline longer than {MAX_PIPELINE_NODES}")
    for node in h.downstream:
        check_address(block_id, node.address)
    start = h.block.length if h.stage == pb.WriteHeader.RECOVERY else 0
    return Header(block_id, h.block.genstamp, h.chunk_size, h.stage, tuple(h.downstream), start)


def check_request(request: pb.WriteBlockRequest, header: Header, offset: int,
                  previous_seqno: int | None, size: int) -> None:
    """Framing rules of every request (size = bytes of its data, which Received
    keeps outside the parsed message): InvalidArgument when one is broken."""
    block = header.block_id
    if previous_seqno is not None:
        if request.HasField("header"):
            raise errors.InvalidArgument(f"block {block}: header repeated after the first request")
        if request.seqno <= previous_seqno:
            raise errors.InvalidArgument(
                f"block {block}: seqno {request.seqno} does not follow {previous_seqno}")
    rewrite = offset - offset % header.chunk_size   # the short last chunk, sent again
    if request.offset != offset and not (request.offset == rewrite and request.offset + size >= offset):
        raise errors.InvalidArgument(
            f"block {block}: offset {request.offset} but {offset} bytes received")
    if size > MAX_REQUEST_DATA_BYTES:
        raise errors.InvalidArgument(f"block {block}: request of {size} bytes is too large")
    if size and request.offset % header.chunk_size:
        raise errors.InvalidArgument(
            f"block {block}: data after a short packet (only the last packet may be short)")
    if len(request.checksums) != chunk_count(size, header.chunk_size):
        raise errors.InvalidArgument(
            f"block {block}: {len(request.checksums)} checksums for {size} bytes")


def _ack(seqno: int, statuses: list[int], message: str = "") -> pb.WriteBlockAck:
    return pb.WriteBlockAck(seqno=seqno, statuses=statuses, message=message)


def _os_status(e: OSError) -> int:
    return ERROR_DISK_FULL if e.errno == errno.ENOSPC else ERROR


async def serve(ctx: PipelineContext, requests: AsyncIterator[Received],
                announce: Callable[[], Awaitable[None]] | None = None,
                authorize: Callable[[Header], None] | None = None
                ) -> AsyncIterator[pb.WriteBlockAck]:
    """Runs one WriteBlock call; yields its acks. `announce` sends the call's initial
    metadata upstream (the "connected" signal); `authorize` (secure mode) raises
    before anything is stored when the caller may not write this block."""
    try:
        first = await anext(requests)
    except StopAsyncIteration:
        return
    header = parse_header(first.msg)
    if authorize is not None:
        authorize(header)
    check_request(first.msg, header, header.start_offset, None, len(first.data))
    try:
        if header.stage == pb.WriteHeader.RECOVERY:
            writer = ctx.storage.recover(header.block_id, header.genstamp, header.start_offset,
                                         header.chunk_size)
        else:
            writer = ctx.storage.create(header.block_id, header.genstamp, header.chunk_size)
    except (errors.DiskFull, errors.FileExists, errors.ReplicaNotFound, errors.PreconditionFailed,
            OSError) as e:
        status = ERROR_DISK_FULL if isinstance(e, errors.DiskFull) else (
            _os_status(e) if isinstance(e, OSError) else ERROR)
        log.warning("block %d: refused: %s", header.block_id, e)
        if isinstance(e, errors.FileExists) and header.stage == pb.WriteHeader.TRANSFER:
            _announce_existing(ctx, header)
        yield _ack(first.msg.seqno, [status] + [ERROR] * len(header.downstream), f"{ctx.name}: {e}")
        return
    session = _Session(ctx, header, writer, announce)
    ctx.active.add(session)
    try:
        async for ack in session.run(first, requests):
            yield ack
    finally:
        ctx.active.discard(session)


def _announce_existing(ctx: PipelineContext, header: Header) -> None:
    """A copy was sent here although this node holds the block finalized: the
    NameNode's map missed it (its news can be overtaken by a stale replica's
    deletion). Reporting it again stops the NameNode choosing this node again."""
    replica = ctx.storage.get(header.block_id)
    if replica is not None and replica.finalized and replica.genstamp == header.genstamp:
        ctx.on_finalized(replica)


class _Downstream:
    """The WriteBlock call to the next node, and what this node knows of its health."""

    def __init__(self, ctx: PipelineContext, nodes: tuple) -> None:
        self.nodes = nodes
        self.peers = ctx.peers
        self.error = ""
        self.connected_ok = False
        self.call = ctx.peers.write_block_raw(nodes[0].address)(timeout=channels.DATA_STREAM_DEADLINE_S)

    def _fail(self, why: str) -> None:
        if not self.error:
            self.error = f"{self.nodes[0].name} ({self.nodes[0].address}): {why}"
            log.warning("downstream %s", self.error)
            self.call.cancel()
            self.peers.forget(self.nodes[0].address)

    async def forward(self, request: bytes) -> None:
        if self.error:
            return
        # A write waits for the connection (and later for flow control): bounded, so
        # a hung downstream cannot stop this node from writing and acking its own
        # status (the receiver forwards before it writes locally).
        timeout = DOWNSTREAM_ACK_TIMEOUT_S if self.connected_ok else (
            DOWNSTREAM_SETUP_TIMEOUT_PER_NODE_S * len(self.nodes))
        try:
            await asyncio.wait_for(self.call.write(request), timeout)
        except asyncio.TimeoutError:
            self._fail(f"cannot forward: not taken within {timeout:g}s")
        except (grpc.RpcError, asyncio.InvalidStateError) as e:
            self._fail(f"cannot forward: {_rpc_text(e)}")
        except asyncio.CancelledError:
            _reraise_if_task_cancelled()
            self._fail("cannot forward: the call was given up")

    async def done_writing(self) -> None:
        if not self.error:
            try:
                await self.call.done_writing()
            except (grpc.RpcError, asyncio.InvalidStateError) as e:
                self._fail(f"cannot close the stream: {_rpc_text(e)}")
            except asyncio.CancelledError:
                _reraise_if_task_cancelled()

    async def connected(self) -> None:
        """Waits for the downstream's "connected" (its initial metadata); a node that
        sends none in time has failed."""
        if self.error:
            return
        timeout = DOWNSTREAM_SETUP_TIMEOUT_PER_NODE_S * len(self.nodes)
        try:
            await asyncio.wait_for(self.call.initial_metadata(), timeout)
            self.connected_ok = True
        except asyncio.TimeoutError:
            self._fail(f"not connected within {timeout:g}s")
        except (grpc.RpcError, asyncio.InvalidStateError) as e:
            self._fail(_rpc_text(e))

    async def ack_for(self, seqno: int) -> tuple[list[int], str]:
        count = len(self.nodes)
        if not self.error:
            timeout = DOWNSTREAM_ACK_TIMEOUT_S
            try:
                ack = await asyncio.wait_for(self.call.read(), timeout)
            except asyncio.TimeoutError:
                self._fail(f"no ack within {timeout:g}s")
            except (grpc.RpcError, asyncio.InvalidStateError) as e:
                self._fail(_rpc_text(e))
            else:
                if ack is grpc.aio.EOF:
                    self._fail("stream ended before every request was acked")
                elif ack.seqno != seqno:
                    self._fail(f"acked seqno {ack.seqno}, expected {seqno}")
                else:
                    statuses = list(ack.statuses)[:count]
                    return statuses + [ERROR] * (count - len(statuses)), ack.message
        return [ERROR] * count, self.error

    def close(self) -> None:
        self.call.cancel()


def _reraise_if_task_cancelled() -> None:
    """A write on a call that _fail cancelled (a downstream that never connected)
    raises CancelledError too: only the task's own cancellation goes on up, or the
    receiver would die without queuing this node's status and no ack would come."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


# Finalizes running on after their call ended (see _Session._apply): held here so
# the event loop, which keeps only weak references to tasks, does not drop them.
_FINALIZING: set[asyncio.Future] = set()


def _rpc_text(e: BaseException) -> str:
    if isinstance(e, grpc.RpcError) and hasattr(e, "code"):
        return f"{e.code().name.lower()}: {e.details()}"
    return str(e) or type(e).__name__


class _Session:
    def __init__(self, ctx: PipelineContext, header: Header, writer: ReplicaWriter,
                 announce: Callable[[], Awaitable[None]] | None = None) -> None:
        self.ctx = ctx
        self.announce = announce
        self.header = header
        self.writer = writer
        self.done = False          # finalized or aborted: nothing left to clean up
        self._writeback: asyncio.Future | None = None

    async def run(self, first: Received, requests) -> AsyncIterator[pb.WriteBlockAck]:
        downstream = _Downstream(self.ctx, self.header.downstream) if self.header.downstream else None
        queue: asyncio.Queue = asyncio.Queue(PENDING_ACKS_MAX)
        receiver = asyncio.create_task(self._receive(first, requests, downstream, queue))
        connected = asyncio.create_task(self._connected(downstream))
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                await connected       # metadata before the first ack
                seqno, own, message, end = item
                down, down_message = await downstream.ack_for(seqno) if downstream else ([], "")
                if own == SUCCESS and all(status == SUCCESS for status in down):
                    # Acked by every node from here on: readers may see it (hflush).
                    self.writer.visible_length = max(self.writer.visible_length, end)
                yield _ack(seqno, [own, *down], message or down_message)
                if own != SUCCESS:
                    break
        finally:
            receiver.cancel()
            connected.cancel()
            with contextlib.suppress(BaseException):
                await receiver
            with contextlib.suppress(BaseException):
                await connected
            if downstream is not None:
                downstream.close()
            if not self.done:
                self.writer.close()

    async def _connected(self, downstream: "_Downstream | None") -> None:
        """Sends "connected" upstream once the rest of the pipeline is (or its
        first node was given up on, which the acks then report)."""
        if downstream is not None:
            await downstream.connected()
        if self.announce is not None:
            with contextlib.suppress(grpc.RpcError, asyncio.InvalidStateError, RuntimeError):
                await self.announce()

    async def _receive(self, received: Received, requests, downstream: _Downstream | None,
                       queue: asyncio.Queue) -> None:
        try:
            request = received.msg
            if downstream is not None:
                shifted = pb.WriteBlockRequest()
                shifted.CopyFrom(request)
                del shifted.header.downstream[0]
                await downstream.forward(
                    wire.encode_with_data(shifted.SerializeToString(), DATA_FIELD, received.data))
            previous = None
            while True:
                data = received.data
                if previous is not None:
                    check_request(request, self.header, self.writer.bytes_written, previous, len(data))
                    if downstream is not None:
                        await downstream.forward(received.raw)
                own, message = await self._apply(request, data)
                await queue.put((request.seqno, own, message, self.writer.bytes_written))
                if own != SUCCESS or request.last:
                    break
                previous = request.seqno
                try:
                    received = await anext(requests)
                except StopAsyncIteration:
                    log.info("block %d: stream ended without last; replica left in rbw",
                             self.header.block_id)
                    break
                request = received.msg
            if downstream is not None:
                await downstream.done_writing()
            await queue.put(None)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - handed to the acking side, which raises it
            if not isinstance(e, errors.MinidfsError):
                log.exception("block %d: receive failed", self.header.block_id)
            await queue.put(e)

    async def _apply(self, request: pb.WriteBlockRequest, data: memoryview) -> tuple[int, str]:
        """Verifies and writes one request; finalizes on `last`. (status, message)."""
        block, name = self.header.block_id, self.ctx.name
        if data:
            checksums = list(request.checksums)
            bad = first_bad_chunk(data, checksums, self.header.chunk_size)
            if bad is not None:
                packet = request.seqno - len(checksums) + 1 + bad
                TRAFFIC.checksum_errors += 1
                self._abort()
                return ERROR_CHECKSUM, f"{name}: block {block}: checksum mismatch in packet {packet}"
            if DISCARD_ACKED_DATA_FOR_TESTS:
                data = memoryview(bytes(len(data)))
            try:
                self.writer.write(request.offset, data, checksums)
                TRAFFIC.bytes_written += len(data)
            except OSError as e:
                self._abort()
                self._check_volume(e)
                log.warning("block %d: write failed: %s", block, e)
                return _os_status(e), f"{name}: block {block}: write failed: {e.strerror or e}"
            if self.writer.unsynced_bytes >= WRITEBACK_EVERY_BYTES and not request.sync and (
                    self._writeback is None or self._writeback.done()):
                self._writeback = asyncio.ensure_future(asyncio.to_thread(self.writer.start_writeback))
        if request.sync and not request.last:
            try:
                await asyncio.to_thread(self.writer.sync)
            except OSError as e:
                self._abort()
                self._check_volume(e)
                log.warning("block %d: hsync failed: %s", block, e)
                return _os_status(e), f"{name}: block {block}: hsync failed: {e.strerror or e}"
        if request.last:
            # From here the finalize owns the replica, to its end: a call that ends
            # meanwhile (the client gave up on a slow pipeline and cancels) must
            # neither close the files under the finalize's thread nor lose its report
            # to the NameNode - a replica finalized on disk but never reported stayed
            # "Closing" there, and no copy could be placed on its node.
            self.done = True
            finalizing = asyncio.ensure_future(self._finalize())
            _FINALIZING.add(finalizing)
            finalizing.add_done_callback(_FINALIZING.discard)
            return await asyncio.shield(finalizing)
        return SUCCESS, ""

    async def _finalize(self) -> tuple[int, str]:
        block, name = self.header.block_id, self.ctx.name
        if self._writeback is not None:
            await self._writeback
        try:
            replica = await asyncio.to_thread(self.writer.finalize)
        except OSError as e:
            self.writer.abort()
            self._check_volume(e)
            log.warning("block %d: finalize failed: %s", block, e)
            return _os_status(e), f"{name}: block {block}: finalize failed: {e.strerror or e}"
        self.ctx.on_finalized(replica)
        return SUCCESS, ""

    def _abort(self) -> None:
        self.done = True
        self.writer.abort()

    def _check_volume(self, error: OSError) -> None:
        """An I/O error other than a full disk may be the volume failing: check it in
        the background (a failed one is taken out of service)."""
        volume = self.writer.replica.volume
        if error.errno != errno.ENOSPC and volume is not None:
            asyncio.ensure_future(asyncio.to_thread(self.ctx.storage.check_volume, volume))

