"""A full block report's packed form: what a DataNode sends (namenode_link.packed_report)
is what the NameNode's servicer reads back (datanode_servicer.reported_replicas), the
old one-message-per-replica form is still read, and arrays that do not line up are
refused before anything is applied."""
from __future__ import annotations

import pathlib

import pytest

from minidfs.datanode.namenode_link import packed_report
from minidfs.datanode.storage import CORRUPT, FINALIZED, RBW, Replica
from minidfs.errors import InvalidArgument
from minidfs.namenode.datanode_servicer import reported_replicas
from minidfs.rpc import common_pb2
from minidfs.rpc import datanode_namenode_pb2 as pb


def _replica(block_id: int, genstamp: int, length: int, state: str) -> Replica:
    return Replica(block_id, genstamp, length, state, pathlib.Path(f"blk_{block_id}"), None)


def test_what_a_datanode_packs_is_what_the_namenode_reads():
    replicas = [_replica(1 << 40, 1001, 0, FINALIZED), _replica(7, 2**63 + 5, 64 << 20, RBW),
                _replica(9, 1002, 123, CORRUPT)]
    wire = packed_report("dn1", replicas).SerializeToString()
    request = pb.BlockReportRequest.FromString(wire)
    assert request.name == "dn1" and not request.replicas
    # A corrupt replica is reported as held (and then named in ReportBadBlocks).
    assert list(reported_replicas(request)) == [
        (1 << 40, 1001, 0, True), (7, 2**63 + 5, 64 << 20, False), (9, 1002, 123, True)]


def test_many_replicas_come_back_in_order():
    replicas = [_replica(i, 1000 + i, 10 * i, RBW if i % 4 == 0 else FINALIZED)
                for i in range(1, 12)]
    request = pb.BlockReportRequest.FromString(packed_report("dn2", replicas).SerializeToString())
    assert list(reported_replicas(request)) == [
        (r.block_id, r.genstamp, r.length, r.state != RBW) for r in replicas]


def test_the_one_message_per_replica_form_is_still_read_beside_the_arrays():
    request = pb.BlockReportRequest(
        name="dn1",
        replicas=[pb.ReplicaReport(block=common_pb2.Block(id=5, genstamp=6, length=7),
                                   finalized=True)],
        ids=[8], genstamps=[9], lengths=[10], finalized=[False])
    assert list(reported_replicas(request)) == [(5, 6, 7, True), (8, 9, 10, False)]
    empty = pb.BlockReportRequest(name="dn1")
    assert list(reported_replicas(empty)) == []


@pytest.mark.parametrize("fields", [
    {"ids": [1, 2], "genstamps": [1], "lengths": [1, 2], "finalized": [True, True]},
    {"ids": [1], "genstamps": [1], "lengths": [1], "finalized": []},
    {"ids": [], "genstamps": [], "lengths": [3], "finalized": []},
])
def test_arrays_of_unequal_lengths_are_refused_before_anything_is_read(fields):
    with pytest.raises(InvalidArgument, match="unequal lengths"):
        reported_replicas(pb.BlockReportRequest(name="dn1", **fields))
