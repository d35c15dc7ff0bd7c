"""gRPC channels from this DataNode to other DataNodes (pipeline forwarding and
block transfers), one per address, reused across calls.

Used by write_pipeline.py (downstream) and transfer.py (REPLICATE commands).
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict

import grpc

from minidfs.rpc import channels, datatransfer_pb2, datatransfer_pb2_grpc

WRITE_BLOCK_METHOD = "/minidfs.DataTransfer/WriteBlock"

# A cluster has at most a few hundred DataNodes; past this the least recently
# used channel is closed (after its calls had time to end).
MAX_PEER_CHANNELS = 256


class Peers:
    def __init__(self) -> None:
        self._channels: OrderedDict[str, tuple[grpc.aio.Channel, datatransfer_pb2_grpc.DataTransferStub]] = OrderedDict()
        self._closing: set[asyncio.Task] = set()

    def stub(self, address: str) -> datatransfer_pb2_grpc.DataTransferStub:
        return self._entry(address)[1]

    def write_block_raw(self, address: str) -> grpc.aio.StreamStreamMultiCallable:
        """WriteBlock taking already-encoded requests (bytes), for forwarding."""
        return self._entry(address)[0].stream_stream(
            WRITE_BLOCK_METHOD, request_serializer=None,
            response_deserializer=datatransfer_pb2.WriteBlockAck.FromString)

    def _entry(self, address: str):
        entry = self._channels.get(address)
        if entry is None:
            channel = channels.aio_channel(address)
            entry = self._channels[address] = (channel, datatransfer_pb2_grpc.DataTransferStub(channel))
            if len(self._channels) > MAX_PEER_CHANNELS:
                _, (old, _) = self._channels.popitem(last=False)
                self._close_later(old)
        else:
            self._channels.move_to_end(address)
        return entry

    def forget(self, address: str) -> None:
        """Drops the channel to a peer that just failed: the next call connects afresh
        instead of waiting out the old channel's reconnect backoff (a restarted
        DataNode is reachable again at once). Calls still on it may finish."""
        entry = self._channels.pop(address, None)
        if entry is not None:
            self._close_later(entry[0])

    def _close_later(self, channel: grpc.aio.Channel) -> None:
        task = asyncio.get_running_loop().create_task(channel.close(grace=channels.DATA_STREAM_DEADLINE_S))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        for channel, _ in self._channels.values():
            await channel.close()
        self._channels.clear()
