"""Secure mode against attacks, on one real secure cluster (`cluster up --secure`):
mutual TLS on every port, roles per method, users from certificates, block tokens.

Each attack gets its status code, changes nothing stored, and every daemon keeps
serving (checked at the end: fsck healthy, the file reads back byte for byte).
Raw gRPC channels stand in for an attacker who holds some key material but not
the right one; the test's own process speaks as the superuser (the home's
certificate), other users run as `minidfs` subprocesses with --cert-dir.
"""
from __future__ import annotations

import datetime
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import grpc
import pytest

from minidfs import identity
from minidfs.rpc import client_namenode_pb2 as nn_pb
from minidfs.rpc import client_namenode_pb2_grpc as nn_grpc
from minidfs.rpc import common_pb2 as common
from minidfs.rpc import datanode_namenode_pb2 as dn_pb
from minidfs.rpc import datanode_namenode_pb2_grpc as dn_grpc
from minidfs.rpc import datatransfer_pb2 as dt_pb
from minidfs.rpc import datatransfer_pb2_grpc as dt_grpc
from minidfs.security import block_tokens as bt
from minidfs.security import namenode_tokens, pki
from minidfs.security.datanode_tokens import token_metadata

CLUSTER_OPTIONS = {"secure": True, "datanodes": 2, "replication": 2, "workers": 1,
                   "block_key_update_interval_s": 2.0, "block_token_lifetime_s": 120.0,
                   "groups": {"alice": ["staff"], "bob": ["staff"]}}
DATA = os.urandom(100_000)
FILE = "/data/public.bin"
DEADLINE_S = 10.0
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def _home(cluster):
    return cluster.home.root


def cert_dir(cluster, tmp_path_factory, subject, **validity):
    ca = pki.CertificateAuthority.load(_home(cluster))
    return ca.write_cert_dir(tmp_path_factory.mktemp("certs") / subject.replace(":", "_"),
                             subject, **validity)


def channel(address, directory):
    creds = grpc.ssl_channel_credentials(
        root_certificates=(directory / "ca.crt").read_bytes(),
        private_key=(directory / "key.pem").read_bytes(),
        certificate_chain=(directory / "cert.pem").read_bytes())
    return grpc.secure_channel(address, creds)


