"""Watching a real cluster (docs/observe.md, docs/metrics.md): /metrics parsed with
prometheus_client's parser against `admin report --json` before and after a
DataNode is killed, the event feed of kill -> re-replication -> return in order,
the standard gRPC health service on every kind of daemon, the status pages' bad
input, and following the feed over gRPC and server-sent events."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import grpc
import pytest
from click.testing import CliRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from minidfs.cli.main import cli

BLOCK = 64 * 1024
CLUSTER_OPTIONS = {"datanodes": 4, "workers": 1, "block_size": BLOCK,
                   "heartbeat_interval_s": 0.5, "dead_node_interval_s": 3.0}
# admin report --json key -> NameNode gauge. Remaining space is left out: it follows
# the disk's free space, which other processes change between the two reads.
REPORT_TO_METRIC = {
    "capacity": "minidfs_namenode_capacity_bytes", "used": "minidfs_namenode_used_bytes",
    "files": "minidfs_namenode_files", "blocks": "minidfs_namenode_blocks",
    "under_replicated": "minidfs_namenode_under_replicated_blocks",
    "missing": "minidfs_namenode_missing_blocks", "corrupt": "minidfs_namenode_corrupt_blocks",
    "live_datanodes": "minidfs_namenode_live_datanodes",
    "dead_datanodes": "minidfs_namenode_dead_datanodes",
}
WAIT_S = 60.0


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(cli, ["--conf", str(cluster.conf_path), *args], prog_name="minidfs")
        assert result.exit_code == code, (result.output, result.exception)
        return result.stdout
    return run


def get(address: str, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metrics(address: str) -> dict[str, float]:
    """Every sample of /metrics: name{labels} -> value (labels sorted, as text)."""
    status, text = get(address, "/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def report_matches_metrics(sh, nn_http: str) -> dict | None:
    report = json.loads(sh("admin", "report", "--json"))
    scraped = metrics(nn_http)
    same = all(scraped[metric] == report[key] for key, metric in REPORT_TO_METRIC.items())
    return report if same else None


def test_kill_rereplicate_return_in_metrics_and_events(cluster, fs, sh, start_datanode,
                                                       wait_until):
    nn_http = cluster.conf.node("nn1").http_address
    data = os.urandom(3 * BLOCK + 100)
    fs.mkdir("/obs", parents=True)
    with fs.open("/obs/f", "wb") as f:
        f.write(data)
    before = wait_until(lambda: (r := report_matches_metrics(sh, nn_http))
                        and r["under_replicated"] == 0 and r["used"] > 0 and r,
                        WAIT_S, "metrics equal to the report")
    assert (before["files"], before["blocks"], before["live_datanodes"]) == (1, 4, 4)
    scraped = metrics(nn_http)
    assert scraped["minidfs_namenode_active"] == 1
    assert scraped["minidfs_namenode_rpc_requests_total{code=OK,method=GetStats}"] >= 1
    # Four blocks: Create hands out the first (docs/datanode.md), AddBlock the rest.
    assert scraped["minidfs_namenode_rpc_duration_seconds_count{method=Create}"] >= 1
    assert scraped["minidfs_namenode_rpc_duration_seconds_count{method=AddBlock}"] >= 3
    written = sum(metrics(cluster.conf.node(f"dn{i}").http_address)
                  ["minidfs_datanode_bytes_written_total"] for i in range(1, 5))
    assert written >= 3 * len(data)

    # Placement is randomised (free space, load: docs/observers.md), so the victim is
    # whichever node holds the most of the file's replicas (at least 3 of 12 on 4 nodes).
    blocks = fs.stat("/obs/f")["blocks"]
    holders = [name for b in blocks for name in b["locations"]]
    victim = max(sorted(set(holders)), key=holders.count)
    held = {str(b["id"]) for b in blocks if victim in b["locations"]}
    assert len(held) >= 3, blocks
    cluster.kill(victim)
    after = wait_until(lambda: (r := report_matches_metrics(sh, nn_http))
                       and r["dead_datanodes"] == 1 and r["under_replicated"] == 0 and r,
                       WAIT_S, "dead node and full replication in both")
    assert (after["live_datanodes"], after["files"], after["blocks"]) == (3, 1, 4)
    assert fs.cat("/obs/f") == data

    start_datanode(victim)
    wait_until(lambda: (r := report_matches_metrics(sh, nn_http))
               and r["dead_datanodes"] == 0 and r["under_replicated"] == 0,
               WAIT_S, "the node back in both")

    def story():
        events = json.loads(sh("admin", "events", "--json"))
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        dead = [e for e in events if e["kind"] == "datanode_dead"]
        if not dead:
            return None
        tail = [e for e in events if e["seq"] >= dead[-1]["seq"]]
        kinds = [e["kind"] for e in tail]
        if "surplus_replica_deleted" not in kinds:
            return None
        return tail, kinds
    tail, kinds = wait_until(story, WAIT_S, "the surplus replicas trimmed")
    assert tail[0]["subjects"]["node"] == victim
    first = {kind: kinds.index(kind) for kind in reversed(kinds)}
    assert (first["datanode_dead"] < first["replication_queued"] < first["replica_copied"]
            < first["datanode_returned"] < first["surplus_replica_deleted"])
    assert tail[first["datanode_returned"]]["subjects"]["node"] == victim
    queued = [e for e in tail if e["kind"] == "replication_queued"]
    assert {e["subjects"]["block"] for e in queued} == held
    assert all(e["subjects"]["priority"] == "1" for e in queued)    # two live replicas left
    text = sh("admin", "events")
    assert "datanode_dead" in text and f"node={victim}" in text


def test_standard_grpc_health_on_every_kind(cluster):
    services = {"nn1": "minidfs.ClientNamenode", "dn1": "minidfs.DataTransfer",
                "jt": "mapreduce.JobTracker", "w1": "mapreduce.Shuffle"}
    for name, service in services.items():
        with grpc.insecure_channel(cluster.conf.node(name).address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for asked in ("", service):
                reply = stub.Check(health_pb2.HealthCheckRequest(service=asked), timeout=10)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, (name, asked)
            with pytest.raises(grpc.RpcError) as e:
                stub.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=10)
            assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_pages_and_their_bad_input(cluster, fs):
    nn = cluster.conf.node("nn1").http_address
    fs.mkdir("/pages/d", parents=True)
    with fs.open("/pages/d/x.txt", "wb") as f:
        f.write(b"hello\n")
    status, text = get(nn, "/")
    assert status == 200 and "DataNodes" in text and "dn1" in text and "HEALTHY" in text
    assert "/static/namenode.js" in text and "http://" not in text.split("<body")[0]
    status, text = get(nn, "/explorer?path=/pages")
    assert status == 200 and "/explorer?path=/pages/d" in text
    status, text = get(nn, "/explorer?path=/pages/d/x.txt")
    assert status == 200 and 'id="blocks"' in text and "Ready" in text
    assert get(nn, "/explorer?path=/pages/../etc")[0] == 400
    assert get(nn, "/explorer?path=/pages%00x")[0] == 400
    assert get(nn, "/explorer?path=/nope")[0] == 404
    status, text = get(nn, "/no/such/page")
    assert status == 404 and "<html" in text
    assert get(nn, "/static/../../etc/passwd")[0] == 404
    assert get(nn, "/static/minidfs.css")[0] == 200
    assert get(nn, "/api/events?after=x")[0] == 400
    status, text = get(nn, "/api/status")
    assert status == 200 and json.loads(text)["live_datanodes"] >= 3
    jt = cluster.conf.node("jt").http_address
    status, text = get(jt, "/")
    assert status == 200 and "Jobs" in text
    assert get(jt, "/job/job_19700101000000_0001")[0] == 404
    assert get(jt, "/job/not-a-job")[0] == 400


def test_follow_over_grpc_and_server_sent_events(cluster, fs, sh):
    follower = subprocess.Popen(
        [sys.executable, "-m", "minidfs.cli.main", "--conf", str(cluster.conf_path),
         "admin", "events", "--follow", "--json"], stdout=subprocess.PIPE, text=True)
    nn = cluster.conf.node("nn1").http_address
    last = json.loads(get(nn, "/api/events")[1])["last_seq"]
    stream = urllib.request.urlopen(f"http://{nn}/events/stream?after={last}", timeout=30)
    try:
        sh("admin", "safemode", "enter")
        sh("admin", "safemode", "leave")
        seen = []
        while len(seen) < 2:
            line = stream.readline().decode()
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: "):])["kind"])
        assert seen == ["safemode_entered", "safemode_left"]
        kinds = []
        while kinds[-2:] != ["safemode_entered", "safemode_left"]:
            kinds.append(json.loads(follower.stdout.readline())["kind"])
    finally:
        stream.close()
        follower.terminate()
        follower.wait(timeout=30)
