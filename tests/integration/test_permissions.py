"""Two users on one real cluster, through the shell and the Python API: private
files, other people's directories, /tmp's sticky bit, chmod / chown / chgrp round
trips, all-or-nothing recursive operations, bad input, and owners and modes that
survive a NameNode SIGKILL + restart.

alice and bob are not users of this host: cluster.toml's [groups] table names them
(alice in staff, bob in staff too for the group tests). The OS user running the
test started the NameNode and is the superuser.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from minidfs import Client, errors, identity
from minidfs.cli.main import cli
from shell_checks import ok, one_error

CLUSTER_OPTIONS = {"datanodes": 1, "replication": 1,
                   "groups": {"alice": ["alice", "staff"], "bob": ["bob", "staff"],
                              "carol": ["carol"]}}
ADMIN = identity.process_user()


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(user, *args, input=None):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), "--user", user, *args],
                             input=input, prog_name="minidfs")
    return run


@pytest.fixture(scope="module")
def users(cluster, sh):
    """Homes for alice and bob (made by the superuser, as an HDFS admin does)."""
    for user in ("alice", "bob", "carol"):
        ok(sh(ADMIN, "mkdir", "-p", f"/user/{user}"))
        ok(sh(ADMIN, "chown", f"{user}:{user}", f"/user/{user}"))
    ok(sh(ADMIN, "chgrp", "staff", "/user/alice"))
    clients = {u: Client(conf=cluster.conf_path, user=u) for u in ("alice", "bob", "carol")}
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def stat(sh, path):
    return json.loads(ok(sh(ADMIN, "stat", "--json", path)).stdout)


def test_cluster_up_made_tmp_and_the_users_home(sh):
    tmp = stat(sh, "/tmp")
    assert (tmp["owner"], tmp["permission"], tmp["sticky"]) == (ADMIN, "1777", True)
    home = stat(sh, f"/user/{identity.current_user()}")
    assert home["owner"] == identity.current_user()


def test_relative_paths_start_at_the_users_home(sh, users, tmp_path):
    local = tmp_path / "a.txt"
    local.write_bytes(b"alice's words\n")
    ok(sh("alice", "put", str(local), "rel.txt"))
    info = stat(sh, "/user/alice/rel.txt")
    # Owner: the caller; group: the parent directory's; mode: 0666 less umask 022.
    assert (info["owner"], info["group"], info["permission"]) == ("alice", "staff", "644")
    assert ok(sh("alice", "cat", "rel.txt")).stdout_bytes == b"alice's words\n"
    assert users["alice"].resolve("x/y") == "/user/alice/x/y"
    ok(sh("alice", "mkdir", "sub"))
    assert stat(sh, "/user/alice/sub")["permission"] == "755"


def test_bob_cannot_read_alices_private_file(sh, users):
    alice, bob = users["alice"], users["bob"]
    with alice.open("/user/alice/private.txt", "wb") as f:
        f.write(b"secret")
    alice.chmod("/user/alice/private.txt", 0o600)
    with pytest.raises(errors.PermissionDeniedError, match="user=bob, access=READ"):
        bob.cat("/user/alice/private.txt")
    line = one_error(sh("bob", "cat", "/user/alice/private.txt"), "cat")
    assert line == ('minidfs: cat: /user/alice/private.txt: permission denied: user=bob, '
                    'access=READ, inode="/user/alice/private.txt":alice:staff:-rw-------')
    assert alice.cat("/user/alice/private.txt") == b"secret"
    assert users["carol"].info("/user/alice/private.txt")["owner"] == "alice"  # stat is fine


def test_bob_cannot_delete_or_create_in_alices_directory(sh, users):
    alice, bob = users["alice"], users["bob"]
    with alice.open("/user/alice/public.txt", "wb") as f:
        f.write(b"hello")
    line = one_error(sh("bob", "rm", "/user/alice/public.txt"), "rm")
    assert line == ('minidfs: rm: /user/alice/public.txt: permission denied: user=bob, '
                    'access=WRITE, inode="/user/alice":alice:staff:drwxr-xr-x')
    with pytest.raises(errors.PermissionDeniedError):
        bob.rename("/user/alice/public.txt", "/user/bob/stolen.txt")
    with pytest.raises(errors.PermissionDeniedError):
        bob.mkdir("/user/alice/bobs")
    with pytest.raises(errors.PermissionDeniedError):
        bob.open("/user/alice/new.txt", "wb")
    assert bob.cat("/user/alice/public.txt") == b"hello"    # 0644: reading is fine
    assert alice.exists("/user/alice/public.txt") and not alice.exists("/user/alice/new.txt")


def test_in_tmp_everyone_writes_but_removes_only_their_own(sh, users):
    alice, bob = users["alice"], users["bob"]
    with alice.open("/tmp/alice.txt", "wb") as f:
        f.write(b"a")
    with bob.open("/tmp/bob.txt", "wb") as f:
        f.write(b"b")
    line = one_error(sh("bob", "rm", "/tmp/alice.txt"), "rm")
    assert "permission denied by sticky bit: user=bob" in line
    with pytest.raises(errors.PermissionDeniedError, match="sticky bit"):
        bob.rename("/tmp/alice.txt", "/tmp/mine.txt")
    ok(sh("bob", "rm", "/tmp/bob.txt"))
    assert alice.exists("/tmp/alice.txt") and not alice.exists("/tmp/bob.txt")
    ok(sh(ADMIN, "rm", "/tmp/alice.txt"))                     # the superuser may


def test_chmod_chown_chgrp_round_trips_and_ls_long_format(sh, users):
    ok(sh("alice", "mkdir", "-p", "/user/alice/rt/d"))
    with users["alice"].open("/user/alice/rt/d/f.txt", "wb") as f:
        f.write(b"12345")
    ok(sh("alice", "chmod", "-R", "go-rx", "/user/alice/rt"))
    assert [stat(sh, p)["permission"] for p in
            ("/user/alice/rt", "/user/alice/rt/d", "/user/alice/rt/d/f.txt")] == ["700", "700", "600"]
    ok(sh("alice", "chmod", "u+x,g=rX", "/user/alice/rt/d/f.txt"))
    assert stat(sh, "/user/alice/rt/d/f.txt")["permission"] == "740"
    ok(sh("alice", "chmod", "1750", "/user/alice/rt"))
    assert stat(sh, "/user/alice/rt")["sticky"] is True
    ok(sh("alice", "chgrp", "-R", "alice", "/user/alice/rt"))
    assert stat(sh, "/user/alice/rt/d/f.txt")["group"] == "alice"
    ok(sh(ADMIN, "chown", "-R", "bob:staff", "/user/alice/rt/d"))
    info = stat(sh, "/user/alice/rt/d/f.txt")
    assert (info["owner"], info["group"]) == ("bob", "staff")
    lines = ok(sh(ADMIN, "ls", "-l", "/user/alice/rt/d")).stdout.splitlines()
    assert lines[0] == "Found 1 items"
    assert lines[1].startswith("-rwxr-----   1 bob staff 5 "), lines
    assert lines[1].endswith(" /user/alice/rt/d/f.txt")
    listing = ok(sh(ADMIN, "ls", "/user/alice")).stdout.splitlines()
    assert any(line.startswith("drwxr-x--T   - alice alice") and line.endswith("/rt")
               for line in listing), listing
    [json_entry] = json.loads(ok(sh(ADMIN, "ls", "--json", "/user/alice/rt/d")).stdout)
    assert {k: json_entry[k] for k in ("owner", "group", "permission", "sticky")} == {
        "owner": "bob", "group": "staff", "permission": "740", "sticky": False}
    # Python API round trip.
    alice = users["alice"]
    assert alice.chmod("rel.txt", 0o640) == 1
    assert alice.info("rel.txt")["permission"] == "640"
    alice.chgrp("rel.txt", "alice")
    assert alice.info("rel.txt")["group"] == "alice"


def test_owner_rules_for_chmod_chown_chgrp(sh, users):
    line = one_error(sh("bob", "chmod", "777", "/user/alice/public.txt"), "chmod")
    assert "user=bob is not the owner" in line
    line = one_error(sh("alice", "chown", "bob", "/user/alice/public.txt"), "chown")
    assert "only a superuser may change the owner" in line
    line = one_error(sh("alice", "chgrp", "carol", "/user/alice/public.txt"), "chgrp")
    assert "does not belong to group=carol" in line
    with pytest.raises(errors.PermissionDeniedError):
        users["bob"].setrep("/user/alice/public.txt", 1)
    assert stat(sh, "/user/alice/public.txt")["permission"] == "644"


def test_a_denied_recursive_operation_changes_nothing(sh, users):
    alice = users["alice"]
    alice.mkdir("/user/alice/tree/a/b", parents=True)
    with alice.open("/user/alice/tree/a/b/x.txt", "wb") as f:
        f.write(b"x")
    ok(sh(ADMIN, "mkdir", "/user/alice/tree/root-owned"))
    ok(sh(ADMIN, "put", "-", "/user/alice/tree/root-owned/y.txt", input=b"root's"))
    before = [e["path"] for e in alice.ls("/user/alice/tree", recursive=True)]
    line = one_error(sh("alice", "rm", "-r", "/user/alice/tree"), "rm")
    assert 'inode="/user/alice/tree/root-owned"' in line and "access=WRITE_EXECUTE" in line
    assert [e["path"] for e in alice.ls("/user/alice/tree", recursive=True)] == before
    one_error(sh("alice", "chmod", "-R", "700", "/user/alice/tree"), "chmod")
    assert all(e["permission"] != "700" for e in alice.ls("/user/alice/tree", recursive=True))


@pytest.mark.parametrize("args,cmd", [
    (("chmod", "999", "/tmp"), "chmod"),
    (("chmod", "u+q", "/tmp"), "chmod"),
    (("chown", "nosuchuser", "/tmp"), "chown"),
    (("chown", ":nosuchgroup", "/tmp"), "chown"),
    (("chown", "a:b:c", "/tmp"), "chown"),
])
def test_bad_input_is_one_line_and_changes_nothing(sh, users, args, cmd):
    one_error(sh(ADMIN, *args), cmd)
    tmp = stat(sh, "/tmp")
    assert (tmp["owner"], tmp["group"], tmp["permission"]) == (ADMIN, "supergroup", "1777")


@pytest.mark.parametrize("user", ["", "a:b", "a\x00b", "has space"])
def test_bad_user_names(sh, user):
    one_error(sh(user, "ls", "/"), "ls")


def test_owners_and_modes_survive_a_namenode_sigkill(cluster, sh, users, wait_until):
    expected = {p: stat(sh, p) for p in ("/tmp", "/user/alice", "/user/alice/private.txt",
                                         "/user/alice/rt", "/user/alice/rt/d/f.txt")}
    cluster.kill("nn1")
    cluster.start("nn1")
    for path, before in expected.items():
        after = stat(sh, path)
        for key in ("owner", "group", "permission", "sticky"):
            assert after[key] == before[key], (path, key)
    with pytest.raises(errors.PermissionDeniedError):
        users["bob"].cat("/user/alice/private.txt")
