"""The audit log's line shape (HDFS's hdfs-audit.log) and the wrapper that writes one
line per audited call and per denial (minidfs/namenode/audit.py)."""
from __future__ import annotations

import asyncio

import pytest

from minidfs import errors
from minidfs.namenode import audit
from minidfs.namenode.permission_checker import Caller
from minidfs.namenode.views import FileView

ALICE = Caller("alice", frozenset({"staff"}), False)


def test_the_line_is_hdfs_shaped_and_tab_separated():
    line = audit.format_line(True, "alice", "/127.0.0.1", "create", "/a", None,
                             "alice:supergroup:rw-r--r--", "rpc")
    assert line == ("allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=create\t"
                    "src=/a\tdst=null\tperm=alice:supergroup:rw-r--r--\tproto=rpc")
    denied = audit.format_line(False, "bob", "/10.0.0.2", "delete", "/x\ty\nz", None, None,
                               "webhdfs")
    assert denied.split("\t")[4] == "src=/x\\ty\\nz" and "\n" not in denied
    assert audit.ip_of_peer("ipv4:127.0.0.1:5000") == "/127.0.0.1"
    assert audit.ip_of_peer("ipv6:[::1]:5000") == "/::1"
    assert audit.perm_text("alice", "staff", 0o755, True) == "alice:staff:rwxr-xr-x"


class Ops:
    """Stands in for ClientOperations: same method names and argument names."""

    def get_file_info(self, path, caller=None):
        if path == "/missing":
            raise errors.FileNotFound(f"{path}: no such file or directory")
        return FileView(path, False, 0, 1, 1, 0, False, "alice", "staff", 0o644)

    async def mkdirs(self, path, parents, rpc=None, caller=None, mode=None):
        if path == "/denied":
            raise errors.PermissionDeniedError("Permission denied")

    def renew_lease(self, client):
        return client

    async def set_quota(self, path, count, caller=None):   # as a later issue may add
        return count


@pytest.fixture
def log(tmp_path):
    audit_log = audit.AuditLog(tmp_path / "logs" / "nn1-audit.log", 10_000, 2, "unit-nn1")
    yield audit_log
    audit_log.close()


def _lines(log) -> list[str]:
    return [line.split("FSNamesystem.audit: ", 1)[1]
            for line in log.path.read_text().splitlines()]


def test_one_line_per_call_and_per_denial_none_for_other_failures(log):
    ops = audit.audited(Ops(), log)
    audit.ORIGIN.set(("/127.0.0.1", "rpc"))
    asyncio.run(ops.mkdirs("/a", True, caller=ALICE))
    with pytest.raises(errors.PermissionDeniedError):
        asyncio.run(ops.mkdirs("/denied", True, caller=ALICE))
    with pytest.raises(errors.FileNotFound):
        ops.get_file_info("/missing", ALICE)
    ops.get_file_info("/b", ALICE)
    ops.get_file_info("/c")                     # the NameNode itself: not audited
    assert ops.renew_lease("c1") == "c1"        # not a namespace operation: passed through
    assert asyncio.run(ops.set_quota("/q", 5, caller=ALICE)) == 5
    lines = _lines(log)
    assert [line.split("\t")[0] for line in lines] == ["allowed=true", "allowed=false",
                                                      "allowed=true", "allowed=true"]
    assert "cmd=setQuota\tsrc=/q\tdst=null" in lines[3]
    assert lines[0].endswith("cmd=mkdirs\tsrc=/a\tdst=null\tperm=alice:staff:rw-r--r--\tproto=rpc")
    assert "cmd=mkdirs\tsrc=/denied\tdst=null\tperm=null" in lines[1]
    assert "cmd=getfileinfo\tsrc=/b" in lines[2]


def test_the_file_rotates_within_its_bound(tmp_path):
    audit_log = audit.AuditLog(tmp_path / "nn9-audit.log", 2_000, 2, "unit-nn9")
    try:
        for i in range(200):
            audit_log.write(audit.format_line(True, "alice", "/127.0.0.1", "getfileinfo",
                                              f"/f{i}", None, None, "rpc"))
    finally:
        audit_log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["nn9-audit.log", "nn9-audit.log.1", "nn9-audit.log.2"]
    assert all((tmp_path / f).stat().st_size <= 2_200 for f in files)
