"""SIGKILL of the only NameNode keeps every acknowledged quota and trash move: the
NameNode restarted from its edit log alone (no checkpoint since the changes), then
again from a checkpoint image after a graceful stop. Real NameNode and DataNode
processes; the client sees the same quotas, the same refusals and the same trash.
"""
from __future__ import annotations

import pytest

from minidfs import errors

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 0, "block_size": 64 * 1024,
                   "trash_interval_s": 3600.0}


def state(fs) -> tuple:
    trashed = f"/user/{fs.user}/.Trash/Current/k/gone"
    return (fs.count("/k/q"), fs.count("/k/space")["space_quota"],
            fs.open(trashed, "rb").read(), fs.exists("/k/gone"))


def test_sigkill_and_graceful_restart_keep_quotas_and_trash(cluster):
    with cluster.client() as fs:
        fs.mkdir("/k/q", parents=True)
        fs.mkdir("/k/space")
        fs.set_quota("/k/q", 3)
        fs.set_space_quota("/k/space", 5 << 20)
        with fs.open("/k/q/a", "wb") as f:
            f.write(b"a" * 1000)
        with fs.open("/k/gone", "wb") as f:
            f.write(b"to the trash")
        assert fs.trash("/k/gone") == f"/user/{fs.user}/.Trash/Current/k/gone"
        fs.clear_space_quota("/k/q")          # nothing to clear: no edit, no error
        before = state(fs)
        assert before[0]["quota"] == 3 and before[0]["remaining_quota"] == 1
        assert before[1] == 5 << 20 and before[2] == b"to the trash" and not before[3]

    for how in ("SIGKILL", "graceful restart"):
        if how == "SIGKILL":
            cluster.kill("nn1")              # no checkpoint: the edit log alone
            cluster.start("nn1")
        else:
            cluster.restart("nn1")           # TERM: a checkpoint image, then a start on it
        with cluster.client() as fs:
            assert state(fs) == before, how
            fs.mkdir("/k/q/b")
            with pytest.raises(errors.QuotaExceededError, match="quota=3 file count=4"):
                fs.mkdir("/k/q/c")
            fs.delete("/k/q/b")
