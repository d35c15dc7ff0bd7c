"""Secure mode's pure parts: subjects, who may call what, effective users, and the
PKI's files (a CA, issued cert dirs, fail-closed loading)."""
import os

import pytest

from minidfs import errors
from minidfs.security import credentials, pki, policy
from minidfs.security.policy import Subject


def test_subjects_parse_and_refuse():
    assert policy.parse_subject("datanode:dn3") == Subject("datanode", "dn3")
    assert policy.parse_subject("user:alice").is_user
    for bad in ("alice", "admin:x", "user:", "user:a b\n", ":x"):
        with pytest.raises(ValueError):
            policy.parse_subject(bad)


def test_daemon_only_methods():
    user = Subject("user", "alice")
    assert not policy.allowed("/minidfs.DatanodeNamenode/Heartbeat", user)
    assert policy.allowed("/minidfs.DatanodeNamenode/Heartbeat", Subject("datanode", "dn1"))
    assert not policy.allowed("/minidfs.journal.Journal/Journal", Subject("datanode", "dn1"))
    assert policy.allowed("/minidfs.journal.Journal/Journal", Subject("namenode", "nn2"))
    assert not policy.allowed("/mapreduce.JobTracker/Submit", Subject("worker", "w1"))
    assert policy.allowed("/mapreduce.JobTracker/Submit", user)
    assert not policy.allowed("/mapreduce.JobTracker/Heartbeat", user)
    assert policy.allowed("/minidfs.ClientNamenode/Mkdirs", user)
    assert not policy.allowed("/minidfs.Unknown/Method", Subject("namenode", "nn1"))


def test_effective_user():
    assert policy.effective_user(Subject("user", "alice"), "root") == "alice"
    assert policy.effective_user(Subject("datanode", "dn1"), "bob") == "bob"
    assert policy.effective_user(Subject("worker", "w1"), None) == "w1"
    with pytest.raises(errors.PermissionDeniedError):
        policy.effective_user(Subject("worker", "w1"), "root")


def test_issued_cert_dirs_load_and_keys_stay_private(tmp_path):
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    assert oct(os.stat(tmp_path / "pki").st_mode & 0o777) == "0o700"
    assert oct(os.stat(tmp_path / "pki" / "ca.key").st_mode & 0o777) == "0o600"
    out = ca.write_cert_dir(tmp_path / "alice", "user:alice")
    creds = credentials.load(out)
    assert creds.subject == Subject("user", "alice")
    # The same CA comes back from disk.
    assert pki.CertificateAuthority.load_or_create(tmp_path).cert_pem == ca.cert_pem


def test_loose_or_missing_key_material_is_refused(tmp_path):
    ca = pki.CertificateAuthority.generate()
    out = ca.write_cert_dir(tmp_path / "dn1", "datanode:dn1", ["127.0.0.1"])
    os.chmod(out / "key.pem", 0o640)
    with pytest.raises(credentials.SecurityConfigError, match="readable by group or others"):
        credentials.load(out)
    os.chmod(out / "key.pem", 0o600)
    (out / "ca.crt").unlink()
    with pytest.raises(credentials.SecurityConfigError, match="missing CA certificate"):
        credentials.load(out)
    with pytest.raises(credentials.SecurityConfigError, match="no cert dir"):
        credentials.load(tmp_path / "nowhere")


def test_job_subjects_act_as_their_user_for_their_job():
    job = policy.parse_subject("job:job_20260101000000_0001:alice")
    assert (job.kind, job.user, job.job_id) == ("job", "alice", "job_20260101000000_0001")
    assert policy.effective_user(job, "root") == "alice"
    assert policy.allowed("/mapreduce.JobTracker/CanCommit", job)
    assert policy.allowed("/minidfs.ClientNamenode/GetBlockLocations", job)
    assert not policy.allowed("/mapreduce.JobTracker/Submit", job)
    assert not policy.allowed("/mapreduce.JobTracker/Heartbeat", job)
    with pytest.raises(ValueError):
        policy.parse_subject("job:alice")


def test_only_the_job_ca_issues_job_certificates():
    from minidfs.security import peer

    job = policy.parse_subject("job:job_20260101000000_0001:alice")
    user = Subject("user", "alice")
    assert peer._checked(job, issued_by_job_ca=True) == job
    assert peer._checked(job, issued_by_job_ca=False) is None
    assert peer._checked(user, issued_by_job_ca=True) is None
    assert peer._checked(user, issued_by_job_ca=False) == user


def test_every_rpc_of_every_service_has_a_rule():
    """A new RPC must say who may call it: secure mode refuses unlisted methods."""
    from mapreduce.rpc import jobtracker_pb2, worker_pb2
    from minidfs.rpc import (client_namenode_pb2, datanode_namenode_pb2, datatransfer_pb2,
                             journal_pb2)

    missing = [f"/{service.full_name}/{method.name}"
               for module in (client_namenode_pb2, datanode_namenode_pb2, datatransfer_pb2,
                              journal_pb2, jobtracker_pb2, worker_pb2)
               for service in module.DESCRIPTOR.services_by_name.values()
               for method in service.methods
               if not policy.known_method(f"/{service.full_name}/{method.name}")]
    assert missing == [], f"add these to minidfs/security/policy.py: {missing}"
