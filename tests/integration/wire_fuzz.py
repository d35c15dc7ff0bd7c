"""A wire fuzzer for every gRPC method of every minidfs service (a test helper and a tool).

`fuzz_address(address, services)` sends garbage request bodies - random bytes,
truncated varints, length-delimited fields with huge length prefixes, wrong wire
types, a valid message cut short - to each method of each service found in the
generated *_pb2 modules, unary and streaming alike (a request stream gets a good
message first when one exists, then garbage, so mid-stream parsing is hit too),
and returns every status code it got back per method. `oversized_request` sends one
body past the 64 MiB message limit; `raw_tcp_garbage(address)` writes bytes that
are not HTTP/2 at all to the port. Run on its own:

    python tests/integration/wire_fuzz.py HOST:PORT [SERVICE ...]

Seeded (`random.Random(seed)`), so a failing case can be replayed.
"""
from __future__ import annotations

import collections
import importlib
import random
import socket
import sys
from typing import Iterable, Iterator

import grpc

PB2_MODULES = (
    "minidfs.rpc.client_namenode_pb2", "minidfs.rpc.datanode_namenode_pb2",
    "minidfs.rpc.datatransfer_pb2", "minidfs.rpc.journal_pb2", "minidfs.rpc.events_pb2",
    "mapreduce.rpc.jobtracker_pb2", "mapreduce.rpc.worker_pb2",
    "grpc_health.v1.health_pb2",
)
# Which services each daemon kind serves (the health service is on every port).
SERVICES_BY_KIND = {
    "namenode": ("minidfs.ClientNamenode", "minidfs.DatanodeNamenode", "grpc.health.v1.Health"),
    "datanode": ("minidfs.DataTransfer", "grpc.health.v1.Health"),
    "journalnode": ("minidfs.journal.Journal", "grpc.health.v1.Health"),
    "jobtracker": ("mapreduce.JobTracker", "grpc.health.v1.Health"),
    "worker": ("mapreduce.Shuffle", "grpc.health.v1.Health"),
}
CALL_TIMEOUT_S = 10.0
# A follow-forever stream (FollowEvents, Watch) that accepted a request ends here.
STREAM_TIMEOUT_S = 2.0


def services() -> dict[str, object]:
    """Full service name -> its ServiceDescriptor, from every generated module."""
    found = {}
    for name in PB2_MODULES:
        module = importlib.import_module(name)
        for service in module.DESCRIPTOR.services_by_name.values():
            found[service.full_name] = service
    return found


def garbage_bodies(rng: random.Random, good: bytes = b"") -> Iterator[bytes]:
    """Request bodies that no protobuf parser should accept (most of them) or that
    parse into nonsense (the rest): both must get a clear status."""
    yield bytes([0x08, 0xFF, 0xFF])                       # field 1 varint, truncated
    yield bytes([0x08]) + b"\xff" * 11                     # a varint longer than 10 bytes
    yield bytes([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])      # field 1 bytes, length 4 GiB, no body
    yield bytes([0x0A, 0xE8, 0x07]) + b"x" * 10            # length 1000, 10 bytes present
    yield bytes([0x0B])                                    # start group, never ended
    yield bytes([0x0F])                                    # wire type 7 (does not exist)
    yield bytes([0x00])                                    # field number 0
    yield bytes([0x0A, 0x02, 0xC3, 0x28])                  # a string field with invalid UTF-8
    if len(good) > 1:
        yield good[:-1]                                    # a valid message cut short
    for _ in range(6):
        yield rng.randbytes(rng.randint(1, 256))


def good_request(service, method) -> bytes:
    """A minimal valid request (empty message) - the start of a stream."""
    module = importlib.import_module(_module_of(method.input_type))
    cls = getattr(module, method.input_type.name, None)
    return cls().SerializeToString() if cls is not None else b""


def _module_of(descriptor) -> str:
    file_name = descriptor.file.name          # e.g. minidfs/rpc/journal.proto
    if file_name.startswith("grpc/health"):
        return "grpc_health.v1.health_pb2"
    return file_name[:-len(".proto")].replace("/", ".") + "_pb2"


def _codes_of(call) -> Iterable[grpc.StatusCode]:
    try:
        for _ in call:
            pass
    except grpc.RpcError as e:
        yield e.code()
    else:
        yield grpc.StatusCode.OK


def fuzz_method(channel: grpc.Channel, service, method, rng: random.Random) -> list[grpc.StatusCode]:
    path = f"/{service.full_name}/{method.name}"
    good = good_request(service, method)
    codes: list[grpc.StatusCode] = []
    for body in garbage_bodies(rng, good):
        try:
            if method.client_streaming and method.server_streaming:
                call = channel.stream_stream(path)(iter([good, body]), timeout=STREAM_TIMEOUT_S)
                codes.extend(_codes_of(call))
            elif method.client_streaming:
                channel.stream_unary(path)(iter([good, body]), timeout=CALL_TIMEOUT_S)
                codes.append(grpc.StatusCode.OK)
            elif method.server_streaming:
                codes.extend(_codes_of(channel.unary_stream(path)(body, timeout=STREAM_TIMEOUT_S)))
            else:
                channel.unary_unary(path)(body, timeout=CALL_TIMEOUT_S)
                codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as e:
            codes.append(e.code())
    return codes


