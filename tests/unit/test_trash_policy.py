"""The trash's layout and checkpoint policy (minidfs/trash.py), the NameNode's
emptier on a real in-process namesystem, and the shell's count columns."""
from __future__ import annotations

import calendar
import pathlib
import time

from minidfs import trash
from minidfs.cli.quota_commands import count_line, header_line, human
from minidfs.config import Settings
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.namesystem import Namesystem

DAY_MS = 86_400_000


def ms(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")) * 1000


def test_layout_and_what_counts_as_in_the_trash() -> None:
    assert trash.current("alice") == "/user/alice/.Trash/Current"
    assert trash.target("/data/a.txt", "alice") == "/user/alice/.Trash/Current/data/a.txt"
    assert trash.in_trash("/user/alice/.Trash/Current/x", "alice")
    assert trash.in_trash("/user/alice/.Trash", "alice")
    assert not trash.in_trash("/user/alice/.Trashy", "alice")
    assert not trash.in_trash("/user/bob/.Trash/Current/x", "alice")
    for holder in ("/", "/user", "/user/alice"):
        assert trash.contains_trash(holder, "alice")
    assert not trash.contains_trash("/user/alice/.Trash", "alice")
    assert not trash.contains_trash("/user/alice/data", "alice")


def test_names_are_made_unique_as_hdfs_does() -> None:
    wanted = "/user/a/.Trash/Current/f"
    assert trash.unique_target(wanted, set().__contains__, 5) == wanted
    assert trash.unique_target(wanted, {wanted}.__contains__, 1700) == wanted + "1700"
    assert trash.unique_target(wanted, {wanted, wanted + "1700"}.__contains__, 1700) \
        == wanted + "1701"


def test_checkpoint_names_and_expiry() -> None:
    now = ms("2026-12-02 01:02:03")
    assert trash.checkpoint_name(now + 999) == "261202010203"
    assert trash.checkpoint_time_ms("261202010203") == now
    assert trash.checkpoint_time_ms("261202010203-2") == now
    for not_one in ("Current", "2612020102", "26120201020x", "261399010203", "stuff-1"):
        assert trash.checkpoint_time_ms(not_one) is None
    assert trash.new_checkpoint(["Current"], now) == "261202010203"
    assert trash.new_checkpoint(["261202010203", "261202010203-1"], now) == "261202010203-2"
    children = ["Current", "mine", "261201010203", "261202010000", "261202010203"]
    assert trash.expired(children, now, DAY_MS) == ["261201010203"]
    assert trash.expired(children, now, 0) == ["261201010203", "261202010000", "261202010203"]


async def test_the_emptier_checkpoints_current_and_deletes_old_checkpoints(tmp_path: pathlib.Path) -> None:
    fs = Namesystem(Settings(trash_interval_s=3600, trash_checkpoint_interval_s=60), tmp_path)
    await fs.start()
    try:
        ops = ClientOperations(fs)
        await ops.mkdirs("/user/alice/.Trash/Current/data", True)
        await ops.mkdirs("/user/alice/.Trash/200101000000/old", True)
        await ops.mkdirs("/user/alice/.Trash/not-a-checkpoint", True)
        await ops.mkdirs("/user/bob/.Trash/Current", True)
        await ops.mkdirs("/user/carol", True)                   # no trash: left alone
        emptier = fs.trash_emptier
        assert emptier.interval_ms() == 60_000
        assert emptier.trash_roots() == ["/user/alice/.Trash", "/user/bob/.Trash"]
        now = ms("2026-12-02 01:02:03")
        await emptier.tick(0, now)                              # the first tick only starts the clock
        assert fs.ns.get("/user/alice/.Trash/Current") is not None
        await emptier.tick(59_999, now)
        assert fs.ns.get("/user/alice/.Trash/Current") is not None
        await emptier.tick(60_000, now)
        alice = fs.ns.get("/user/alice/.Trash")
        assert sorted(alice.children) == ["261202010203", "not-a-checkpoint"]
        assert fs.ns.get("/user/alice/.Trash/261202010203/data") is not None
        assert sorted(fs.ns.get("/user/bob/.Trash").children) == ["261202010203"]
        # An hour later the checkpoint is gone; nothing new to checkpoint meanwhile.
        await emptier.tick(120_000, now + 3_600_000)
        assert sorted(alice.children) == ["not-a-checkpoint"]
        trash_events = [(e.kind, e.subjects["path"]) for e in fs.events.ring.after(0)
                        if e.kind.startswith("trash_")]
        assert trash_events == [
            ("trash_expired", "/user/alice/.Trash/200101000000"),
            ("trash_checkpoint", "/user/alice/.Trash/261202010203"),
            ("trash_checkpoint", "/user/bob/.Trash/261202010203"),
            ("trash_expired", "/user/alice/.Trash/261202010203"),
            ("trash_expired", "/user/bob/.Trash/261202010203")]
    finally:
        await fs.stop()


async def test_no_trash_interval_no_emptier(tmp_path: pathlib.Path) -> None:
    fs = Namesystem(Settings(), tmp_path)
    await fs.start()
    try:
        await ClientOperations(fs).mkdirs("/user/a/.Trash/Current", True)
        assert fs.trash_emptier.interval_ms() == 0
        for tick_ms in (0, 10**9):
            await fs.trash_emptier.tick(tick_ms, 10**12)
        assert fs.ns.get("/user/a/.Trash/Current") is not None
    finally:
        await fs.stop()


def test_count_columns_are_hdfs_s() -> None:
    row = {"path": "/q", "directories": 2, "files": 3, "length": 1536, "space_consumed": 4608,
           "quota": 10, "remaining_quota": 5, "space_quota": None, "remaining_space_quota": None}
    assert count_line(row, False, False) == f"{2:>12} {3:>12} {1536:>18} /q"
    assert count_line(row, True, False) == (f"{10:>12} {5:>15} {'none':>15} {'inf':>15} "
                                            f"{2:>12} {3:>12} {1536:>18} /q")
    assert count_line(row, False, True).split() == ["2", "3", "1.5", "K", "/q"]
    assert header_line(True).split() == ["QUOTA", "REM_QUOTA", "SPACE_QUOTA", "REM_SPACE_QUOTA",
                                         "DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE", "PATHNAME"]
    assert [human(n) for n in (0, 1023, 1024, 1536, 128 << 20, -2048)] == \
        ["0", "1023", "1 K", "1.5 K", "128 M", "-2 K"]
