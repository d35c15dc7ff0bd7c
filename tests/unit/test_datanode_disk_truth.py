"""Disk truth without processes: the directory scanner's diff and the volume
choice (pure), and Storage over several real data dirs losing files and volumes."""
import os
import shutil

import pytest

from minidfs import errors
from minidfs.checksum import checksum_chunks
from minidfs.datanode import disk_diff, volume_choice
from minidfs.datanode.disk_diff import Finding, Known, OnDisk
from minidfs.datanode.storage import CORRUPT, FINALIZED, Storage
from minidfs.datanode.volume_choice import VolumeRoom

CHUNK = 1024
BLOCK = 64 * 1024
META_10K = disk_diff.expected_meta_bytes(10 * CHUNK, CHUNK)


# ---- disk_diff ---------------------------------------------------------------------

def test_diff_agrees_when_disk_and_map_match():
    known = {5: Known(genstamp=2, length=10 * CHUNK, chunk_size=CHUNK)}
    disk = {5: OnDisk(10 * CHUNK, {2: META_10K})}
    assert disk_diff.diff(disk, known) == []


def test_diff_finds_each_kind_of_difference_both_ways():
    good = Known(genstamp=1, length=10 * CHUNK, chunk_size=CHUNK)
    known = {1: good, 2: good, 3: good, 4: good, 5: good}
    disk = {
        # 1: gone entirely
        2: OnDisk(None, {1: META_10K}),          # block file deleted, meta left
        3: OnDisk(10 * CHUNK, {}),               # meta deleted
        4: OnDisk(4 * CHUNK, {1: META_10K}),     # truncated block file
        5: OnDisk(10 * CHUNK, {1: META_10K - 8}),  # truncated meta
        9: OnDisk(3 * CHUNK, {7: 40}),           # restored: not in the map
        10: OnDisk(3 * CHUNK, {}),               # block without meta: not adoptable
        11: OnDisk(3 * CHUNK, {1: 40}),          # held elsewhere (being written)
    }
    kinds = [(f.block_id, f.kind) for f in disk_diff.diff(disk, known, elsewhere={11})]
    assert kinds == [(1, disk_diff.MISSING), (2, disk_diff.MISSING), (3, disk_diff.NO_META),
                     (4, disk_diff.WRONG_LENGTH), (5, disk_diff.WRONG_META_LENGTH),
                     (9, disk_diff.UNKNOWN)]


def test_diff_wants_the_meta_of_the_replicas_genstamp():
    known = {5: Known(genstamp=3, length=10 * CHUNK, chunk_size=CHUNK)}
    disk = {5: OnDisk(10 * CHUNK, {2: META_10K})}
    [finding] = disk_diff.diff(disk, known)
    assert finding == Finding(disk_diff.NO_META, 5, "meta file is missing from the disk")


# ---- volume_choice -----------------------------------------------------------------

def test_volume_choice_takes_the_most_room_and_skips_full_ones():
    rooms = [VolumeRoom(0, 500, 0), VolumeRoom(1, 900, 0), VolumeRoom(2, 2000, 1500)]
    assert volume_choice.choose(rooms, 100, turn=0) == 1
    assert volume_choice.choose(rooms, 901, turn=0) is None


def test_volume_choice_takes_turns_between_equal_volumes():
    rooms = [VolumeRoom(i, 1000, 0) for i in range(3)]
    assert [volume_choice.choose(rooms, 10, turn) for turn in range(6)] == [0, 1, 2, 0, 1, 2]


# ---- Storage over several volumes ---------------------------------------------------

def _storage(dirs, **kw):
    s = Storage(dirs, block_size_bytes=BLOCK, **kw)
    s.open()
    return s


def _write(storage, block_id, data, genstamp=1):
    writer = storage.create(block_id, genstamp, CHUNK)
    writer.write(0, data, checksum_chunks(data, CHUNK))
    return writer.finalize()


def _recorder(storage):
    lost, fatal = [], []
    storage.on_lost = lambda replicas, why: lost.extend(r.block_id for r in replicas)
    storage.on_too_many_failed = fatal.append
    return lost, fatal


def test_replicas_spread_over_volumes_and_survive_restart(tmp_path):
    dirs = [tmp_path / f"d{i}" for i in range(3)]
    storage = _storage(dirs)
    for block_id in range(1, 10):
        _write(storage, block_id, os.urandom(2 * CHUNK))
    per_volume = [len(list(d.glob("current/finalized/*/blk_*[0-9]"))) for d in dirs]
    assert per_volume == [3, 3, 3]
    storage.close()
    again = _storage(dirs)
    assert sorted(r.block_id for r in again.replicas() if r.state == FINALIZED) == list(range(1, 10))
    assert [r["replicas"] for r in again.volume_reports()] == [3, 3, 3]


def test_a_read_of_a_deleted_replica_reports_it_lost(tmp_path):
    storage = _storage([tmp_path / "d0"])
    lost, _ = _recorder(storage)
    replica = _write(storage, 7, os.urandom(3 * CHUNK))
    used = storage.used_bytes
    replica.block_path.unlink()
    replica.meta_path.unlink()
    with pytest.raises(errors.ReplicaNotFound, match="missing from the disk"):
        storage.open_reader(7, 1)
    assert lost == [7] and storage.get(7) is None and used > 0 and storage.used_bytes == 0


