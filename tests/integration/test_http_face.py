"""Every daemon's HTTP face (minidfs/web/face.py): `/healthz` answers on every node of
a real cluster, `/readyz` says ready once the node serves and 503 while a NameNode is
in safe mode, and an unknown URL is a 404."""
from __future__ import annotations

import urllib.error
import urllib.request

from minidfs.client import health

CLUSTER_OPTIONS = {"datanodes": 1, "workers": 1, "replication": 1}


def get(address: str, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_every_node_is_healthy_and_ready(cluster, wait_until):
    for node in cluster.conf.nodes.values():
        assert node.http_address and node.http_address != node.address
        assert get(node.http_address, "/healthz") == (200, "ok\n")
        wait_until(lambda: get(node.http_address, "/readyz")[0] == 200, 30.0,
                   f"{node.name} ready")


def test_unknown_url_is_404(cluster):
    assert get(cluster.conf.node("nn1").http_address, "/no/such/page")[0] == 404


def test_namenode_not_ready_in_safe_mode(cluster, fs):
    address = cluster.conf.node("nn1").http_address
    health.safe_mode(fs.namenode, "enter")
    try:
        status, text = get(address, "/readyz")
        assert status == 503 and "safe mode" in text
    finally:
        health.safe_mode(fs.namenode, "leave")
    assert get(address, "/readyz")[0] == 200
