"""A thousand requests a second from one user while another user's are still served.

A real NameNode with tight limits (20 requests a second per user, burst 20) so the
flood is certain to meet them: alice's raw calls (no client retries) are refused
RESOURCE_EXHAUSTED with a Throttled name and a retry-after hint, her WebHDFS calls
429 with Retry-After; bob - flooded by no one - gets every call answered; and
alice's own Client rides the flood by backing off until her call gets through
(namenode/throttle.py, client/namenode_client.py, docs/throttling.md).
"""
from __future__ import annotations

import collections
import threading
import time
import urllib.error
import urllib.request

import grpc

from minidfs.rpc import channels, client_namenode_pb2 as pb, client_namenode_pb2_grpc as pb_grpc
from minidfs.rpc.status import ERROR_KEY, RETRY_AFTER_KEY

CLUSTER_OPTIONS = {"datanodes": 1, "replication": 1, "throttle_user_requests_per_s": 20.0,
                   "throttle_user_burst": 20}
FLOOD_RATE_PER_S = 1000
FLOOD_MAX_S = 60.0
FLOOD_IN_FLIGHT = 256         # the flood runs until bob is done, at most this long
BOB_CALLS = 20
BOB_PAUSE_S = 0.1          # bob stays well under his own limit


def _settle(future, outcomes: collections.Counter, hints: list[str]) -> None:
    try:
        future.result()
        outcomes["OK"] += 1
    except grpc.RpcError as e:
        outcomes[e.code().name] += 1
        trailers = dict(e.trailing_metadata() or ())
        if trailers.get(ERROR_KEY) == "Throttled":
            hints.append(trailers.get(RETRY_AFTER_KEY, ""))


def _flood(address: str, stop: threading.Event, outcomes: collections.Counter,
           hints: list[str]) -> None:
    """FLOOD_RATE_PER_S calls a second, at most FLOOD_IN_FLIGHT unanswered (a client
    that waits for old answers before it sends more, as a real one must)."""
    alice = (("minidfs-user", "alice"),)
    with channels.sync_channel(address) as channel:
        stub = pb_grpc.ClientNamenodeStub(channel)
        pending: collections.deque = collections.deque()
        started = time.monotonic()
        sent = 0
        while not stop.is_set() and time.monotonic() - started < FLOOD_MAX_S:
            ahead_s = started + sent / FLOOD_RATE_PER_S - time.monotonic()
            if ahead_s > 0:
                time.sleep(ahead_s)
            if len(pending) >= FLOOD_IN_FLIGHT:
                _settle(pending.popleft(), outcomes, hints)
            pending.append(stub.GetFileInfo.future(pb.PathRequest(path="/"), metadata=alice,
                                                   timeout=30.0))
            sent += 1
        while pending:
            _settle(pending.popleft(), outcomes, hints)


def _webhdfs_status(http_address: str, user: str) -> tuple[int, str | None]:
    url = f"http://{http_address}/webhdfs/v1/?op=GETFILESTATUS&user.name={user}"
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, None
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Retry-After")


def test_one_users_flood_leaves_another_user_served(cluster, fs):
    nn = cluster.conf.namenodes[0]
    fs.mkdir("/shared", parents=True)
    fs.chmod("/shared", "777")
    outcomes: collections.Counter = collections.Counter()
    hints: list[str] = []
    stop = threading.Event()
    flood = threading.Thread(target=_flood, args=(nn.address, stop, outcomes, hints))
    flood_started = time.monotonic()
    flood.start()
    try:
        bob_codes: collections.Counter = collections.Counter()
        web_alice, web_bob = [], []
        with channels.sync_channel(nn.address) as channel:
            stub = pb_grpc.ClientNamenodeStub(channel)
            bob = (("minidfs-user", "bob"),)
            for i in range(BOB_CALLS):
                try:
                    stub.Mkdirs(pb.MkdirsRequest(path=f"/shared/bob{i}"), metadata=bob,
                                timeout=30.0)
                    stub.GetFileInfo(pb.PathRequest(path=f"/shared/bob{i}"), metadata=bob,
                                     timeout=30.0)
                    bob_codes["OK"] += 2
                except grpc.RpcError as e:
                    bob_codes[e.code().name] += 1
                if i % 4 == 0:
                    web_alice.append(_webhdfs_status(nn.http_address, "alice"))
                    web_bob.append(_webhdfs_status(nn.http_address, "bob"))
                time.sleep(BOB_PAUSE_S)
    finally:
        stop.set()
        flood.join(timeout=120)
    elapsed_s = time.monotonic() - flood_started
    # Her bucket is empty now: alice's Client backs off (retry-after hint, jitter)
    # until a call gets through, instead of failing.
    with cluster.client(user="alice") as alice_fs:
        alice_fs.mkdir("/shared/alice-made-it")
    assert bob_codes == {"OK": 2 * BOB_CALLS}
    assert all(status == 200 for status, _ in web_bob), web_bob
    assert outcomes["RESOURCE_EXHAUSTED"] > outcomes["OK"] > 0, outcomes
    assert set(outcomes) <= {"OK", "RESOURCE_EXHAUSTED"}, outcomes
    assert hints and all(h.isdigit() and int(h) > 0 for h in hints)
    assert any(status == 429 and retry for status, retry in web_alice), web_alice
    assert fs.exists("/shared/alice-made-it")
    print(f"flood: {dict(outcomes)} in {elapsed_s:.1f} s "
          f"({sum(outcomes.values()) / elapsed_s:.0f}/s); bob: {dict(bob_codes)}")
    assert sorted(e["path"] for e in fs.ls("/shared") if "bob" in e["path"]) == sorted(
        f"/shared/bob{i}" for i in range(BOB_CALLS))
