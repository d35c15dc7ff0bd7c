"""The NameNode's audit log on a real cluster: one HDFS-shaped line per namespace
operation and per denial, from the shell (gRPC) and from WebHDFS, in its own file
beside the NameNode's log (minidfs/namenode/audit.py, docs/audit.md)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from minidfs import identity
from minidfs.cli.main import cli
from shell_checks import ok, one_error

CLUSTER_OPTIONS = {"datanodes": 1, "replication": 1,
                   "groups": {"alice": ["alice"], "bob": ["bob"]}}
ADMIN = identity.process_user()


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(user, *args):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), "--user", user, *args],
                             prog_name="minidfs")
    return run


def audit_records(cluster) -> list[dict[str, str]]:
    path = cluster.conf_path.parent / "logs" / "nn1-audit.log"
    records = []
    for line in path.read_text().splitlines():
        head, _, body = line.partition(" INFO FSNamesystem.audit: ")
        assert body, line
        records.append(dict(field.split("=", 1) for field in body.split("\t")))
    return records


def webhdfs(cluster, method: str, path: str, query: str) -> int:
    http = cluster.conf.node("nn1").http_address
    request = urllib.request.Request(f"http://{http}/webhdfs/v1{path}?{query}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            json.loads(reply.read() or b"{}")
            return reply.status
    except urllib.error.HTTPError as e:
        return e.code


def test_operations_and_denials_are_audited_from_both_protocols(cluster, sh, tmp_path):
    ok(sh(ADMIN, "mkdir", "-p", "/user/alice"))
    ok(sh(ADMIN, "chown", "alice:alice", "/user/alice"))
    local = tmp_path / "a.txt"
    local.write_bytes(b"audited\n")
    ok(sh("alice", "put", str(local), "/user/alice/a.txt"))
    ok(sh("alice", "mv", "/user/alice/a.txt", "/user/alice/b.txt"))
    ok(sh("alice", "cat", "/user/alice/b.txt"))
    one_error(sh("bob", "rm", "/user/alice/b.txt"), "rm")
    assert webhdfs(cluster, "PUT", "/user/alice/web", "op=MKDIRS&user.name=alice") == 200
    assert webhdfs(cluster, "PUT", "/user/alice/evil", "op=MKDIRS&user.name=bob") == 403

    records = audit_records(cluster)
    mine = [r for r in records if r["ugi"] in ("alice (auth:SIMPLE)", "bob (auth:SIMPLE)")]

    def find(**fields):
        return [r for r in mine if all(r.get(k) == v for k, v in fields.items())]

    assert find(allowed="true", cmd="create", src="/user/alice/a.txt", proto="rpc",
                perm="alice:alice:rw-r--r--", ip="/127.0.0.1")
    assert find(allowed="true", cmd="rename", src="/user/alice/a.txt",
                dst="/user/alice/b.txt", perm="alice:alice:rw-r--r--")
    assert find(allowed="true", cmd="open", src="/user/alice/b.txt")
    assert find(allowed="false", cmd="delete", src="/user/alice/b.txt",
                ugi="bob (auth:SIMPLE)", perm="null")
    assert find(allowed="true", cmd="mkdirs", src="/user/alice/web", proto="webhdfs",
                perm="alice:alice:rwxr-xr-x")
    assert find(allowed="false", cmd="mkdirs", src="/user/alice/evil", proto="webhdfs",
                ugi="bob (auth:SIMPLE)")
    assert all(set(r) == {"allowed", "ugi", "ip", "cmd", "src", "dst", "perm", "proto"}
               for r in records)
    # Audit lines live in their own file, not in the NameNode's log.
    assert "FSNamesystem.audit" not in cluster.log("nn1")
