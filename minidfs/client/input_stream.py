"""DFSInputStream: reads a file's blocks from DataNodes, verifying every chunk.

Created by `Client` (open(..., "rb"), get, cat) and by MapReduce record readers.
Block locations come from GetBlockLocations, LOCATIONS_PREFETCH_BYTES at a time,
fetched again when a read runs past them. A read opens one ReadBlock stream
from its position to the end of the block (read-ahead: gRPC flow control bounds
how much is buffered) and serves read()/readinto() from it, so sequential reads
cost one call per block, not one per read. Every response is checked against its
checksums; a mismatch is reported (ReportBadBlocks) and the read moves on to the
next replica, as it does from a node that is dead, hung past
channels.CONNECT_TIMEOUT_S, or answers with an error. A failure the stream
recovers from is one warning line per failed node, once the next replica served
(`warning: /f: block 7: the replica on dn1 is gone; read from dn2`); the details
are logged at debug. With no replica left it asks the NameNode again
(MISSING_BLOCK_REFETCHES, with backoff), then raises BlockMissingError.

A DataNode that failed reads DATANODE_FAILURES_TO_OPEN times in a row (unreachable,
hung, erroring - not a corrupt or missing replica, which is the replica's fault) is
skipped by every stream of the same Client for DATANODE_COOL_DOWN_S: its replicas
are tried last (circuit_breaker.py), so readers stop waiting on a sick node.
"""
from __future__ import annotations

import bisect
import io
import logging
import threading
import time

import grpc

from minidfs import errors
from minidfs.checksum import first_bad_chunk
from minidfs.client.circuit_breaker import CircuitBreaker
from minidfs.client.namenode_client import NamenodeClient
from minidfs.datanode import wire
from minidfs.rpc import channels, client_namenode_pb2 as nn_pb
from minidfs.rpc.channel_pool import ChannelPool, Lease
from minidfs.security.datanode_tokens import token_metadata
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb
from minidfs.rpc.status import from_rpc_error

log = logging.getLogger("minidfs.client.input")

LOCATIONS_PREFETCH_BYTES = 1024 * 1024 * 1024
# When every replica of a block failed: ask the NameNode again this many times,
# pausing MISSING_BLOCK_BACKOFF_S, then doubling (0.5 + 1.0 s): prompt, yet long
# enough for a just-restarted NameNode to hear the DataNodes' block reports.
MISSING_BLOCK_REFETCHES = 2
MISSING_BLOCK_BACKOFF_S = 0.5
DATANODE_FAILURES_TO_OPEN = 2
DATANODE_COOL_DOWN_S = 30.0
READ_BLOCK_METHOD = "/minidfs.DataTransfer/ReadBlock"
DATA_FIELD = pb.ReadBlockResponse.DESCRIPTOR.fields_by_name["data"].number


def _parse_response(raw: bytes) -> tuple[pb.ReadBlockResponse, memoryview]:
    """The response without its data, and the data as a view into the wire bytes:
    protobuf would copy the payload twice (parse, then field access)."""
    small, data = wire.split_data(raw, DATA_FIELD)
    return pb.ReadBlockResponse.FromString(small), data


class _ReplicaFailed(Exception):
    def __init__(self, why: str, corrupt: bool = False, gone: bool = False,
                 unreachable: bool = False) -> None:
        super().__init__(why)
        self.corrupt = corrupt
        self.gone = gone      # the node says it has no such replica (NOT_FOUND)
        self.unreachable = unreachable    # the channel to the node is no good: drop it

    def short(self) -> str:
        """What happened to the replica, for the one warning line."""
        if self.gone:
            return "is gone"
        if self.corrupt:
            return "is corrupt"
        return f"could not be read ({self})"