def test_findings_are_checked_again_then_applied(tmp_path):
    volume_dir = tmp_path / "d0"
    storage = _storage([volume_dir])
    lost, _ = _recorder(storage)
    gone, truncated, no_meta = (_write(storage, b, os.urandom(4 * CHUNK)) for b in (1, 2, 3))
    restored = _write(storage, 4, os.urandom(4 * CHUNK))
    backup = tmp_path / "backup"
    backup.mkdir()
    for path in (restored.block_path, restored.meta_path):
        shutil.copy(path, backup / path.name)
    storage.delete(4, 1)
    gone.block_path.unlink()
    os.truncate(truncated.block_path, CHUNK)
    no_meta.meta_path.unlink()
    for name in os.listdir(backup):
        shutil.copy(backup / name, restored.block_path.parent / name)
    volume = storage.volumes[0]
    known, elsewhere = storage.known_finalized(volume)
    findings = disk_diff.diff(volume.list_finalized(), known, elsewhere)
    outcomes = [storage.apply_finding(volume, f) for f in findings]
    assert [(kind, r.block_id) for kind, r in outcomes] == [
        ("lost", 1), ("corrupt", 2), ("corrupt", 3), ("adopted", 4)]
    assert lost == [1] and storage.get(2).state == CORRUPT and storage.get(4).state == FINALIZED
    # A second pass finds nothing new: the map tells the truth now.
    known, elsewhere = storage.known_finalized(volume)
    again = disk_diff.diff(volume.list_finalized(), known, elsewhere)
    assert [storage.apply_finding(volume, f) for f in again] == []


def test_a_failed_volume_loses_its_replicas_and_too_many_stop_the_node(tmp_path):
    dirs = [tmp_path / f"d{i}" for i in range(3)]
    storage = _storage(dirs, failed_volumes_tolerated=1)
    lost, fatal = _recorder(storage)
    for block_id in range(1, 7):
        _write(storage, block_id, os.urandom(CHUNK))
    on_d1 = sorted(r.block_id for r in storage.replicas() if r.volume.root == dirs[1])
    dirs[1].chmod(0)
    try:
        assert storage.check_volume(storage.volumes[1])
    finally:
        dirs[1].chmod(0o755)
    assert sorted(lost) == on_d1 and fatal == []
    assert "permission denied" in storage.volume_reports()[1]["failure"]
    # New replicas go to the healthy volumes only.
    replica = _write(storage, 20, os.urandom(CHUNK))
    assert replica.volume.root != dirs[1]
    shutil.rmtree(dirs[2])
    dirs[2].write_text("not a folder any more")
    assert storage.check_volume(storage.volumes[2])
    assert len(fatal) == 1 and "2 of 3 volumes failed" in fatal[0]


def test_start_up_with_too_many_failed_volumes_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(errors.ConfigError, match="1 of 2 volumes failed"):
        _storage([tmp_path / "d0", tmp_path / "file"])
    storage = _storage([tmp_path / "d0", tmp_path / "file"], failed_volumes_tolerated=1)
    assert [bool(v["failure"]) for v in storage.volume_reports()] == [False, True]


def test_config_data_dirs_round_trip(tmp_path):
    from minidfs import config
    conf = config.parse({"nodes": {
        "dn1": {"kind": "datanode", "address": "127.0.0.1:4000", "data_dirs": ["a", "/abs/b"]},
        "dn2": {"kind": "datanode", "address": "127.0.0.1:4001"}}}, tmp_path / "cluster.toml")
    assert conf.node("dn1").volume_dirs == [tmp_path / "a", config.pathlib.Path("/abs/b")]
    assert conf.node("dn2").volume_dirs == [tmp_path / "nodes" / "dn2"]
    config.save(conf, tmp_path / "cluster.toml")
    assert config.load(tmp_path / "cluster.toml").node("dn1").volume_dirs == conf.node("dn1").volume_dirs
    for bad in ([], "a", ["a", "a"], [3]):
        with pytest.raises(errors.ConfigError, match="data_dirs"):
            config.parse({"nodes": {"dn1": {"kind": "datanode", "address": "h:1", "data_dirs": bad}}},
                         tmp_path / "c.toml")


def test_an_unreadable_file_on_a_healthy_volume_makes_the_replica_corrupt(tmp_path):
    storage = _storage([tmp_path / "d0"])
    lost, _ = _recorder(storage)
    corrupt = []
    storage.on_corrupt = corrupt.extend
    replica = _write(storage, 8, os.urandom(2 * CHUNK))
    replica.block_path.unlink()
    os.symlink(replica.block_path.name, replica.block_path)   # a loop: ELOOP on open
    with pytest.raises(errors.ChecksumError, match="unreadable"):
        storage.open_reader(8, 1)
    assert corrupt == [replica] and lost == [] and storage.get(8).state == CORRUPT
    assert not storage.volumes[0].failed
