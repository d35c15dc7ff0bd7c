"""A job submission whose answer was lost is 'outcome unknown', never a plain failure.

Submit is journaled before it is answered and never retried, so a JobTracker that
died mid-call may have started the job (docs/outcomes.md). A gRPC server in this
process stands in for the JobTracker's wire end only: it takes the call and goes
away before answering.
"""
from __future__ import annotations

import socket
import threading
from concurrent import futures

import grpc
import pytest

from mapreduce.client import JobTrackerClient
from mapreduce.rpc import jobtracker_pb2 as pb
from mapreduce.rpc import jobtracker_pb2_grpc
from minidfs import errors


def client_for(address: str) -> JobTrackerClient:
    client = object.__new__(JobTrackerClient)
    client._metadata = ()
    client._channel = grpc.insecure_channel(address)
    client._stub = jobtracker_pb2_grpc.JobTrackerStub(client._channel)
    return client


def test_a_submission_cut_off_mid_call_is_outcome_unknown():
    arrived = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(2))

    def submit(request, context):
        arrived.set()
        threading.Event().wait(30)   # the JobTracker dies before it answers
        return pb.SubmitReply()

    handler = grpc.method_handlers_generic_handler("mapreduce.JobTracker", {
        "Submit": grpc.unary_unary_rpc_method_handler(
            submit, request_deserializer=pb.SubmitRequest.FromString,
            response_serializer=pb.SubmitReply.SerializeToString)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    threading.Thread(target=lambda: (arrived.wait(10), server.stop(0)), daemon=True).start()
    client = client_for(f"127.0.0.1:{port}")
    try:
        with pytest.raises(errors.OutcomeUnknownError, match="may have been submitted"):
            client.submit(pb.SubmitRequest())
    finally:
        client._channel.close()
        server.stop(0)


def test_a_submission_that_never_connected_is_a_plain_failure():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]       # nothing listens here once closed
    client = client_for(f"127.0.0.1:{port}")
    try:
        with pytest.raises(errors.Unavailable) as failed:
            client.submit(pb.SubmitRequest())
        assert not isinstance(failed.value, errors.OutcomeUnknownError)
    finally:
        client._channel.close()
