"""The permission checker against HDFS's rules, modes as text, and owners in edits
and images (including a NameNode data dir written before permissions existed)."""
from __future__ import annotations

import asyncio
import pathlib
import shutil

import pytest

from minidfs import errors, fsmode
from minidfs.config import Settings
from minidfs.namenode import checkpoint, edits
from minidfs.namenode import permission_checker as pc
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.namespace import Namespace
from minidfs.namenode.namesystem import Namesystem
from minidfs.namenode.permission_checker import Caller

OLD_NAMENODE = pathlib.Path(__file__).parent / "data" / "namenode_v1"
R, W, X = fsmode.READ, fsmode.WRITE, fsmode.EXECUTE

ALICE = Caller("alice", frozenset({"alice", "staff"}), False)
BOB = Caller("bob", frozenset({"bob", "staff"}), False)      # in alice's group
EVE = Caller("eve", frozenset({"eve"}), False)                # other
ROOT = Caller("hdfs", frozenset({"supergroup"}), True)


def tree(dir_mode=0o755, file_mode=0o644, parent_mode=0o755) -> Namespace:
    """/a (alice:staff dir_mode) holding /a/f (alice:staff file_mode) and /a/d/e.txt,
    below / (hdfs:supergroup) and /p (alice, parent_mode)."""
    ns = Namespace(owner="hdfs", group="supergroup")
    for rec in ns.mkdirs("/p", True, 1, owner="alice", mode=parent_mode):
        ns.apply(rec)
    ns.apply(edits.set_owner("/p", None, "staff"))
    for rec in ns.mkdirs("/p/a/d", True, 1, owner="alice", mode=dir_mode, parent_mode=dir_mode):
        ns.apply(rec)
    for path, mode in (("/p/a/f", file_mode), ("/p/a/d/e.txt", 0o644)):
        for rec in ns.create(path, 1, 1024, "c", False, False, 1, owner="alice", mode=mode):
            ns.apply(rec)
    return ns


def denied(caller, ns, path, **access) -> bool:
    try:
        pc.check(caller, ns.root, path, **access)
    except errors.PermissionDeniedError:
        return True
    return False


# (file mode, caller, access bit, allowed): each class sees only its own three bits.
MODE_CASES = [
    (mode, caller, bit, bool((mode >> shift) & bit))
    for mode in (0o000, 0o700, 0o070, 0o007, 0o640, 0o604, 0o777, 0o111, 0o222, 0o444)
    for caller, shift in ((ALICE, 6), (BOB, 3), (EVE, 0))
    for bit in (R, W, X)
]


@pytest.mark.parametrize("mode,caller,bit,allowed", MODE_CASES)
def test_owner_group_other_bits(mode, caller, bit, allowed):
    ns = tree(file_mode=mode)
    assert denied(caller, ns, "/p/a/f", access=bit) is not allowed
    assert not denied(ROOT, ns, "/p/a/f", access=bit)


def test_owner_class_wins_even_when_group_allows_more():
    # POSIX and HDFS: the owner gets the owner bits only, not the union.
    ns = tree(file_mode=0o070)
    assert denied(ALICE, ns, "/p/a/f", access=R)
    assert not denied(BOB, ns, "/p/a/f", access=R)


@pytest.mark.parametrize("caller", [ALICE, BOB, EVE])
def test_every_ancestor_needs_execute(caller):
    ns = tree(dir_mode=0o766)   # rw for group and other, no x: nobody but alice enters
    blocked = caller is not ALICE
    assert denied(caller, ns, "/p/a/f") is blocked
    assert denied(caller, ns, "/p/a/d/e.txt", access=R) is blocked
    assert denied(caller, ns, "/p/a/missing", ancestor_access=W) is blocked
    assert not denied(ROOT, ns, "/p/a/d/e.txt", access=R)


def test_denial_message_is_hdfs_shaped():
    ns = tree(dir_mode=0o755)
    with pytest.raises(errors.PermissionDeniedError) as e:
        pc.check(BOB, ns.root, "/p/a/f", parent_access=W)
    assert str(e.value) == ('/p/a/f: permission denied: user=bob, access=WRITE, '
                            'inode="/p/a":alice:staff:drwxr-xr-x')


