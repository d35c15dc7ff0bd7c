"""The pure parts of the malformed-request guard: parsing never raises, the per-peer
log limiter, peer host names (minidfs/rpc/malformed_guard.py)."""
from __future__ import annotations

from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc.malformed_guard import Malformed, PeerLogLimiter, guarded_deserializer, peer_host


def test_bytes_that_do_not_parse_become_a_marker():
    parse = guarded_deserializer(pb.MkdirsRequest.FromString)
    good = pb.MkdirsRequest(path="/a").SerializeToString()
    assert parse(good).path == "/a"
    bad = parse(b"\x0a\xff\xff\xff\xff\x0f")
    assert isinstance(bad, Malformed) and bad.size_bytes == 6
    assert "MkdirsRequest" in bad.message("Mkdirs")
    assert guarded_deserializer(None) is None


def test_one_line_per_peer_per_interval_counting_the_rest():
    now = [0.0]
    limiter = PeerLogLimiter(interval_s=60.0, max_peers=2, clock=lambda: now[0])
    assert limiter.admit("a") == 0
    assert limiter.admit("a") is None
    assert limiter.admit("a") is None
    assert limiter.admit("b") == 0
    now[0] = 61.0
    assert limiter.admit("a") == 2
    limiter.admit("c")                      # evicts the oldest peer ("b")
    assert limiter.admit("b") == 0


def test_peer_host_drops_the_port():
    assert peer_host("ipv4:127.0.0.1:5000") == "127.0.0.1"
    assert peer_host("ipv6:[::1]:5000") == "::1"
    assert peer_host("unix:/tmp/x") == "unix:/tmp/x"
    assert peer_host("") == "unknown"