def fuzz_address(address: str, service_names: Iterable[str], seed: int = 14,
                 metadata_user: str | None = None) -> dict[str, collections.Counter]:
    """Every method of the named services at `address` -> Counter of status codes."""
    rng = random.Random(seed)
    known = services()
    results: dict[str, collections.Counter] = {}
    with grpc.insecure_channel(address) as channel:
        for name in service_names:
            service = known[name]
            for method in service.methods:
                codes = fuzz_method(channel, service, method, rng)
                results[f"{name}/{method.name}"] = collections.Counter(c.name for c in codes)
    return results


def oversized_request(address: str, service_name: str, size_bytes: int = 65 * 1024 * 1024 + 1,
                      seed: int = 14) -> str:
    """One request body past the servers' 64 MiB message limit (rpc/channels.py) to the
    first unary method of the service: the status code's name (grpc core refuses it
    as RESOURCE_EXHAUSTED before any of our code runs)."""
    service = services()[service_name]
    method = next(m for m in service.methods if not m.client_streaming)
    path = f"/{service.full_name}/{method.name}"
    body = random.Random(seed).randbytes(1024) * (size_bytes // 1024 + 1)
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(address, options=options) as channel:
        try:
            if method.server_streaming:
                for _ in channel.unary_stream(path)(body, timeout=CALL_TIMEOUT_S * 3):
                    pass
            else:
                channel.unary_unary(path)(body, timeout=CALL_TIMEOUT_S * 3)
        except grpc.RpcError as e:
            return e.code().name
    return "OK"


def raw_tcp_garbage(address: str, seed: int = 14, connections: int = 5) -> None:
    """Connections that speak no HTTP/2 at all: garbage, then a half-sent preface."""
    rng = random.Random(seed)
    host, port = address.rsplit(":", 1)
    payloads = [rng.randbytes(512) for _ in range(connections - 1)]
    payloads.append(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\xff\xff\xff" + rng.randbytes(64))
    for payload in payloads:
        with socket.create_connection((host, int(port)), timeout=5.0) as sock:
            try:
                sock.sendall(payload)
                sock.settimeout(2.0)
                sock.recv(4096)
            except OSError:
                pass


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: wire_fuzz.py HOST:PORT [SERVICE ...]", file=sys.stderr)
        sys.exit(2)
    names = sys.argv[2:] or list(services())
    for key, counter in fuzz_address(sys.argv[1], names).items():
        print(f"{key}: {dict(counter)}")


def http_garbage_requests(rng: random.Random, host: str) -> Iterator[bytes]:
    """Raw HTTP/1.1 requests that are broken at every layer: request line, headers,
    framing, URL encoding, WebHDFS parameters."""
    yield rng.randbytes(200) + b"\r\n\r\n"
    yield b"GET\r\n\r\n"
    yield b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"
    yield b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + rng.randbytes(64)   # a TLS hello
    yield b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    yield b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n"
    yield b"GET / HTTP/1.1\r\nHost x\r\nbroken header\r\n\r\n"
    yield b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    yield b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"
    yield b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    yield b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    base = b"/webhdfs/v1"
    for target in (
            base + b"/%zz?op=GETFILESTATUS",
            base + b"/%C3%28?op=GETFILESTATUS",
            base + b"/a?op=NOSUCHOP",
            base + b"/a?op=",
            base + b"/?op=LISTSTATUS&user.name=%00%01",
            base + b"/a?op=OPEN&offset=abc&length=-1",
            base + b"/a?op=OPEN&offset=99999999999999999999999999",
            base + b"/a?op=GETFILEBLOCKLOCATIONS&offset=-1&length=x",
            base + b"/" + b"d/" * 3000 + b"?op=MKDIRS",
            base + b"/a?op=MKDIRS&permission=999",
            base + b"/a?op=SETREPLICATION&replication=100000",
            base + b"/a?op=RENAME&destination=",
            base + b"/a?op=CREATE&blocksize=-1&replication=0",
            base + b"/a?op=SETPERMISSION&permission=abc",
            base + b"/a?op=DELETE&recursive=maybe",
            base + b"?op=GETFILESTATUS",
            b"/webhdfs/v2/a?op=GETFILESTATUS",
            b"/webhdfs/v1/a?op=GETFILESTATUS&op=LISTSTATUS&&&=&",
            b"/explorer?path=%ff%fe",
            b"/metrics?name[]=%00",
    ):
        for method in (b"GET", b"PUT", b"POST", b"DELETE"):
            yield method + b" " + target + b" HTTP/1.1\r\nHost: " + host.encode() + \
                b"\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    for _ in range(10):
        junk = bytes(rng.choice(b"%?&=/\x00\xff azAZ09.;") for _ in range(rng.randint(1, 80)))
        yield b"GET /webhdfs/v1/" + junk.replace(b" ", b"+") + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def http_status_of(address: str, request: bytes) -> int | None:
    """The status of the reply to a raw request; None when the server closed the
    connection without one (also a fine answer to bytes that are not HTTP)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10.0) as sock:
        try:
            sock.sendall(request)
            reply = b""
            while b"\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            return None
    parts = reply.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return None
    return int(parts[1])


def fuzz_http(address: str, seed: int = 14) -> collections.Counter:
    """Status (or None) -> how many of the garbage requests got it."""
    rng = random.Random(seed)
    return collections.Counter(http_status_of(address, request)
                               for request in http_garbage_requests(rng, address))
