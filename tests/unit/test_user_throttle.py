"""Per-user throttling and the clients' backoff: the NameNode's token buckets and
concurrency limits (namenode/throttle.py), capped exponential backoff with full
jitter (rpc/backoff.py), and NamenodeClient's retries of throttled calls against a
scripted in-process server - honest outcomes included (docs/outcomes.md)."""
from __future__ import annotations

import random
from concurrent import futures

import grpc
import pytest

from minidfs import errors
from minidfs.client import namenode_client
from minidfs.client.namenode_client import NamenodeClient
from minidfs.namenode.throttle import CONCURRENCY_RETRY_S, UserThrottle
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc import client_namenode_pb2_grpc as pb_grpc
from minidfs.rpc.backoff import Backoff
from minidfs.rpc.status import ERROR_KEY, RETRY_AFTER_KEY


def test_a_bucket_refuses_past_its_burst_and_refills_at_the_rate():
    throttle = UserThrottle(requests_per_s=8, burst=3, concurrent_calls=0)
    for _ in range(3):
        throttle.admit("alice", 100.0)
        throttle.release("alice")
    with pytest.raises(errors.Throttled) as caught:
        throttle.admit("alice", 100.0)
    assert caught.value.retry_after_s == pytest.approx(0.125)
    throttle.admit("bob", 100.0)                  # another user has a bucket of their own
    throttle.admit("alice", 100.125)              # one token back after 1 / rate
    with pytest.raises(errors.Throttled):
        throttle.admit("alice", 100.125)
    assert throttle.refused == 2


def test_concurrency_is_per_user_and_released():
    throttle = UserThrottle(requests_per_s=0, burst=0, concurrent_calls=2)
    throttle.admit("alice", 0.0)
    throttle.admit("alice", 0.0)
    with pytest.raises(errors.Throttled, match="2 calls in flight") as caught:
        throttle.admit("alice", 0.0)
    assert caught.value.retry_after_s == CONCURRENCY_RETRY_S
    throttle.admit("bob", 0.0)
    throttle.release("alice")
    throttle.admit("alice", 0.0)
    assert throttle.in_flight("alice") == 2


def test_zero_limits_turn_throttling_off():
    throttle = UserThrottle(requests_per_s=0, burst=0, concurrent_calls=0)
    assert not throttle.enabled
    for _ in range(10_000):
        throttle.admit("alice", 0.0)
    assert throttle.users_tracked() == 0


def test_full_jitter_is_capped_and_honours_the_hint():
    backoff = Backoff(base_s=0.05, cap_s=1.0, rng=random.Random(7))
    delays = [backoff.delay_s(n) for n in range(40)]
    assert all(0.0 <= d <= 1.0 for d in delays)
    assert all(d <= 0.05 * 2 ** n for n, d in enumerate(delays[:4]))
    assert len(set(delays)) == len(delays)        # jittered, not in step
    assert backoff.delay_s(0, hint_s=0.7) >= 0.7
    assert backoff.pause_s(10, hint_s=5.0, remaining_s=0.3) == 0.3
    assert backoff.pause_s(10, remaining_s=-1.0) == 0.0


class ThrottlingNamenode(pb_grpc.ClientNamenodeServicer):
    """Answers the n-th Mkdirs with script[n] (the last one repeats)."""

    def __init__(self) -> None:
        self.script = ["ok"]
        self.requests: list = []

    def Mkdirs(self, request, context):
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if step == "throttled":
            context.set_trailing_metadata(((ERROR_KEY, "Throttled"), (RETRY_AFTER_KEY, "250")))
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "throttled: user alice is over")
        if step == "busy":        # grpc core's own refusal at maximum_concurrent_rpcs
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "Concurrent RPC limit exceeded!")
        if step == "not_durable":
            context.set_trailing_metadata(((ERROR_KEY, "EditNotDurable"),))
            context.abort(grpc.StatusCode.UNAVAILABLE, "nn1: edit not durable")
        return pb.MkdirsResponse()


@pytest.fixture
def namenode(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(namenode_client.time, "sleep", sleeps.append)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = ThrottlingNamenode()
    pb_grpc.add_ClientNamenodeServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}", sleeps
    finally:
        server.stop(grace=None)


def _mkdir(address: str, wait_s: float = 30.0):
    return NamenodeClient([address], deadline_s=5.0, wait_s=wait_s).call(
        "Mkdirs", pb.MkdirsRequest(path="/t"))


def test_a_throttled_call_waits_the_hint_and_succeeds_with_the_same_call_id(namenode):
    servicer, address, sleeps = namenode
    servicer.script = ["throttled", "busy", "throttled", "ok"]
    _mkdir(address)
    assert len(servicer.requests) == 4
    assert len({(r.rpc_id.client_id, r.rpc_id.call_id) for r in servicer.requests}) == 1
    assert sleeps[0] >= 0.25 and sleeps[2] >= 0.25     # the server's hint is a floor
    assert len(sleeps) == 3


def test_throttled_until_the_deadline_is_a_definite_throttled_error(namenode):
    servicer, address, sleeps = namenode
    servicer.script = ["throttled"]
    with pytest.raises(errors.Throttled, match="still throttled after 0.3 s") as caught:
        _mkdir(address, wait_s=0.3)       # sleeps are recorded, not slept: time runs out
    assert not isinstance(caught.value, errors.OutcomeUnknownError)


def test_a_throttled_retry_after_a_maybe_applied_attempt_stays_unknown(namenode):
    servicer, address, _ = namenode
    servicer.script = ["not_durable", "throttled"]
    with pytest.raises(errors.OutcomeUnknownError, match="may have been applied"):
        _mkdir(address, wait_s=0.3)
    servicer.requests.clear()
    servicer.script = ["not_durable", "throttled", "ok"]
    _mkdir(address)                                       # settled by the retry: ok


def test_the_shell_says_throttled_in_one_line(namenode, tmp_path):
    from click.testing import CliRunner

    from minidfs import config
    from minidfs.cli.main import cli

    servicer, address, _ = namenode
    servicer.script = ["throttled"]
    path = tmp_path / "cluster.toml"
    config.save(config.ClusterConfig(
        path=None, settings=config.Settings(client_failover_wait_s=0.5),
        nodes={"nn1": config.NodeConfig("nn1", "namenode", address, tmp_path / "nn1")}), path)
    result = CliRunner().invoke(cli, ["--conf", str(path), "mkdir", "/t"], prog_name="minidfs")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "minidfs: mkdir: throttled: user alice is over (still throttled after 0.5 s)"]
