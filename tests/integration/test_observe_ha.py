"""Watching an HA cluster: the standby's gRPC health and status page say standby
(and link to the active), the JournalNodes report a formatted journal, and a SIGKILL
of the active shows up as the other NameNode's `ha_transition` to active in
`admin events`, read from the new active."""
from __future__ import annotations

import json
import urllib.request

import grpc
from click.testing import CliRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc

from minidfs.cli.main import cli

CLUSTER_OPTIONS = {"ha": True, "datanodes": 1, "workers": 0, "replication": 1}
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
FAILOVER_WAIT_S = 60.0


def health(address: str, service: str) -> int:
    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10).status


def events(conf_path) -> list[dict]:
    result = CliRunner().invoke(cli, ["--conf", str(conf_path), "admin", "events", "--json"],
                                prog_name="minidfs")
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_standby_health_page_and_failover_event(cluster, wait_until):
    conf = cluster.conf
    roles = {n["name"]: n["role"] for n in cluster.status() if n["kind"] == "namenode"}
    active = next(name for name, role in roles.items() if role == "active")
    standby = next(name for name in roles if name != active)
    wait_until(lambda: health(conf.node(standby).address, "minidfs.ClientNamenode") == NOT_SERVING,
               20.0, "standby not serving clients")
    assert health(conf.node(standby).address, "minidfs.DatanodeNamenode") == SERVING
    assert health(conf.node(standby).address, "") == SERVING
    # Refreshed every HEALTH_REFRESH_S from the active's lease: allow a refresh.
    wait_until(lambda: health(conf.node(active).address, "minidfs.ClientNamenode") == SERVING,
               20.0, "active serving clients")
    for jn in ("jn1", "jn2", "jn3"):
        assert health(conf.node(jn).address, "minidfs.journal.Journal") == SERVING
    with urllib.request.urlopen(f"http://{conf.node(standby).http_address}/", timeout=10) as r:
        page = r.read().decode()
    assert "<b>standby</b>" in page and f'href="http://{conf.node(active).http_address}/"' in page

    first = [e for e in events(conf.path) if e["kind"] == "ha_transition"]
    assert first[-1]["subjects"]["node"] == active and first[-1]["subjects"]["role"] == "active"
    cluster.kill(active)

    def took_over():
        found = [e for e in events(conf.path) if e["kind"] == "ha_transition"
                 and e["subjects"]["node"] == standby and e["subjects"]["role"] == "active"]
        return found and found[-1]
    event = wait_until(took_over, FAILOVER_WAIT_S, f"{standby} active in its events")
    assert int(event["subjects"]["epoch"]) > int(first[-1]["subjects"]["epoch"])
    wait_until(lambda: health(conf.node(standby).address, "minidfs.ClientNamenode") == SERVING,
               20.0, "the new active serving")
