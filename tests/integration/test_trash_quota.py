"""Trash and quotas on a real HA cluster (jn1..jn3, nn1, nn2, dn1..dn3): the shell's
rm into /user/<user>/.Trash, expunge, the NameNode's emptier, `admin set-quota` /
`set-space-quota` / `clear-quota`, `count -q -h`, WebHDFS GETCONTENTSUMMARY, bad
input (one line, exit 1, nothing lost), and all of it surviving a NameNode restart
from its image and a failover to the standby.

The trash keeps things an hour but the emptier checkpoints Current every second, so
a trashed file is looked for in Current or a checkpoint; expiry is seen on a
checkpoint whose name is years old.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from minidfs import errors
from minidfs.cli.main import cli
from minidfs.client import ha_admin
from shell_checks import ok, one_error

CLUSTER_OPTIONS = {"ha": True, "trash_interval_s": 3600.0, "trash_checkpoint_interval_s": 1.0}
BLOCK = 64 * 1024
FAILOVER_WAIT_S = 60.0


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args, user=None, input=None):
        extra = ["--user", user] if user else []
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), *extra, *args],
                             input=input, prog_name="minidfs")
    return run


def trash_root(fs) -> str:
    return f"/user/{fs.user}/.Trash"


def in_trash(fs, path: str) -> list[str]:
    """Every trashed copy of path: in Current or in any checkpoint."""
    root = trash_root(fs)
    if not fs.exists(root):
        return []
    found = []
    for entry in fs.ls(root):
        candidate = entry["path"] + path
        if fs.exists(candidate):
            found.append(candidate)
    return found


def counts(sh, path: str) -> list[str]:
    return ok(sh("count", "-q", path)).stdout.split()


def active(cluster) -> str:
    def find():
        roles = {s["name"]: s["role"] for s in ha_admin.ha_statuses(cluster.conf)}
        leaders = [name for name, role in roles.items() if role == "active"]
        return leaders[0] if len(leaders) == 1 else None
    return find()


def test_quotas_from_the_shell(sh, fs, tmp_path):
    ok(sh("mkdir", "-p", "/q/names", "/q/space"))
    ok(sh("admin", "set-quota", "3", "/q/names"))
    assert counts(sh, "/q/names") == ["3", "2", "none", "inf", "1", "0", "0", "/q/names"]
    line = ok(sh("count", "-q", "/q/names")).stdout.rstrip("\n")
    assert line == f"{'3':>12} {'2':>15} {'none':>15} {'inf':>15} {'1':>12} {'0':>12} {'0':>18} /q/names"
    ok(sh("put", "-", "/q/names/a", input=b"a"))
    ok(sh("mkdir", "/q/names/d"))
    line = one_error(sh("put", "-", "/q/names/b", input=b"b"), "put")
    assert line == ("minidfs: put: The NameSpace quota (directories and files) of directory "
                    "/q/names is exceeded: quota=3 file count=4")
    assert not fs.exists("/q/names/b")
    one_error(sh("mkdir", "/q/names/e"), "mkdir")
    one_error(sh("mv", "/q/space", "/q/names/"), "mv")
    assert fs.exists("/q/space") and fs.open("/q/names/a", "rb").read() == b"a"

    # Space: bytes x replication, and the block being written counts as a whole block.
    ok(sh("admin", "set-space-quota", "320K", "/q/space"))   # 1 block x 3 replicas = 192K
    data = bytes(range(256)) * 256                          # one full 64 KiB block
    (tmp_path / "one").write_bytes(data)
    ok(sh("put", str(tmp_path / "one"), "/q/space/one"))
    assert counts(sh, "/q/space")[2:4] == [str(320 * 1024), str(320 * 1024 - 3 * BLOCK)]
    line = one_error(sh("put", str(tmp_path / "one"), "/q/space/two"), "put")
    assert line.startswith("minidfs: put: The DiskSpace quota of /q/space is exceeded: "
                           "quota = 327680 B = 320 KB but diskspace consumed = 393216 B = 384 KB")
    assert not fs.exists("/q/space/two")                    # put removed what it made
    one_error(sh("setrep", "9", "/q/space/one"), "setrep")
    assert fs.open("/q/space/one", "rb").read() == data
    human = ok(sh("count", "-q", "-h", "/q/space")).stdout.split()
    assert human[:6] == ["none", "inf", "320", "K", "128", "K"]

    # A quota below what is used already: allowed, and nothing more may be added.
    ok(sh("admin", "set-quota", "1", "/q/space"))
    assert counts(sh, "/q/space")[:2] == ["1", "-1"]       # /q/space and one
    one_error(sh("mkdir", "/q/space/more"), "mkdir")
    ok(sh("admin", "clear-quota", "/q/space"))
    ok(sh("mkdir", "/q/space/more"))
    assert counts(sh, "/q/space")[:2] == ["none", "inf"]
    assert counts(sh, "/q/space")[2] == str(320 * 1024)     # the space quota stays

    summary = json.loads(ok(sh("count", "-q", "--json", "/q/names")).stdout)[0]
    assert summary["quota"] == 3 and summary["remaining_quota"] == 0
    assert summary["space_quota"] is None and summary["files"] == 1


def test_bad_quota_requests_one_line_each(sh, fs):
    ok(sh("mkdir", "-p", "/badq"))
    ok(sh("put", "-", "/badq/f", input=b"x"))
    for args in (["set-quota", "0", "/badq"], ["set-quota", "many", "/badq"],
                 ["set-space-quota", "0", "/badq"], ["set-space-quota", "lots", "/badq"],
                 ["set-quota", "5", "/badq/f"], ["set-quota", "5", "/nowhere"],
                 ["clear-quota", "/nowhere"]):
        result = sh("admin", *args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("minidfs: "), (args, result.stderr)
        assert "Traceback" not in result.output
    line = sh("admin", "set-quota", "5", "/badq", user="bob").stderr
    assert "permission denied" in line and "bob" in line and line.count("\n") == 1
    assert counts(sh, "/badq")[:4] == ["none", "inf", "none", "inf"]
    assert fs.open("/badq/f", "rb").read() == b"x"
    with pytest.raises(errors.InvalidArgument):
        fs.set_quota("/badq", 0)


def test_rm_moves_into_the_trash_and_trash_removes_for_real(sh, fs):
    ok(sh("mkdir", "-p", "/t/dir/sub"))
    ok(sh("put", "-", "/t/file", input=b"keep me"))
    ok(sh("put", "-", "/t/dir/sub/x", input=b"x"))
    out = ok(sh("rm", "/t/file")).stdout
    assert out == f"Moved: '/t/file' to trash at: {trash_root(fs)}/Current/t/file\n"
    assert not fs.exists("/t/file")
    copies = in_trash(fs, "/t/file")
    assert len(copies) == 1 and fs.open(copies[0], "rb").read() == b"keep me"
    ok(sh("rm", "-r", "/t/dir"))
    assert not fs.exists("/t/dir") and len(in_trash(fs, "/t/dir/sub/x")) == 1
    # The same name again: a second copy (Current's name made unique, or a new checkpoint).
    ok(sh("put", "-", "/t/file", input=b"second"))
    ok(sh("rm", "/t/file"))
    assert len(in_trash(fs, "/t/file")) >= 1 and not fs.exists("/t/file")
    # Something already in the trash is deleted for real.
    victim = in_trash(fs, "/t/dir/sub/x")[0]
    assert ok(sh("rm", victim)).stdout == f"Deleted {victim}\n"
    assert not fs.exists(victim)
    ok(sh("put", "-", "/t/now", input=b"n"))
    assert ok(sh("rm", "--skip-trash", "/t/now")).stdout == "Deleted /t/now\n"
    assert in_trash(fs, "/t/now") == []
    # The Python API and WebHDFS delete for real, as HDFS's FileSystem.delete.
    ok(sh("put", "-", "/t/api", input=b"a"))
    assert fs.delete("/t/api") and in_trash(fs, "/t/api") == []


def test_bad_trash_requests_one_line_each(sh, fs):
    ok(sh("put", "-", f"/user/{fs.user}/mine", input=b"m"))
    line = one_error(sh("rm", "-r", f"/user/{fs.user}"), "rm")
    assert "contains the trash" in line
    assert fs.open(f"/user/{fs.user}/mine", "rb").read() == b"m"
    # A home whose quota has no room for the trash: the move is refused, nothing removed.
    home = f"/user/{fs.user}"
    ok(sh("put", "-", "/t/crowded", input=b"c"))
    used = int(counts(sh, home)[4]) + int(counts(sh, home)[5])
    ok(sh("admin", "set-quota", str(used), home))
    try:
        line = one_error(sh("rm", "/t/crowded"), "rm")
        assert line.startswith("minidfs: rm: Failed to move to trash: /t/crowded: The NameSpace "
                               f"quota (directories and files) of directory {home} is exceeded")
        assert line.endswith("consider using --skip-trash")
        assert fs.open("/t/crowded", "rb").read() == b"c"
    finally:
        ok(sh("admin", "clear-quota", home))
    one_error(sh("rm", "/t/never-there"), "rm")
    ok(sh("mkdir", "-p", "/t/full"))
    one_error(sh("rm", "/t/full"), "rm")                      # a directory without -r
    assert fs.exists("/t/full")


def test_expunge_and_the_emptier(sh, fs, wait_until):
    root = trash_root(fs)
    ok(sh("put", "-", "/e/f", input=b"e"))
    ok(sh("rm", "/e/f"))
    # The emptier turns Current into a checkpoint within its 1 s interval.
    wait_until(lambda: not fs.exists(f"{root}/Current"), 30.0, "Current checkpointed")
    assert len(in_trash(fs, "/e/f")) == 1
    # A checkpoint older than trash_interval_s (its name is the time) goes by itself.
    ok(sh("mkdir", "-p", f"{root}/200101000000/old"))
    wait_until(lambda: not fs.exists(f"{root}/200101000000"), 30.0, "old checkpoint deleted")
    ok(sh("put", "-", "/e/g", input=b"g"))
    ok(sh("rm", "/e/g"))
    out = ok(sh("expunge", "--immediate")).stdout
    assert in_trash(fs, "/e/g") == [] and in_trash(fs, "/e/f") == []
    assert "Deleted trash" in out


def test_quotas_and_trash_survive_a_restart_and_a_failover(sh, fs, cluster, wait_until):
    ok(sh("mkdir", "-p", "/keep/q"))
    ok(sh("admin", "set-quota", "4", "/keep/q"))
    ok(sh("admin", "set-space-quota", "1M", "/keep/q"))
    ok(sh("put", "-", "/keep/q/a", input=b"aaaa"))
    ok(sh("put", "-", "/keep/trashed", input=b"trashed"))
    ok(sh("rm", "/keep/trashed"))
    before = counts(sh, "/keep/q")
    assert before[:4] == ["4", "2", str(1 << 20), str((1 << 20) - 12)]

    def same_after(what: str) -> None:
        def serving():
            try:
                return counts(sh, "/keep/q") == before
            except AssertionError:
                return False
        wait_until(serving, FAILOVER_WAIT_S, f"quotas back after {what}")
        copies = in_trash(fs, "/keep/trashed")
        assert len(copies) == 1 and fs.open(copies[0], "rb").read() == b"trashed", what
        line = one_error(sh("mkdir", "/keep/q/x", "/keep/q/y", "/keep/q/z"), "mkdir")
        assert "quota=4 file count=5" in line, what

    # Both NameNodes stopped gracefully (a checkpoint image each) and started again.
    first = active(cluster)
    for name in ("nn1", "nn2"):
        cluster.kill(name, "TERM")
    for name in ("nn1", "nn2"):
        cluster.start(name)
    same_after("a restart from the images")
    ok(sh("rm", "-r", "--skip-trash", "/keep/q/x", "/keep/q/y"))
    before = counts(sh, "/keep/q")
    # The active killed: the standby, which had tailed the edits, takes over.
    leader = wait_until(lambda: active(cluster), FAILOVER_WAIT_S, "an active namenode")
    cluster.kill(leader, "KILL")
    same_after(f"failover from {leader} (first active was {first})")
    cluster.start(leader)


def test_webhdfs_content_summary_carries_the_quotas(sh, cluster, wait_until):
    ok(sh("mkdir", "-p", "/web/q"))
    ok(sh("admin", "set-quota", "7", "/web/q"))
    ok(sh("admin", "set-space-quota", "2M", "/web/q"))

    def summary():
        for node in cluster.conf.namenodes:
            url = f"http://{node.http_address}/webhdfs/v1/web/q?op=GETCONTENTSUMMARY&user.name=x"
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    return json.loads(reply.read())["ContentSummary"]
            except OSError:
                continue
        return None
    cs = wait_until(summary, FAILOVER_WAIT_S, "GETCONTENTSUMMARY from the active")
    assert cs["quota"] == 7 and cs["spaceQuota"] == 2 << 20 and cs["directoryCount"] == 1

    def explorer():
        for node in cluster.conf.namenodes:
            try:
                with urllib.request.urlopen(f"http://{node.http_address}/explorer?path=/web/q",
                                            timeout=5) as reply:
                    text = reply.read().decode()
            except OSError:
                continue
            if "Quota:" in text:
                return text
        return None
    page = wait_until(explorer, FAILOVER_WAIT_S, "the file browser showing the quota")
    assert "1 of 7 names" in page and "of 2MiB of replicas" in page


def test_webhdfs_set_quota_and_quota_usage(fs, cluster, wait_until):
    fs.mkdir("/web/hq", parents=True)

    def webhdfs(method, query):
        for node in cluster.conf.namenodes:
            url = f"http://{node.http_address}/webhdfs/v1/web/hq?{query}&user.name={fs.user}"
            request = urllib.request.Request(url, method=method)
            try:
                with urllib.request.urlopen(request, timeout=5) as reply:
                    body = reply.read()
                    return json.loads(body) if body else {"status": reply.status}
            except urllib.error.HTTPError as e:
                answer = json.loads(e.read())
                if answer["RemoteException"]["exception"] != "StandbyException":
                    return answer
            except OSError:
                pass
        return None
    assert wait_until(lambda: webhdfs("PUT", "op=SETQUOTA&namespacequota=5"),
                      FAILOVER_WAIT_S, "SETQUOTA") == {"status": 200}
    webhdfs("PUT", "op=SETQUOTA&storagespacequota=1048576")
    usage = webhdfs("GET", "op=GETQUOTAUSAGE")["QuotaUsage"]
    assert usage == {"fileAndDirectoryCount": 1, "quota": 5, "spaceConsumed": 0,
                     "spaceQuota": 1 << 20, "typeQuota": {}}
    webhdfs("PUT", "op=SETQUOTA&namespacequota=-1")
    assert fs.count("/web/hq")["quota"] is None and fs.count("/web/hq")["space_quota"] == 1 << 20
    bad = webhdfs("PUT", "op=SETQUOTA&namespacequota=0")
    assert bad["RemoteException"]["exception"] == "IllegalArgumentException"


def test_malformed_set_quota_requests_are_refused_and_the_server_serves_on(fs):
    from minidfs.rpc import client_namenode_pb2 as pb

    fs.mkdir("/raw", parents=True)
    for request in (pb.SetQuotaRequest(path="raw", quota=5),
                    pb.SetQuotaRequest(path="/raw//x", quota=5),
                    pb.SetQuotaRequest(path="/raw", quota=-7),
                    pb.SetQuotaRequest(path="/raw", space_quota=-2),
                    pb.SetQuotaRequest(path="/raw\x00", quota=1)):
        with pytest.raises(errors.InvalidArgument):
            fs.namenode.call("SetQuota", request)
    fs.namenode.call("SetQuota", pb.SetQuotaRequest(path="/raw"))       # nothing to change
    assert fs.count("/raw")["quota"] is None and fs.count("/raw")["space_quota"] is None
