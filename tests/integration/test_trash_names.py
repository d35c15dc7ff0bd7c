"""The trash's names on a real cluster without an emptier run in sight (one-hour
trash): a name taken in Current gets the time appended, a trashed file where a later
path needs a directory gets the time on that part, as HDFS's TrashPolicyDefault; and
expunge turns Current into one checkpoint, then deletes nothing younger than the
trash interval."""
from __future__ import annotations

import re

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 0, "trash_interval_s": 3600.0}


def write(fs, path: str, data: bytes) -> None:
    with fs.open(path, "wb") as f:
        f.write(data)


def test_names_in_current_are_made_unique(fs):
    current = f"/user/{fs.user}/.Trash/Current"
    write(fs, "/n/f", b"one")
    assert fs.trash("/n/f") == f"{current}/n/f"
    write(fs, "/n/f", b"two")
    second = fs.trash("/n/f")
    assert re.fullmatch(re.escape(f"{current}/n/f") + r"\d{13}", second), second
    assert fs.open(f"{current}/n/f", "rb").read() == b"one"
    assert fs.open(second, "rb").read() == b"two"
    # /n/f is a file in Current; now /n/f/g needs /n/f to be a directory there.
    fs.mkdir("/n/f")
    write(fs, "/n/f/g", b"three")
    third = fs.trash("/n/f/g")
    assert re.fullmatch(re.escape(f"{current}/n/f") + r"\d{13}/g", third), third
    assert fs.open(third, "rb").read() == b"three"
    assert fs.trash(third) is None            # in the trash already: the caller deletes


def test_expunge_checkpoints_current_and_keeps_young_checkpoints(fs):
    root = f"/user/{fs.user}/.Trash"
    write(fs, "/x/e", b"e")
    fs.trash("/x/e")
    done = fs.expunge()
    assert len(done) == 1 and done[0].startswith(f"Created trash checkpoint: {root}/")
    checkpoint = done[0].rsplit(" ", 1)[1]
    assert fs.open(f"{checkpoint}/x/e", "rb").read() == b"e"
    assert not fs.exists(f"{root}/Current")
    assert fs.expunge() == []                 # nothing old, nothing current
    assert fs.exists(checkpoint)
    done = fs.expunge(immediate=True)
    assert done == [f"Deleted trash checkpoint: {checkpoint}"]
    assert [e["path"] for e in fs.ls(root)] == []
