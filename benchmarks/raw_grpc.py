"""Raw gRPC baselines the minidfs data-path benchmarks are compared against.

(a) chain put: a client streams N bytes as messages of `message_bytes` through a
    chain of 3 servers (3 processes); each server forwards every message to the
    next one and acks upstream only after the downstream ack of that message; the
    last server acks at once. One ack per message, a bounded window of un-acked
    messages. Same shape as a minidfs write pipeline with replication 3, minus
    the disk, the checksums and protobuf framing.
(b) download: one server streams N bytes to a client as messages of
    `message_bytes`. Same shape as ReadBlock, minus the disk and checksums.
(c) unary calls: `count` unary round trips to one server, `threads` at a time,
    each sending and receiving a given number of bytes: the floor of a per-file
    cost for the small-files benchmark (one round trip per file, nothing else).

To be honest baselines, not strawmen: payloads are raw bytes (no protobuf
encode / parse at all, serializer=None), the servers forward the received
message object without copying it, the payload buffers exist before the clock
starts, and the client uses the same style as minidfs' client (sync gRPC, a
request iterator, acks read concurrently). The servers use grpc.aio as the
DataNodes do, so the comparison isolates what minidfs adds (a sync gRPC server
was not measured).

Called by the benchmark scripts (`chain_put_mb_s`, `download_mb_s`) and run
directly: `python -m benchmarks.raw_grpc [--total-mib 256] [--message-kib 64]`.
Server processes are started on 127.0.0.1 with ports chosen by the kernel and
are always stopped (by pid) when a measurement ends.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from typing import Iterator

import grpc

PUT_METHOD = "/rawbench.Chain/Put"
GET_METHOD = "/rawbench.Download/Get"
CALL_METHOD = "/rawbench.Unary/Call"
CHAIN_SERVERS = 3
DEFAULT_MESSAGE_BYTES = 64 * 1024
# Un-acked bytes in flight from the client; the same window minidfs' output
# stream uses (8 MiB), expressed in messages per run.
WINDOW_BYTES = 8 * 1024 * 1024
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
RUN_TIMEOUT_S = 600.0
OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
           ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
           ("grpc.so_reuseport", 0)]
ACK_BYTES = 8   # an ack is the message's sequence number, little-endian u64


def _identity(b: bytes) -> bytes:
    return b


# ---- servers (each runs in its own process) ------------------------------------

class _Servicer:
    def __init__(self, downstream: grpc.aio.Channel | None, payload: bytes) -> None:
        self.downstream = downstream
        self.payload = payload

    async def put(self, requests, context):
        """Forwards each message downstream and acks it after the downstream ack."""
        async for ack in _chain_put(self.downstream, requests):
            yield ack

    async def get(self, request: bytes, context):
        async for message in _download(self.payload, request):
            yield message

    async def call(self, request: bytes, context) -> bytes:
        """Answers with as many bytes as the request's first 8 ask for."""
        return self.payload[:int.from_bytes(request[:8], "little")]


async def _chain_put(downstream: grpc.aio.Channel | None, requests):
    if downstream is None:
        async for _message in requests:
            yield b"\0" * ACK_BYTES
        return
    call = downstream.stream_stream(PUT_METHOD, request_serializer=None,
                                    response_deserializer=_identity)()
    acks_owed = asyncio.Queue()

    async def forward() -> None:
        async for message in requests:
            await call.write(message)
            acks_owed.put_nowait(True)
        await call.done_writing()
        acks_owed.put_nowait(False)

    forwarder = asyncio.ensure_future(forward())
    try:
        while await acks_owed.get():
            yield await call.read()
        await forwarder
    finally:
        forwarder.cancel()
        call.cancel()


async def _download(payload: bytes, request: bytes):
    total = int.from_bytes(request[:8], "little")
    message_bytes = int.from_bytes(request[8:16], "little")
    view = payload[:message_bytes]
    sent = 0
    while sent < total:
        n = min(message_bytes, total - sent)
        yield view if n == message_bytes else view[:n]
        sent += n


async def _serve(downstream_address: str) -> None:
    downstream = grpc.aio.insecure_channel(downstream_address, options=OPTIONS) if downstream_address else None
    servicer = _Servicer(downstream, os.urandom(MAX_MESSAGE_BYTES))
    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler("rawbench.Chain", {
            "Put": grpc.stream_stream_rpc_method_handler(
                servicer.put,
                request_deserializer=_identity, response_serializer=None)}),
        grpc.method_handlers_generic_handler("rawbench.Download", {
            "Get": grpc.unary_stream_rpc_method_handler(
                servicer.get,
                request_deserializer=_identity, response_serializer=None)}),
        grpc.method_handlers_generic_handler("rawbench.Unary", {
            "Call": grpc.unary_unary_rpc_method_handler(
                servicer.call,
                request_deserializer=_identity, response_serializer=None)}),
    ))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    # The parent ends us by closing our stdin (or by pid if that is not enough).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)
    if downstream is not None:
        await downstream.close()


# ---- process management ---------------------------------------------------------

