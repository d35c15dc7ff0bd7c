"""Small-file faults with real processes (issue 21): a DataNode killed while the
Client's pooled channel to it is idle, a channel pool at its bound, a directory put
interrupted with SIGINT, and a directory get onto a full local disk (a real tmpfs
of 256 KiB)."""
from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from minidfs.rpc import channels
from minidfs.rpc.channel_pool import ChannelPool

SHELL_TIMEOUT_S = 120.0
TINY_DISK_BYTES = 256 * 1024


def shell(cluster, *args: str, **kwargs) -> subprocess.Popen:
    """The real `minidfs` shell as a child process."""
    return subprocess.Popen(
        [sys.executable, "-c", "from minidfs.cli.main import main; main()",
         "--conf", str(cluster.conf_path), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def make_tree(root: pathlib.Path, count: int, size: int) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        rel = f"d{i % 4}/f{i:04d}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        files[rel] = os.urandom(size)
        (root / rel).write_bytes(files[rel])
    return files


def dfs_files(fs, root: str) -> dict[str, dict]:
    if not fs.exists(root):
        return {}
    return {e["path"][len(root) + 1:]: e for e in fs.ls(root, recursive=True) if e["type"] == "file"}


def test_pool_at_its_bound_copies_with_short_lived_channels(cluster, tmp_path):
    files = make_tree(tmp_path / "bound", 20, 10_000)
    with cluster.client(client_node="") as fs:      # no local node: targets spread out
        fs.channel_pool.close()
        fs.channel_pool = pool = ChannelPool(max_channels=1, per_address=1)
        blocker = pool.lease("127.0.0.1:1")          # the only pooled channel, busy
        try:
            fs.mkdir("/bound")
            fs.put(str(tmp_path / "bound"), "/bound", threads=4)
            fs.get("/bound/bound", str(tmp_path / "back"), threads=4)
            assert pool.channel_count() == 1 and pool.addresses() == ["127.0.0.1:1"]
            assert pool.short_lived >= len(files)   # every stream had one, none kept
        finally:
            blocker.release()
    for rel, data in files.items():
        assert (tmp_path / "back" / rel).read_bytes() == data


def test_sigint_during_a_directory_put_keeps_whole_files_only(cluster, fs, tmp_path, wait_until):
    files = make_tree(tmp_path / "src", 200, 32 * 1024)
    fs.mkdir("/sigint")
    proc = shell(cluster, "put", "--threads", "3", str(tmp_path / "src"), "/sigint")
    try:
        wait_until(lambda: len(dfs_files(fs, "/sigint/src")) >= 5 or proc.poll() is not None,
                   60.0, "a few files copied")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=SHELL_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode == 0:
        pytest.skip("the put finished before SIGINT arrived (a very fast machine)")
    assert proc.returncode == 130, err
    [line] = err.strip().splitlines()
    found = re.fullmatch(r"minidfs: put: interrupted: (\d+) of 200 files copied whole"
                         r"(?:; (\d+) in flight removed \([^)]*\))?; (\d+) not started", line)
    assert found, line
    copied = int(found.group(1))
    there = dfs_files(fs, "/sigint/src")
    # What the shell said was copied is there, whole and closed; nothing else is.
    assert len(there) == copied
    for rel, entry in there.items():
        assert not entry["under_construction"], rel
        assert fs.cat(f"/sigint/src/{rel}") == files[rel]


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 256 KiB tmpfs (needs root), unmounted afterwards."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TINY_DISK_BYTES}", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_directory_get_onto_a_full_disk_fails_clearly_and_leaves_whole_files(
        cluster, fs, tmp_path, tiny_disk):
    files = make_tree(tmp_path / "big", 60, 10_000)            # ~700 KiB on a 256 KiB disk
    fs.mkdir("/full")
    fs.put(str(tmp_path / "big"), "/full")
    proc = shell(cluster, "get", "--threads", "4", "/full/big", str(tiny_disk))
    out, err = proc.communicate(timeout=SHELL_TIMEOUT_S)
    assert proc.returncode == 1, err
    [line] = err.strip().splitlines()
    assert line.startswith("minidfs: get: ") and "no space left on device" in line, line
    assert "minidfs-partial" not in line                       # names the user's file
    left = [p for p in tiny_disk.rglob("*") if p.is_file()]
    assert not [p for p in left if "minidfs-partial" in p.name]
    assert left, "some files fit before the disk filled"
    for path in left:                                          # whatever has a name is whole
        assert path.read_bytes() == files[path.relative_to(tiny_disk / "big").as_posix()]


def test_datanode_killed_while_its_pooled_channel_is_idle(cluster, tmp_path, start_datanode):
    data = os.urandom(10_000)
    with cluster.client() as fs:
        fs.mkdir("/idle")
        with fs.open("/idle/a", "wb", replication=3) as f:
            f.write(data)
    with cluster.client() as fs:                   # a fresh pool: only the reader's channel
        assert fs.cat("/idle/a") == data
        [address] = fs.channel_pool.addresses()
        [victim] = [n.name for n in fs.conf.datanodes if n.address == address]
        cluster.kill(victim, "KILL")
        try:
            started = time.monotonic()
            assert fs.cat("/idle/a") == data       # fails over to another replica
            # At once: a refused connection, not the stall timeout of a hung node.
            assert time.monotonic() - started < channels.CONNECT_TIMEOUT_S
            assert address not in fs.channel_pool.addresses()
            # Writing goes on too: a pipeline through the dead node is set up again without it.
            for i in range(3):
                with fs.open(f"/idle/w{i}", "wb", replication=3) as f:
                    f.write(data)
                assert fs.cat(f"/idle/w{i}") == data
        finally:
            start_datanode(victim)


def test_hung_datanode_in_a_small_file_pipeline_is_named_and_left_out(cluster, fs, wait_until):
    """A small file's first request is its header, data and `last` at once; the
    "connected" signal (initial metadata) still names a node that hangs (SIGSTOP)
    within the setup timeout, and the write goes on without it."""
    data = os.urandom(10_000)
    victim = "dn3"        # never the writer's local first node (dn1): found by a DataNode
    cluster.kill(victim, "STOP")
    try:
        started = time.monotonic()
        with fs.open("/hung/a", "wb", replication=3) as f:
            f.write(data)
        # Not the 60 s ack timeout: at most the setup timeouts of two hops, with slack.
        assert time.monotonic() - started < 40.0
        [block] = fs.stat("/hung/a")["blocks"]
        assert victim not in block["locations"] and len(block["locations"]) == 2
        assert fs.cat("/hung/a") == data
    finally:
        cluster.kill(victim, "CONT")