def sh(cluster, directory, *args):
    env = {**os.environ, "MINIDFS_HOME": str(_home(cluster))}
    env.pop("MINIDFS_CERT_DIR", None)
    return subprocess.run([sys.executable, "-m", "minidfs.cli.main", "--cert-dir",
                           str(directory), *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def stored(cluster, fs):
    fs.mkdir("/data", parents=True)
    fs.chmod("/data", 0o777)
    with fs.open(FILE, "wb") as f:
        f.write(DATA)
    return FILE


@pytest.fixture(scope="module")
def alice(cluster, tmp_path_factory):
    return cert_dir(cluster, tmp_path_factory, "user:alice")


@pytest.fixture(scope="module")
def bob(cluster, tmp_path_factory):
    return cert_dir(cluster, tmp_path_factory, "user:bob")


def nn_address(cluster):
    return cluster.conf.namenodes[0].address


def located(cluster, directory, path):
    with channel(nn_address(cluster), directory) as ch:
        return nn_grpc.ClientNamenodeStub(ch).GetBlockLocations(
            nn_pb.GetBlockLocationsRequest(path=path), timeout=DEADLINE_S)


def read_block(cluster, directory, block, token):
    address = block.locations[0].address
    with channel(address, directory) as ch:
        responses = dt_grpc.DataTransferStub(ch).ReadBlock(
            dt_pb.ReadBlockRequest(block=block.block, offset=0, length=block.block.length),
            timeout=DEADLINE_S, metadata=token_metadata(token))
        return b"".join(r.data for r in responses)


def code_of(call):
    with pytest.raises(grpc.RpcError) as e:
        call()
    return e.value.code()


def schedule(cluster):
    master = (pki.node_cert_dir(_home(cluster), "nn1") / namenode_tokens.MASTER_FILE).read_bytes()
    s = cluster.conf.settings
    return bt.KeySchedule(master, int(s.block_key_update_interval_s * 1000),
                          int(s.block_token_lifetime_s * 1000))


def test_the_superuser_works_and_blocks_carry_tokens(cluster, fs, stored, alice):
    assert fs.cat(stored) == DATA
    blocks = located(cluster, alice, stored).blocks
    assert blocks and all(b.block_token for b in blocks)
    token = bt.decode(blocks[0].block_token)
    assert token.user == "alice" and token.modes == {bt.READ}
    first = blocks[0]
    assert read_block(cluster, alice, first, first.block_token) == DATA[:first.block.length]


def test_the_user_comes_from_the_certificate_not_user(cluster, fs, stored, alice):
    result = sh(cluster, alice, "--user", "root", "mkdir", "/data/by-alice")
    assert result.returncode == 0, result.stderr
    assert fs.stat("/data/by-alice")["owner"] == "alice"
    denied = sh(cluster, alice, "--user", "root", "mkdir", "/not-alices")
    assert denied.returncode == 1 and "user=alice" in denied.stderr
    assert len(denied.stderr.splitlines()) == 1 and not fs.exists("/not-alices")


def test_no_client_certificate_is_refused_on_grpc_and_http(cluster, stored):
    address = nn_address(cluster)
    plain = grpc.insecure_channel(address)
    assert code_of(lambda: nn_grpc.ClientNamenodeStub(plain).GetStats(
        nn_pb.GetStatsRequest(), timeout=DEADLINE_S)) == UNAVAILABLE
    ca = (pki.pki_dir(_home(cluster)) / "ca.crt").read_bytes()
    server_only = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=ca))
    assert code_of(lambda: nn_grpc.ClientNamenodeStub(server_only).Mkdirs(
        nn_pb.MkdirsRequest(path="/intruder"), timeout=DEADLINE_S)) == UNAVAILABLE
    context = ssl.create_default_context(cafile=str(pki.pki_dir(_home(cluster)) / "ca.crt"))
    http = cluster.conf.namenodes[0].http_address
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        urllib.request.urlopen(f"https://{http}/webhdfs/v1/?op=MKDIRS", timeout=DEADLINE_S,
                               context=context).read()
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://{http}/healthz", timeout=DEADLINE_S).read()


def test_a_certificate_from_another_ca_is_refused(cluster, stored, tmp_path):
    other = pki.CertificateAuthority.generate("another CA")
    stolen = other.write_cert_dir(tmp_path / "mallory", "user:root")
    (stolen / "ca.crt").write_bytes((pki.pki_dir(_home(cluster)) / "ca.crt").read_bytes())
    with channel(nn_address(cluster), stolen) as ch:
        assert code_of(lambda: nn_grpc.ClientNamenodeStub(ch).Delete(
            nn_pb.DeleteRequest(path=FILE, recursive=True), timeout=DEADLINE_S)
        ) == grpc.StatusCode.UNAVAILABLE


def test_an_expired_certificate_is_refused(cluster, stored, tmp_path_factory):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    expired = cert_dir(cluster, tmp_path_factory, "user:root", not_valid_after=past)
    with channel(nn_address(cluster), expired) as ch:
        assert code_of(lambda: nn_grpc.ClientNamenodeStub(ch).Delete(
            nn_pb.DeleteRequest(path=FILE, recursive=True), timeout=DEADLINE_S)
        ) == grpc.StatusCode.UNAVAILABLE


def test_a_user_certificate_cannot_speak_for_a_datanode(cluster, stored, alice):
    with channel(nn_address(cluster), alice) as ch:
        stub = dn_grpc.DatanodeNamenodeStub(ch)
        assert code_of(lambda: stub.Heartbeat(dn_pb.HeartbeatRequest(name="dn1"),
                                              timeout=DEADLINE_S)) == DENIED
        assert code_of(lambda: stub.BlockReport(dn_pb.BlockReportRequest(name="dn1"),
                                                timeout=DEADLINE_S)) == DENIED


