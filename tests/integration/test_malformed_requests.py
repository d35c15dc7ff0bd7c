"""Malformed requests cost nothing, on every gRPC and HTTP port of a real HA cluster.

The wire fuzzer (wire_fuzz.py) sends garbage to every method of every service of
every daemon (NameNodes, JournalNodes, a DataNode, the JobTracker, a Worker) and
to every HTTP face; then: no reply is UNKNOWN / INTERNAL (or an HTTP 5xx), nothing
stored changed, every daemon still serves, and each log grew by a few lines at
most - no tracebacks (minidfs/rpc/malformed_guard.py, minidfs/web/bad_http_log.py).
"""
from __future__ import annotations

import sys
import pathlib

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import wire_fuzz  # noqa: E402

CLUSTER_OPTIONS = {"ha": True, "datanodes": 1, "workers": 1, "replication": 1}
UNCLEAR_CODES = {"UNKNOWN", "INTERNAL"}
# What a fuzzed daemon may add to its log: a few one-line warnings per port.
MAX_LOG_GROWTH_BYTES = 16 * 1024
PAYLOAD = bytes(range(256)) * 700   # three 64 KiB blocks


def _snapshot(fs) -> tuple:
    listing = sorted((e["path"], e["type"], e["length"]) for e in fs.ls("/", recursive=True))
    stat = fs.stat("/fuzz/data.bin")
    blocks = [(b["id"], b["length"]) for b in stat["blocks"]]
    return listing, blocks, fs.cat("/fuzz/data.bin")


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                          timeout=10.0)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_garbage_on_every_port_changes_nothing(cluster, fs, wait_until):
    fs.mkdir("/fuzz/keep", parents=True)
    with fs.open("/fuzz/data.bin", "wb") as f:
        f.write(PAYLOAD)
    before = _snapshot(fs)
    nodes = list(cluster.conf.nodes.values())
    log_sizes = {node.name: len(cluster.log(node.name)) for node in nodes}

    unclear = {}
    kinds_done: set[str] = set()
    for node in nodes:
        results = wire_fuzz.fuzz_address(node.address, wire_fuzz.SERVICES_BY_KIND[node.kind])
        assert results, node.name
        for method, codes in results.items():
            bad = {code: n for code, n in codes.items() if code in UNCLEAR_CODES}
            if bad:
                unclear[f"{node.name} {method}"] = bad
        # Most garbage does not parse at all: those must be INVALID_ARGUMENT.
        assert sum(c["INVALID_ARGUMENT"] for c in results.values()) > len(results), node.name
        wire_fuzz.raw_tcp_garbage(node.address)
        if node.kind not in kinds_done:   # grpc core's limit: once per kind of daemon
            kinds_done.add(node.kind)
            first_service = wire_fuzz.SERVICES_BY_KIND[node.kind][0]
            assert wire_fuzz.oversized_request(node.address, first_service) == \
                "RESOURCE_EXHAUSTED", node.name
    assert not unclear

    for node in nodes:
        if node.http_address:
            statuses = wire_fuzz.fuzz_http(node.http_address)
            assert not [s for s in statuses if s is not None and s >= 500], (node.name, statuses)
            assert statuses[400] > 0, (node.name, statuses)

    for node in nodes:
        assert _serving(node.address), node.name
    assert _snapshot(fs) == before
    fs.put(__file__, "/fuzz/after.py")
    assert fs.cat("/fuzz/after.py") == pathlib.Path(__file__).read_bytes()

    for node in nodes:
        grown = cluster.log(node.name)[log_sizes[node.name]:]
        assert "Traceback" not in grown, (node.name, grown[-3000:])
        assert len(grown) < MAX_LOG_GROWTH_BYTES, (node.name, grown[-3000:])
