"""The map side of the shuffle: serves one partition of a finished map output.

Registered on the Worker's gRPC server (mapreduce/worker/server.py); called by reduce
attempts' fetchers. Reads the map output index, then streams the partition's segment
in SHUFFLE_CHUNK_BYTES messages (large: per-message cost dominates in Python gRPC),
the first carrying the segment's length, record count and checksum. At most
MAX_CONCURRENT_FETCHES streams run at once; more wait.
"""
from __future__ import annotations

import asyncio
import pathlib
from typing import AsyncIterator

from mapreduce import ids
from mapreduce.rpc import worker_pb2 as pb
from mapreduce.rpc import worker_pb2_grpc
from mapreduce.runfile import Segment, read_index
from mapreduce.worker import layout
from minidfs.errors import FileNotFound, InvalidArgument
from minidfs.rpc.status import rpc_errors
from minidfs.security import peer

SHUFFLE_CHUNK_BYTES = 1024 * 1024
MAX_CONCURRENT_FETCHES = 16


class ShuffleServicer(worker_pb2_grpc.ShuffleServicer):
    def __init__(self, data_dir: pathlib.Path) -> None:
        self.data_dir = data_dir
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_FETCHES)

    @rpc_errors
    async def FetchPartition(self, request: pb.FetchRequest, context) -> AsyncIterator[pb.FetchChunk]:
        attempt = ids.parse_attempt(request.map_attempt_id)
        peer.check_job(context, request.job_id)
        if attempt.kind != ids.MAP or attempt.job_id != ids.validate_job_id(request.job_id):
            raise InvalidArgument(f"{request.map_attempt_id}: not a map attempt of {request.job_id}")
        directory = layout.attempt_dir(self.data_dir, request.map_attempt_id)
        async with self._slots:
            segment = await asyncio.to_thread(self._segment, directory, request.partition)
            path = directory / layout.MAP_OUTPUT
            with open(path, "rb") as f:
                f.seek(segment.offset)
                remaining = segment.length
                first = True
                while remaining > 0 or first:
                    data = await asyncio.to_thread(f.read, min(SHUFFLE_CHUNK_BYTES, remaining))
                    if remaining and not data:
                        raise FileNotFound(f"{request.map_attempt_id}: map output is truncated")
                    remaining -= len(data)
                    chunk = pb.FetchChunk(data=data)
                    if first:
                        chunk.length, chunk.records, chunk.checksum = \
                            segment.length, segment.records, segment.checksum
                        first = False
                    yield chunk

    def _segment(self, directory: pathlib.Path, partition: int) -> Segment:
        try:
            segments = read_index(directory / layout.MAP_OUTPUT_INDEX)
        except FileNotFoundError:
            raise FileNotFound(f"{directory.name}: no such map output here") from None
        if partition >= len(segments):
            raise InvalidArgument(f"{directory.name}: partition {partition} of {len(segments)}")
        return segments[partition]