def test_a_worker_certificate_cannot_submit_a_job(cluster, tmp_path_factory):
    from mapreduce.rpc import jobtracker_pb2, jobtracker_pb2_grpc

    worker = pki.node_cert_dir(_home(cluster), "w1")
    with channel(cluster.conf.jobtracker.address, worker) as ch:
        assert code_of(lambda: jobtracker_pb2_grpc.JobTrackerStub(ch).Submit(
            jobtracker_pb2.SubmitRequest(), timeout=DEADLINE_S)) == DENIED


def _forge(token: bytes, **changes) -> bytes:
    """The token with fields changed but its old signature: what an attacker can make."""
    original = bt.decode(token)
    return bt._encode_id(bt.TokenId(**{**original.__dict__, **changes})) + token[-bt.MAC_BYTES:]


@pytest.mark.parametrize("change", [
    {"modes": frozenset({bt.READ, bt.WRITE, bt.COPY})}, {"block_id": "another"},
    {"expiry_ms": 2**62}, {"user": "bob"}])
def test_a_tampered_block_token_is_refused(cluster, stored, alice, bob, change):
    blocks = located(cluster, alice, stored).blocks
    block = blocks[0]
    if "block_id" in change:
        # The token of the first block, changed to name the second (which alice may read).
        change = {"block_id": blocks[1].block.id}
        block.block.id = blocks[1].block.id
    forged = _forge(block.block_token, **change)
    who = bob if change.get("user") == "bob" else alice
    assert code_of(lambda: read_block(cluster, who, block, forged)) == DENIED


def test_expired_unknown_key_no_token_and_other_users_tokens_are_refused(cluster, stored, alice,
                                                                         bob):
    block = located(cluster, alice, stored).blocks[0]
    keys = schedule(cluster)
    now = int(time.time() * 1000)
    expired = bt.sign(keys.current(now), bt.TokenId(
        keys.current_id(now), now - 1000, "alice", block.block.id, block.block.genstamp,
        frozenset({bt.READ})))
    unknown = bt.sign(keys.key(keys.current_id(now) + 1000), bt.TokenId(
        keys.current_id(now) + 1000, now + 60_000, "alice", block.block.id,
        block.block.genstamp, frozenset({bt.READ})))
    for who, token in ((alice, expired), (alice, unknown), (alice, b""), (bob, block.block_token)):
        assert code_of(lambda: read_block(cluster, who, block, token)) == DENIED


def test_a_read_token_cannot_write(cluster, stored, alice):
    block = located(cluster, alice, stored).blocks[0]
    target = block.locations[0].address
    fresh_id = block.block.id + 10_000_000
    header = dt_pb.WriteHeader(block=common.Block(id=fresh_id, genstamp=1), chunk_size=65536,
                               stage=dt_pb.WriteHeader.CREATE)
    read_token = bt.sign(schedule(cluster).current(int(time.time() * 1000)), bt.TokenId(
        schedule(cluster).current_id(int(time.time() * 1000)), int(time.time() * 1000) + 60_000,
        "alice", fresh_id, 1, frozenset({bt.READ})))
    with channel(target, alice) as ch:
        acks = dt_grpc.DataTransferStub(ch).WriteBlock(
            iter([dt_pb.WriteBlockRequest(header=header, seqno=1, last=True)]),
            timeout=DEADLINE_S, metadata=token_metadata(read_token))
        assert code_of(lambda: list(acks)) == DENIED
    datanode = pki.node_cert_dir(_home(cluster), block.locations[0].name)
    with channel(target, datanode) as ch:
        info = dt_grpc.DataTransferStub(ch).GetReplicaInfo(
            dt_pb.ReplicaInfoRequest(block_id=fresh_id), timeout=DEADLINE_S)
    assert not info.exists