class _BlockReader:
    """One ReadBlock stream from one replica, from a position to the end of the block,
    on a pooled channel leased for the stream's life."""

    def __init__(self, lease: Lease, node: common.DatanodeId, located: common.LocatedBlock,
                 start: int, verify: bool) -> None:
        self._lease = lease
        self.node = node
        self.located = located
        self.verify = verify
        self.data = memoryview(b"")
        self.data_start = start       # block offset of data[0]
        request = pb.ReadBlockRequest(block=located.block, offset=start,
                                      length=located.block.length - start)
        read_block = lease.channel.unary_stream(
            READ_BLOCK_METHOD, request_serializer=pb.ReadBlockRequest.SerializeToString,
            response_deserializer=_parse_response)
        self._responses = read_block(request, timeout=channels.DATA_STREAM_DEADLINE_S,
                                     metadata=token_metadata(located.block_token))
        # A pooled channel may lead to a node that hung since it was last used (a
        # fresh one to a node that accepts connections but never answers): no first
        # response within CONNECT_TIMEOUT_S fails this replica, as a refused
        # connection does at once.
        self._stalled = False
        self._first = threading.Timer(channels.CONNECT_TIMEOUT_S, self._stall)
        self._first.daemon = True
        self._first.start()

    def _stall(self) -> None:
        self._stalled = True
        responses = self._responses
        if responses is not None:
            responses.cancel()

    def covers(self, position: int) -> bool:
        """Whether this stream can still serve position (it only moves forward)."""
        return position >= self.data_start

    def readinto(self, out: memoryview, position: int) -> int:
        """Copies bytes at block offset `position` into out; _ReplicaFailed on a bad
        or broken replica."""
        while position >= self.data_start + len(self.data):
            self._next(position)
        skip = position - self.data_start
        n = min(len(out), len(self.data) - skip)
        out[:n] = self.data[skip:skip + n]
        return n

    def _next(self, position: int) -> None:
        try:
            response, data = next(self._responses)
        except StopIteration:
            raise _ReplicaFailed(f"stream ended before offset {position}") from None
        except grpc.RpcError as e:
            if self._stalled:
                raise _ReplicaFailed(f"did not answer within {channels.CONNECT_TIMEOUT_S:g}s",
                                     unreachable=True) from None
            raise _ReplicaFailed(str(from_rpc_error(e)),
                                 corrupt=e.code() == grpc.StatusCode.DATA_LOSS,
                                 gone=e.code() == grpc.StatusCode.NOT_FOUND,
                                 unreachable=e.code() == grpc.StatusCode.UNAVAILABLE) from None
        finally:
            self._first.cancel()
        if self.verify:
            bad = first_bad_chunk(data, response.checksums, response.chunk_size or 1)
            if bad is not None:
                raise _ReplicaFailed(
                    f"checksum mismatch at block offset {response.offset + bad * response.chunk_size}",
                    corrupt=True)
        if response.offset + len(data) <= position:
            raise _ReplicaFailed(f"replica ends at {response.replica_length}, before offset {position}")
        self.data = data
        self.data_start = response.offset

    def close(self) -> None:
        self._first.cancel()
        # Dropped here, not left to the garbage collector: a gRPC call object
        # finalized at interpreter exit can wait for ever on a lock a frozen thread
        # holds (minidfs/cli/process_exit.py).
        responses, self._responses = self._responses, None
        if responses is not None:
            responses.cancel()
        self._lease.release()