@contextlib.contextmanager
def _servers(count: int) -> Iterator[list[str]]:
    """count chained server processes; yields their addresses, head first."""
    procs: list[subprocess.Popen] = []
    addresses: list[str] = []
    try:
        downstream = ""
        for _ in range(count):   # tail first, so each knows its downstream
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks.raw_grpc", "--serve", downstream],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            procs.append(proc)
            line = proc.stdout.readline().strip()
            if not line.isdigit():
                raise RuntimeError(f"benchmark server did not start (said {line!r})")
            downstream = f"127.0.0.1:{int(line)}"
            addresses.insert(0, downstream)
        for address in addresses:
            channel = grpc.insecure_channel(address)
            grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_S)
            channel.close()
        yield addresses
    finally:
        # Head first, so no server sees its downstream vanish under an open call.
        for proc in reversed(procs):
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)


# ---- clients ---------------------------------------------------------------------

def _mb_s(total_bytes: int, seconds: float) -> float:
    return total_bytes / seconds / 1e6


def chain_put_mb_s(total_bytes: int, message_bytes: int = DEFAULT_MESSAGE_BYTES) -> float:
    """MB/s (10^6 bytes/s) of streaming total_bytes through a 3-server forwarding
    chain as message_bytes messages, one ack per message, WINDOW_BYTES in flight."""
    payload = os.urandom(message_bytes)
    messages = -(-total_bytes // message_bytes)
    tail = payload[:total_bytes - (messages - 1) * message_bytes]
    window = threading.Semaphore(max(1, WINDOW_BYTES // message_bytes))

    def requests():
        for i in range(messages):
            window.acquire()
            yield payload if i < messages - 1 else tail

    with _servers(CHAIN_SERVERS) as addresses:
        channel = grpc.insecure_channel(addresses[0], options=OPTIONS)
        try:
            put = channel.stream_stream(PUT_METHOD, request_serializer=None, response_deserializer=_identity)
            start = time.perf_counter()
            acked = 0
            for _ack in put(requests(), timeout=RUN_TIMEOUT_S):
                acked += 1
                window.release()
            seconds = time.perf_counter() - start
        finally:
            channel.close()
    if acked != messages:
        raise RuntimeError(f"chain acked {acked} of {messages} messages")
    return _mb_s(total_bytes, seconds)


def download_mb_s(total_bytes: int, message_bytes: int = DEFAULT_MESSAGE_BYTES) -> float:
    """MB/s of one server streaming total_bytes to a client as message_bytes messages."""
    if message_bytes > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {message_bytes} bytes is above {MAX_MESSAGE_BYTES}")
    with _servers(1) as addresses:
        channel = grpc.insecure_channel(addresses[0], options=OPTIONS)
        try:
            get = channel.unary_stream(GET_METHOD, request_serializer=None, response_deserializer=_identity)
            request = total_bytes.to_bytes(8, "little") + message_bytes.to_bytes(8, "little")
            start = time.perf_counter()
            received = 0
            for message in get(request, timeout=RUN_TIMEOUT_S):
                received += len(message)
            seconds = time.perf_counter() - start
        finally:
            channel.close()
    if received != total_bytes:
        raise RuntimeError(f"download received {received} of {total_bytes} bytes")
    return _mb_s(total_bytes, seconds)


def unary_calls_per_s(count: int, request_bytes: int, response_bytes: int,
                      threads: int = 1) -> float:
    """Unary round trips per second: `count` calls, `threads` at a time, each sending
    request_bytes and getting response_bytes back, on one channel."""
    import concurrent.futures

    request = response_bytes.to_bytes(8, "little") + os.urandom(max(0, request_bytes - 8))
    with _servers(1) as addresses:
        channel = grpc.insecure_channel(addresses[0], options=OPTIONS)
        try:
            call = channel.unary_unary(CALL_METHOD, request_serializer=None,
                                       response_deserializer=_identity)

            def run(calls: int) -> int:
                return sum(len(call(request, timeout=RUN_TIMEOUT_S)) for _ in range(calls))

            shares = [count // threads + (i < count % threads) for i in range(threads)]
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(threads) as pool:
                received = sum(pool.map(run, shares))
            seconds = time.perf_counter() - start
        finally:
            channel.close()
    if received != count * response_bytes:
        raise RuntimeError(f"unary calls received {received} of {count * response_bytes} bytes")
    return count / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description="raw gRPC baselines for the minidfs benchmarks")
    parser.add_argument("--serve", metavar="DOWNSTREAM", help=argparse.SUPPRESS)
    parser.add_argument("--total-mib", type=int, default=256)
    parser.add_argument("--message-kib", type=int, nargs="+", default=[64, 1024])
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return 0
    total = args.total_mib * 1024 * 1024
    for kib in args.message_kib:
        put = chain_put_mb_s(total, kib * 1024)
        get = download_mb_s(total, kib * 1024)
        print(f"{args.total_mib} MiB in {kib} KiB messages: chain put {put:7.1f} MB/s, "
              f"download {get:7.1f} MB/s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