def test_a_token_from_before_a_key_roll_still_reads(cluster, stored, alice, wait_until):
    block = located(cluster, alice, stored).blocks[0]
    signed_with = bt.decode(block.block_token).key_id
    keys = schedule(cluster)
    wait_until(lambda: keys.current_id(int(time.time() * 1000)) > signed_with + 1, 30.0,
               "two key rolls")
    assert read_block(cluster, alice, block, block.block_token) == DATA[:block.block.length]


def mapreduce_cli(cluster, directory, *args):
    env = {**os.environ, "MINIDFS_HOME": str(_home(cluster))}
    env.pop("MINIDFS_CERT_DIR", None)
    return subprocess.run([sys.executable, "-m", "mapreduce.cli", "--cert-dir", str(directory),
                           *args], env=env, capture_output=True, text=True, timeout=240)


def test_a_job_runs_as_its_submitter(cluster, fs, stored, alice, bob):
    import pathlib

    fs.mkdir("/data/alice")
    fs.chown("/data/alice", "alice")
    with fs.open("/data/alice/in.txt", "wb") as f:
        f.write(b"to be or not to be\n")
    wordcount = pathlib.Path(__file__).resolve().parents[2] / "examples" / "wordcount.py"
    result = mapreduce_cli(cluster, alice, "run", str(wordcount), "--input", "/data/alice/in.txt",
                           "--output", "/data/alice/wc")
    assert result.returncode == 0, result.stderr
    assert fs.stat("/data/alice/wc/part-00000")["owner"] == "alice"
    lines = fs.cat("/data/alice/wc/part-00000").decode().splitlines()
    counts = dict(line.split("\t") for line in lines if line)
    assert counts == {"to": "2", "be": "2", "or": "1", "not": "1"}
    job_id = next(w for w in result.stderr.split() if w.startswith("job_"))
    peek = mapreduce_cli(cluster, bob, "status", job_id)
    assert peek.returncode == 1 and "permission denied" in peek.stderr


def test_a_task_cannot_read_another_users_private_file(cluster, fs, stored, alice, tmp_path):
    with fs.open("/data/bob-secret.txt", "wb") as f:
        f.write(b"bob's secret\n")
    fs.chown("/data/bob-secret.txt", "bob")
    fs.chmod("/data/bob-secret.txt", 0o600)
    job = tmp_path / "peek.py"
    job.write_text(
        "from mapreduce import Job\n"
        "from minidfs import Client\n"
        "class Peek(Job):\n"
        "    def mapper(self, key, line):\n"
        f"        fs = Client(conf={str(cluster.conf_path)!r})\n"
        "        yield 'secret', fs.cat('/data/bob-secret.txt').decode()\n"
        "    def reducer(self, key, values):\n"
        "        yield key, list(values)\n")
    result = mapreduce_cli(cluster, alice, "run", f"{job}:Peek", "--input", "/data/alice/in.txt",
                           "--output", "/data/alice/peek")
    assert result.returncode == 1
    assert "permission denied: user=alice" in result.stderr
    assert not fs.exists("/data/alice/peek/part-00000")
    assert fs.cat("/data/bob-secret.txt") == b"bob's secret\n"