@pytest.mark.parametrize("mode,caller,allowed", [
    (0o755, ALICE, True), (0o755, BOB, False), (0o775, BOB, True), (0o757, EVE, True),
    (0o755, ROOT, True), (0o577, ALICE, False),
])
def test_create_needs_write_on_the_nearest_existing_ancestor(mode, caller, allowed):
    ns = tree(dir_mode=mode)
    # /p/a/new/deeper/x: /p/a is the nearest existing ancestor.
    assert denied(caller, ns, "/p/a/new/deeper/x", ancestor_access=W) is not allowed


def test_delete_needs_write_on_the_parent_and_on_every_directory_below():
    ns = tree(dir_mode=0o777, parent_mode=0o777)
    assert not denied(EVE, ns, "/p/a", parent_access=W, sub_access=pc.WRITE_EXECUTE)
    ns.apply(edits.set_permission("/p/a/d", 0o755))   # one directory below alice's only
    assert denied(EVE, ns, "/p/a", parent_access=W, sub_access=pc.WRITE_EXECUTE)
    assert not denied(ALICE, ns, "/p/a", parent_access=W, sub_access=pc.WRITE_EXECUTE)
    # The file itself needs no rights: the parent's write is what counts.
    ns.apply(edits.set_permission("/p/a/f", 0o000))
    assert not denied(EVE, ns, "/p/a/f", parent_access=W, sub_access=pc.WRITE_EXECUTE)


def test_empty_directories_below_need_no_rights_to_delete():
    ns = tree(dir_mode=0o777, parent_mode=0o777)
    for rec in ns.mkdirs("/p/a/empty", False, 1, owner="alice", mode=0o500):
        ns.apply(rec)
    assert not denied(EVE, ns, "/p/a/empty", parent_access=W, sub_access=pc.WRITE_EXECUTE,
                      ignore_empty_dirs=True)


@pytest.mark.parametrize("caller,target_owner,allowed", [
    (BOB, "bob", True),      # his own file in the sticky directory
    (BOB, "alice", False),   # someone else's
    (ALICE, "bob", True),    # alice owns the directory
    (ROOT, "bob", True),
])
def test_sticky_bit(caller, target_owner, allowed):
    ns = tree(dir_mode=0o1777)
    ns.apply(edits.set_owner("/p/a/f", target_owner, None))
    assert denied(caller, ns, "/p/a/f", parent_access=W) is not allowed
    if not allowed:
        with pytest.raises(errors.PermissionDeniedError, match="sticky bit"):
            pc.check(caller, ns.root, "/p/a/f", parent_access=W)


def test_owner_checks_chmod_chown_chgrp():
    ns = tree()
    node = ns.get("/p/a/f")
    assert denied(BOB, ns, "/p/a/f", owner=True)
    assert not denied(ALICE, ns, "/p/a/f", owner=True)
    assert not denied(ROOT, ns, "/p/a/f", owner=True)
    with pytest.raises(errors.PermissionDeniedError, match="only a superuser"):
        pc.check_set_owner(ALICE, "/p/a/f", node, "bob", None)
    pc.check_set_owner(ALICE, "/p/a/f", node, "alice", "staff")      # no change: fine
    pc.check_set_owner(ALICE, "/p/a/f", node, None, "alice")         # a group she is in
    with pytest.raises(errors.PermissionDeniedError, match="does not belong to group=eve"):
        pc.check_set_owner(ALICE, "/p/a/f", node, None, "eve")
    pc.check_set_owner(ROOT, "/p/a/f", node, "eve", "eve")
    with pytest.raises(errors.PermissionDeniedError, match="not a superuser"):
        pc.check_super(ALICE, "safe mode")