class DFSInputStream(io.RawIOBase):
    """`pool`: the owning Client's channels; without one the stream opens a private
    pool and closes it with itself. `located`: the file's LocatedBlocks when a
    listing brought them (ListStatus need_locations), saving the first
    GetBlockLocations. `breaker`: the owning Client's DataNode circuit breaker
    (shared by its streams, with `breaker_lock`); without one, the stream's own."""

    def __init__(self, nn: NamenodeClient, path: str, *, client_node: str = "", verify: bool = True,
                 pool: ChannelPool | None = None, located: nn_pb.LocatedBlocks | None = None,
                 breaker: CircuitBreaker | None = None,
                 breaker_lock: threading.Lock | None = None) -> None:
        super().__init__()
        self.nn = nn
        self.path = path
        self.client_node = client_node
        self.verify = verify
        self._pos = 0
        self._blocks: list[common.LocatedBlock] = []
        self._starts: list[int] = []
        self._length = 0
        self._reader: _BlockReader | None = None
        self._own_pool = pool is None
        self._pool = ChannelPool(max_channels=4) if pool is None else pool
        self._breaker = breaker or CircuitBreaker(DATANODE_FAILURES_TO_OPEN, DATANODE_COOL_DOWN_S)
        self._breaker_lock = breaker_lock or threading.Lock()
        self._dead: set[str] = set()   # nodes that failed this stream: tried last
        self._failed: set[tuple[int, str]] = set()   # (block id, node) pairs not to retry
        # Failures not yet told to the user: told once another replica served.
        self._untold: dict[str, tuple[int, _ReplicaFailed]] = {}
        self._told: set[str] = set()
        if located is None:
            self._fetch_locations(0)
        else:
            self._use_locations(located)

    @property
    def length(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise ValueError(f"{self.path}: negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed file")

    def _fetch_locations(self, offset: int) -> None:
        located = self.nn.call("GetBlockLocations", nn_pb.GetBlockLocationsRequest(
            path=self.path, offset=offset, length=LOCATIONS_PREFETCH_BYTES, client_node=self.client_node))
        self._use_locations(located)

    def _use_locations(self, located: nn_pb.LocatedBlocks) -> None:
        self._length = located.file_length
        self._blocks = sorted(located.blocks, key=lambda b: b.offset)
        self._starts = [b.offset for b in self._blocks]

    def _block_at(self, position: int) -> common.LocatedBlock:
        for attempt in range(2):
            index = bisect.bisect_right(self._starts, position) - 1
            if index >= 0:
                found = self._blocks[index]
                if position < found.offset + found.block.length:
                    return found
            if attempt == 0:
                self._fetch_locations(position)
        raise errors.BlockMissingError(f"{self.path}: no block holds offset {position}")

    def readinto(self, b) -> int:
        """Fills b as far as the file goes (across block boundaries); 0 at the end."""
        self._check_open()
        out = memoryview(b).cast("B")
        done = 0
        while done < len(out) and self._pos < self._length:
            located = self._block_at(self._pos)
            want = min(len(out) - done, located.offset + located.block.length - self._pos,
                       self._length - self._pos)
            n = self._read_block(located, out[done:done + want])
            self._pos += n
            done += n
        return done

    def _read_block(self, located: common.LocatedBlock, out: memoryview) -> int:
        position = self._pos - located.offset
        reader = self._reader
        if reader is not None and reader.located is located and reader.covers(position):
            try:
                return reader.readinto(out, position)
            except _ReplicaFailed as e:
                self._replica_failed(located, reader.node, e)
        self._drop_reader()
        backoff_s = MISSING_BLOCK_BACKOFF_S
        for attempt in range(MISSING_BLOCK_REFETCHES + 1):
            if attempt:
                # Every known replica failed: the NameNode may know more by now (a
                # restarted NameNode hearing block reports, a finished re-replication),
                # so ask again after a pause, as HDFS's client does, then give up.
                time.sleep(backoff_s)
                backoff_s *= 2
                located = self._refetch(located)
            block_id = located.block.id
            # Nodes that failed this stream before go last; those that failed this block are skipped.
            candidates = sorted((n for n in located.locations if (block_id, n.name) not in self._failed),
                                key=lambda n: n.name in self._dead)
            with self._breaker_lock:
                candidates = self._breaker.order(candidates, lambda n: n.name, time.monotonic())
            for node in candidates:
                try:
                    self._reader = _BlockReader(self._pool.lease(node.address), node, located,
                                                position, self.verify)
                    n = self._reader.readinto(out, position)
                    with self._breaker_lock:
                        self._breaker.succeeded(node.name)
                    self._tell_recovered(node)
                    return n
                except _ReplicaFailed as e:
                    self._replica_failed(located, node, e)
        raise errors.BlockMissingError(
            f"{self.path}: block {located.block.id} missing: no live replica could be read")

    def _refetch(self, located: common.LocatedBlock) -> common.LocatedBlock:
        """Fresh locations for the block at `located`, forgetting which nodes failed it
        (a corrupt replica was reported, so the NameNode no longer offers it)."""
        self._fetch_locations(located.offset)
        self._failed = {(b, n) for b, n in self._failed if b != located.block.id}
        self._dead.clear()
        return self._block_at(self._pos)

    def _tell_recovered(self, served_by: common.DatanodeId) -> None:
        """One warning line per node that failed this stream, once a replica served."""
        for name, (block_id, e) in self._untold.items():
            log.warning("warning: %s: block %d: the replica on %s %s; read from %s",
                        self.path, block_id, name, e.short(), served_by.name)
            self._told.add(name)
        self._untold.clear()

    def _replica_failed(self, located: common.LocatedBlock, node: common.DatanodeId, e: _ReplicaFailed) -> None:
        log.debug("%s: block %d on %s: %s", self.path, located.block.id, node.name, e)
        if node.name not in self._told:
            self._untold.setdefault(node.name, (located.block.id, e))
        self._dead.add(node.name)
        self._failed.add((located.block.id, node.name))
        if not (e.corrupt or e.gone):
            with self._breaker_lock:
                self._breaker.failed(node.name, time.monotonic())
        self._drop_reader()
        if e.unreachable:
            self._pool.forget(node.address)
        if e.corrupt:
            try:
                self.nn.call("ReportBadBlocks", nn_pb.ReportBadBlocksRequest(
                    replicas=[nn_pb.BadReplica(block=located.block, datanode=node.name)]))
            except errors.MinidfsError as report_error:
                log.warning("%s: could not report a bad replica: %s", self.path, report_error)

    def _drop_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def readall(self) -> bytes:
        self._check_open()
        out = bytearray(max(0, self._length - self._pos))
        n = self.readinto(out)
        del out[n:]
        return bytes(out)

    def close(self) -> None:
        if self.closed:
            return
        self._drop_reader()
        if self._own_pool:
            self._pool.close()
        super().close()