def https(cluster, directory):
    context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    context.load_cert_chain(str(directory / "cert.pem"), str(directory / "key.pem"))
    return context


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_webhdfs_redirects_carry_a_token_the_datanode_checks(cluster, stored, alice, bob):
    import urllib.parse

    http = cluster.conf.namenodes[0].http_address
    url = f"https://{http}/webhdfs/v1{FILE}?op=OPEN&user.name=root"
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=https(cluster, alice)),
                                         _NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(url, timeout=DEADLINE_S)
    assert redirect.value.code == 307
    location = redirect.value.headers["Location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert location.startswith("https://") and query["user.name"] == "alice" and query["blocktoken"]
    with urllib.request.urlopen(location, timeout=DEADLINE_S, context=https(cluster, alice)) as r:
        assert r.read() == DATA
    # Bob replaying alice's redirect, or a redirect without its token, is refused.
    for who, target in ((bob, location),
                        (alice, location.replace(query["blocktoken"], "")),
                        (alice, location.replace(query["blocktoken"],
                                                 query["blocktoken"][:-4] + "AAAA"))):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(target, timeout=DEADLINE_S, context=https(cluster, who))
        assert refused.value.code == 403


def test_the_job_ca_mints_job_certificates_only_each_for_its_own_job(cluster, stored, tmp_path):
    from mapreduce.rpc import jobtracker_pb2, jobtracker_pb2_grpc

    job_ca = pki.CertificateAuthority.load_job_ca(pki.node_cert_dir(_home(cluster), "jt"))
    fake_daemon = job_ca.write_cert_dir(tmp_path / "fake-dn", "datanode:dn1", ["127.0.0.1"])
    with channel(nn_address(cluster), fake_daemon) as ch:
        assert code_of(lambda: dn_grpc.DatanodeNamenodeStub(ch).Heartbeat(
            dn_pb.HeartbeatRequest(name="dn1"),
            timeout=DEADLINE_S)) == grpc.StatusCode.UNAUTHENTICATED
    job = job_ca.write_cert_dir(tmp_path / "job", "job:job_20260101000000_0001:alice")
    with channel(cluster.conf.jobtracker.address, job) as ch:
        stub = jobtracker_pb2_grpc.JobTrackerStub(ch)
        assert code_of(lambda: stub.GetMapOutputs(jobtracker_pb2.MapOutputsRequest(
            job_id="job_20260101000000_0002"), timeout=DEADLINE_S)) == DENIED
        assert code_of(lambda: stub.Submit(jobtracker_pb2.SubmitRequest(),
                                           timeout=DEADLINE_S)) == DENIED


def test_the_shells_admin_and_cluster_commands_work_in_secure_mode(cluster, stored):
    import json

    root = pki.user_cert_dir(_home(cluster), identity.process_user())
    events = sh(cluster, root, "admin", "events", "--json")
    assert events.returncode == 0, events.stderr
    checksum = sh(cluster, root, "checksum", FILE)       # DataTransfer.BlockChecksum, with tokens
    assert checksum.returncode == 0, checksum.stderr
    status = sh(cluster, root, "cluster", "status", "--json")
    assert status.returncode == 0, status.stderr
    nodes = json.loads(status.stdout)["nodes"]
    assert all(n["state"] == "running" and n.get("ready", True) for n in nodes), nodes


def sh_input(cluster, directory, data: bytes, *args):
    env = {**os.environ, "MINIDFS_HOME": str(_home(cluster))}
    env.pop("MINIDFS_CERT_DIR", None)
    return subprocess.run([sys.executable, "-m", "minidfs.cli.main", "--cert-dir",
                           str(directory), *args], env=env, input=data, capture_output=True,
                          timeout=120)


def test_append_and_tail_work_in_secure_mode(cluster, alice):
    """An append reopens the last block and reads its short chunk back: the Append
    reply's token carries WRITE and READ, and the read-back sends it."""
    path = "/data/alice-log"
    for data, args in ((b"first line\n", ("put", "-", path)),
                       (b"second line\n", ("append", "-", path)),   # the short last block, reopened
                       (b"third line\n", ("append", "-", path))):
        done = sh_input(cluster, alice, data, *args)
        assert done.returncode == 0, done.stderr.decode()
    tail = sh(cluster, alice, "tail", path)
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout == "first line\nsecond line\nthird line\n"


def test_nothing_changed_and_every_daemon_serves(cluster, fs, stored):
    assert fs.cat(stored) == DATA
    assert not fs.exists("/intruder") and not fs.exists("/not-alices")
    report = fs.namenode.call("Fsck", nn_pb.FsckRequest(path="/"))
    assert report.healthy, report
    assert all(n["state"] == "running" for n in cluster.status())
