"""How NamenodeClient classifies failed attempts (docs/outcomes.md): against a scripted
in-process gRPC server that answers each attempt as told, so every row of the outcome
table is exercised without a cluster. The real-process experiments are in
tests/faults/test_outcomes.py."""
from __future__ import annotations

import collections
import socket
import time
from concurrent import futures

import grpc
import pytest

from minidfs import errors
from minidfs.client.namenode_client import NamenodeClient
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import client_namenode_pb2_grpc as pb_grpc
from minidfs.rpc.status import ERROR_KEY

SLOW_S = 0.6      # a "slow" answer outlives DEADLINE_S: the client's deadline passes
DEADLINE_S = 0.2


class ScriptedNamenode(pb_grpc.ClientNamenodeServicer):
    """Answers the n-th attempt with script[n] (the last one repeats); keeps every
    request it got."""

    def __init__(self) -> None:
        self.script: list[str] = ["ok"]
        self.requests: list = []
        self.slow_s = SLOW_S

    def _answer(self, request, context, response):
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        refusals = {
            "not_durable": ("EditNotDurable", grpc.StatusCode.UNAVAILABLE,
                            "nn1: edit not durable (journal quorum lost)"),
            "standby": ("StandbyError", grpc.StatusCode.UNAVAILABLE, "nn1: standby namenode"),
            "exists": ("FileExists", grpc.StatusCode.ALREADY_EXISTS, "/q0: file exists"),
            "internal": ("MinidfsError", grpc.StatusCode.INTERNAL, "internal error: boom"),
        }
        if step == "slow":
            time.sleep(self.slow_s)
            return response
        if step in refusals:
            name, code, details = refusals[step]
            context.set_trailing_metadata(((ERROR_KEY, name),))
            context.abort(code, details)
        return response

    def Mkdirs(self, request, context):
        return self._answer(request, context, pb.MkdirsResponse())

    def Delete(self, request, context):
        deleted = len(self.requests) == 0
        return self._answer(request, context, pb.DeleteResponse(deleted=deleted))

    def GetFileInfo(self, request, context):
        return self._answer(request, context, common.FileStatus(path=request.path))


@pytest.fixture
def namenode():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = ScriptedNamenode()
    pb_grpc.add_ClientNamenodeServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def client(address: str, wait_s: float = 0.5) -> NamenodeClient:
    return NamenodeClient([address], deadline_s=DEADLINE_S, wait_s=wait_s)


def mkdir(nn: NamenodeClient, path: str = "/q0"):
    return nn.call("Mkdirs", pb.MkdirsRequest(path=path))


def test_a_retry_after_a_maybe_applied_attempt_carries_the_same_call_id(namenode):
    servicer, address = namenode
    servicer.script = ["not_durable", "standby", "ok"]
    nn = client(address)
    mkdir(nn)                                   # the retry settles it: ok
    ids = {(r.rpc_id.client_id, r.rpc_id.call_id) for r in servicer.requests}
    assert len(servicer.requests) == 3 and len(ids) == 1
    mkdir(nn, "/q1")
    assert servicer.requests[-1].rpc_id.call_id != servicer.requests[0].rpc_id.call_id


@pytest.mark.parametrize("script, cause", [
    (["not_durable"], "edit not durable"),                          # journal failed after append
    (["slow"], "deadline_exceeded"),                                # the deadline passed
    (["not_durable", "exists"], "then /q0: file exists"),           # a refusal proves nothing now
    (["slow", "standby"], "no active NameNode could tell"),
    (["internal"], "internal error"),                               # may have struck after the change
])
def test_maybe_applied_and_never_settled_is_outcome_unknown(namenode, script, cause):
    servicer, address = namenode
    servicer.script = script
    with pytest.raises(errors.OutcomeUnknownError, match=cause) as caught:
        mkdir(client(address))
    assert str(caught.value).startswith("/q0: outcome unknown: Mkdirs may have been applied: ")
    assert isinstance(caught.value, errors.MinidfsError)


def test_a_delete_retry_that_deleted_nothing_is_outcome_unknown(namenode):
    servicer, address = namenode
    servicer.script = ["not_durable", "ok"]     # the retry answers deleted=False
    with pytest.raises(errors.OutcomeUnknownError, match="the retry changed nothing"):
        client(address).call("Delete", pb.DeleteRequest(path="/r"))


@pytest.mark.parametrize("script, error", [
    (["standby"], errors.StandbyError),         # refused before anything was applied
    (["exists"], errors.FileExists),            # validation: definite
])
def test_definite_refusals_stay_failures(namenode, script, error):
    servicer, address = namenode
    servicer.script = script
    with pytest.raises(error) as caught:
        mkdir(client(address))
    assert not isinstance(caught.value, errors.OutcomeUnknownError)


def test_a_read_is_never_unknown(namenode):
    servicer, address = namenode
    servicer.script = ["slow"]
    with pytest.raises(errors.Unavailable, match="no active NameNode answered GetFileInfo"):
        client(address).call("GetFileInfo", pb.PathRequest(path="/a"))


def test_nothing_sent_to_an_unreachable_namenode_is_a_definite_failure():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(errors.Unavailable, match="no active NameNode answered Mkdirs") as caught:
        mkdir(client(f"127.0.0.1:{port}"))
    assert not isinstance(caught.value, errors.OutcomeUnknownError)


def test_waiting_is_announced_once_after_a_second(namenode):
    servicer, address = namenode
    servicer.script = ["standby"]
    calls = collections.Counter()
    nn = client(address, wait_s=1.6)
    nn.on_wait = lambda: calls.update(["wait"])
    started = time.monotonic()
    with pytest.raises(errors.StandbyError):
        mkdir(nn)
    assert calls["wait"] == 1
    assert time.monotonic() - started >= 1.6


def test_the_shell_says_outcome_unknown_in_one_line(namenode, tmp_path):
    from click.testing import CliRunner

    from minidfs import config
    from minidfs.cli.main import cli

    servicer, address = namenode
    servicer.script = ["not_durable"]
    path = tmp_path / "cluster.toml"
    config.save(config.ClusterConfig(
        path=None, settings=config.Settings(client_failover_wait_s=0.5),
        nodes={"nn1": config.NodeConfig("nn1", "namenode", address, tmp_path / "nn1")}), path)
    result = CliRunner().invoke(cli, ["--conf", str(path), "mkdir", "/q0"], prog_name="minidfs")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "minidfs: mkdir: /q0: outcome unknown: Mkdirs may have been applied: nn1: edit not "
        "durable (journal quorum lost); no active NameNode could tell within 0.5 s"]


def test_ctrl_c_while_a_change_is_out_is_outcome_unknown(namenode):
    import os
    import signal
    import threading

    from minidfs.client.namenode_client import OutcomeUnknownInterrupt

    servicer, address = namenode
    servicer.script = ["slow"]
    # Answered after 3 s, interrupted after 0.2: on a loaded machine a 0.6 s answer
    # once came back before the timer's signal did.
    servicer.slow_s = 3.0
    nn = NamenodeClient([address], deadline_s=5.0, wait_s=5.0)
    # Ctrl-C raises KeyboardInterrupt even where the run inherited SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(OutcomeUnknownInterrupt,
                           match="^/q0: outcome unknown: interrupted while Mkdirs may have been applied$"):
            mkdir(nn)
    finally:
        signal.signal(signal.SIGINT, previous)
