"""Append on the client side: continuing a file's last block (docs/append.md).

Called by DFSOutputStream (output_stream.py) when Client.open(path, "ab") opened
it with the Append RPC's answer. A full last block (or none) needs nothing here:
the next write adds a new block after it. A last block that is not full was
reopened by the NameNode under a new genstamp; its pipeline is opened again on
the nodes holding it with stage RECOVERY at the block's length (each node takes
its finalized replica back into rbw/ under the new genstamp), as HDFS's append
recovery does. A node that fails there is dropped by ordinary pipeline recovery.

A block whose length is not a chunk boundary ends in a short chunk, whose
checksum must cover the bytes appended to it: the stream keeps that chunk's
bytes (read back from the pipeline's first node) in its buffer and sends them
again with the new ones, from the chunk boundary (datatransfer.proto).
"""
from __future__ import annotations

import grpc

from minidfs import errors
from minidfs.checksum import first_bad_chunk
from minidfs.client import pipeline_recovery
from minidfs.client.input_stream import READ_BLOCK_METHOD, _parse_response
from minidfs.rpc import channels
from minidfs.security.datanode_tokens import token_metadata
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datatransfer_pb2 as pb


def resume(stream, located: common.LocatedBlock, reopened: bool) -> None:
    """Readies a fresh DFSOutputStream to go on after `located`, the file's last block."""
    if not reopened:
        stream._previous = common.Block(id=located.block.id, genstamp=located.block.genstamp,
                                        length=located.block.length)
        return
    if not located.locations:
        raise errors.PipelineError(f"{stream.path}: no DataNode holds the last block to append to")
    from minidfs.client.output_stream import _BlockPipeline

    length = located.block.length
    boundary = length - length % stream.chunk_size
    pipeline = _BlockPipeline(stream.path, located, stream.chunk_size,
                              stream._channel(located.locations[0].address),
                              length=boundary, acked_length=length)
    try:
        pipeline.setup(recovery=True)
    except errors.PipelineError:
        if pipeline.failed_node() == located.locations[0].name:
            stream._forget(located.locations[0].address)
        pipeline = pipeline_recovery.recover(
            stream.nn, stream.path, stream.client_name, stream.replication, pipeline,
            stream._channel, _BlockPipeline, flushed=True)
    stream._pipeline = pipeline
    stream._flushed_block = True
    if boundary < length:
        stream._buf = bytearray(_read_tail(stream, pipeline, boundary, length))


def _read_tail(stream, pipeline, start: int, end: int) -> bytes:
    """The block's bytes [start, end) from a node of the (reopened) pipeline, verified."""
    block = pipeline.block
    request = pb.ReadBlockRequest(block=common.Block(id=block.id, genstamp=block.genstamp),
                                  offset=start, length=end - start)
    why = ""
    for node in pipeline.targets:
        read_block = stream._channel(node.address).unary_stream(
            READ_BLOCK_METHOD, request_serializer=pb.ReadBlockRequest.SerializeToString,
            response_deserializer=_parse_response)
        try:
            got = bytearray()
            for response, data in read_block(request, timeout=channels.DATA_STREAM_DEADLINE_S,
                                             metadata=token_metadata(pipeline.token)):
                if first_bad_chunk(data, response.checksums, response.chunk_size or 1) is not None:
                    raise errors.ChecksumError(f"block {block.id}: checksum mismatch on {node.name}")
                got += data
        except (grpc.RpcError, errors.ChecksumError) as e:
            why = f"{node.name}: {e.details() if isinstance(e, grpc.RpcError) else e}"
            continue
        if len(got) >= end - start:
            return bytes(got[:end - start])
        why = f"{node.name}: replica shorter than {end} bytes"
    raise errors.PipelineError(f"{stream.path}: block {block.id}: cannot read its last "
                               f"{end - start} bytes back to append to them ({why})")
