"""Secure mode across a NameNode failover: a block token the old active signed still
opens its block after the standby took over (both NameNodes derive the same block
keys, docs/security.md), and the cluster keeps serving over mutual TLS. Real
processes: an HA secure cluster, the active SIGKILLed."""
from __future__ import annotations

import os
import time

import grpc
import pytest

from cluster import LocalCluster
from minidfs.client.ha_admin import ha_statuses
from minidfs.rpc import client_namenode_pb2 as nn_pb
from minidfs.rpc import client_namenode_pb2_grpc as nn_grpc
from minidfs.rpc import datatransfer_pb2 as dt_pb
from minidfs.rpc import datatransfer_pb2_grpc as dt_grpc
from minidfs.security import block_tokens as bt
from minidfs.security import pki
from minidfs.security.datanode_tokens import token_metadata

WAIT_S = 60.0


def wait_for(condition, what, timeout_s=WAIT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.2)


def active(local, other_than=None):
    def find():
        names = [s["name"] for s in ha_statuses(local.conf, deadline_s=1.0)
                 if s["role"] == "active"]
        return names[0] if len(names) == 1 and names[0] != other_than else None
    return wait_for(find, "one active namenode")


def channel(address, directory):
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(
        root_certificates=(directory / "ca.crt").read_bytes(),
        private_key=(directory / "key.pem").read_bytes(),
        certificate_chain=(directory / "cert.pem").read_bytes()))


def test_a_token_signed_before_a_failover_still_reads(tmp_path):
    data = os.urandom(70_000)
    local = LocalCluster(tmp_path / "home", datanodes=1, replication=1, ha=True, secure=True,
                         block_size=64 * 1024, heartbeat_interval_s=0.5, ha_lease_duration_s=2.0,
                         block_key_update_interval_s=2.0)
    try:
        local.up()
        alice = pki.CertificateAuthority.load(local.home.root).write_cert_dir(
            tmp_path / "alice", "user:alice")
        with local.client() as fs:
            with fs.open("/tmp/f.bin", "wb") as f:
                f.write(data)
        old = active(local)
        with channel(local.conf.node(old).address, alice) as ch:
            block = nn_grpc.ClientNamenodeStub(ch).GetBlockLocations(
                nn_pb.GetBlockLocationsRequest(path="/tmp/f.bin"), timeout=10).blocks[0]
        assert bt.decode(block.block_token).user == "alice"
        # A user certificate may not speak for a NameNode to the JournalNodes, nor read
        # the edits (it may read the epoch and txids, for `admin ha status`).
        from minidfs.rpc import journal_pb2, journal_pb2_grpc

        with channel(local.conf.node("jn1").address, alice) as ch:
            with pytest.raises(grpc.RpcError) as denied:
                journal_pb2_grpc.JournalStub(ch).GetJournaledEdits(
                    journal_pb2.GetJournaledEditsRequest(since_txid=1), timeout=10)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.RpcError) as denied:
                journal_pb2_grpc.JournalStub(ch).NewEpoch(
                    journal_pb2.NewEpochRequest(), timeout=10)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        local.kill(old)
        new = active(local, other_than=old)
        assert new != old
        # The DataNode now hears from the new active only; the old token still opens the block.
        with channel(block.locations[0].address, alice) as ch:
            got = b"".join(r.data for r in dt_grpc.DataTransferStub(ch).ReadBlock(
                dt_pb.ReadBlockRequest(block=block.block, offset=0, length=block.block.length),
                timeout=10, metadata=token_metadata(block.block_token)))
        assert got == data[:block.block.length]
        with local.client() as fs:
            assert fs.cat("/tmp/f.bin") == data
    finally:
        local.down()