def test_new_inodes_take_the_parents_group_and_the_callers_name():
    ns = tree()
    for rec in ns.create("/p/a/d/new.txt", 1, 1024, "c", False, False, 1, owner="bob",
                         mode=0o640):
        ns.apply(rec)
    node = ns.get("/p/a/d/new.txt")
    assert (node.owner, node.group, node.mode) == ("bob", "staff", 0o640)
    for rec in ns.mkdirs("/p/x/y/z", True, 1, owner="bob", mode=0o700, parent_mode=0o740):
        ns.apply(rec)
    assert [(ns.get(p).owner, ns.get(p).group, ns.get(p).mode)
            for p in ("/p/x", "/p/x/y", "/p/x/y/z")] == [("bob", "staff", 0o740)] * 2 + [
        ("bob", "staff", 0o700)]


@pytest.mark.parametrize("text,current,is_dir,expected", [
    ("755", 0o644, False, 0o755), ("0640", 0o777, False, 0o640), ("1777", 0o755, True, 0o1777),
    ("u+x", 0o644, False, 0o744), ("go-w", 0o777, True, 0o755), ("a=rX", 0o700, True, 0o555),
    ("a=rX", 0o600, False, 0o444), ("u+x,go-r", 0o644, False, 0o700), ("+t", 0o777, True, 0o1777),
    ("o-t", 0o1777, True, 0o777), ("=r", 0o777, False, 0o444), ("u=", 0o755, False, 0o055),
])
def test_parse_mode(text, current, is_dir, expected):
    assert fsmode.parse_mode(text, current, is_dir) == expected


@pytest.mark.parametrize("bad", ["999", "8", "17777", "u+q", "z+x", "u*x", "", "u+x,", "rwx"])
def test_malformed_modes(bad):
    with pytest.raises(errors.InvalidArgument):
        fsmode.parse_mode(bad, 0o644, False)


def test_mode_strings_and_names():
    assert fsmode.mode_string(True, 0o755) == "drwxr-xr-x"
    assert fsmode.mode_string(False, 0o640) == "-rw-r-----"
    assert fsmode.mode_string(True, 0o1777) == "drwxrwxrwt"
    assert fsmode.mode_string(True, 0o1776) == "drwxrwxrwT"
    assert fsmode.apply_umask(0o666, fsmode.parse_umask("022")) == 0o644
    assert fsmode.parse_umask("077") == 0o077
    for bad in ("", "a:b", "a\x00", "a b", "x" * 300):
        with pytest.raises(errors.InvalidArgument):
            fsmode.check_name(bad)
    assert fsmode.check_name("alice.smith@EXAMPLE") == "alice.smith@EXAMPLE"


def test_owners_and_modes_survive_an_image_round_trip():
    ns = tree(dir_mode=0o1770, file_mode=0o600)
    data = checkpoint.serialize(ns, 42)
    back, txid = checkpoint.deserialize(data, "img", "other", "othergroup")
    assert txid == 42
    for path in ("/", "/p", "/p/a", "/p/a/f", "/p/a/d/e.txt"):
        a, b = ns.get(path), back.get(path)
        assert (a.owner, a.group, a.mode) == (b.owner, b.group, b.mode), path


def test_a_namenode_written_before_permissions_loads(tmp_path):
    """A checked-in data dir (image v1 + an edit segment whose records carry no
    owners): everything belongs to the NameNode's user and the superuser group,
    0755 / 0644, and new edits work on top of it."""
    shutil.copytree(OLD_NAMENODE, tmp_path / "nn")

    async def run():
        fs = Namesystem(Settings(safemode_threshold=0.0), tmp_path / "nn")
        await fs.start()
        try:
            ns = fs.ns
            expected = {"/": 0o755, "/data": 0o755, "/data/sub2": 0o755, "/logs": 0o755,
                        "/data/empty.txt": 0o644, "/logs/e.txt": 0o644}
            for path, mode in expected.items():
                node = ns.get(path)
                assert node is not None, path
                assert (node.owner, node.group, node.mode) == (
                    fs.users.superuser, "supergroup", mode), path
            fs.safemode.leave()
            ops = ClientOperations(fs)
            alice = fs.users.caller("alice")
            with pytest.raises(errors.PermissionDeniedError):
                await ops.mkdirs("/data/alice", False, caller=alice)
            await ops.set_permission("/data", "777", False)
            await ops.mkdirs("/data/alice", False, caller=alice)
            assert fs.ns.get("/data/alice").owner == "alice"
        finally:
            await fs.stop()

    asyncio.run(run())
