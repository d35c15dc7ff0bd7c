"""SIGKILL of the (only) NameNode of a running cluster loses no completed file,
rename or delete: real NameNode and DataNode processes, multi-block files, the
NameNode restarted from its checkpoint + edit log and re-fed by block reports.
"""
from __future__ import annotations

import os

import pytest

from minidfs import errors

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 0, "block_size": 64 * 1024}
SIZES = [0, 1, 65535, 65536, 65537, 5 * 65536 + 123]


def test_sigkilled_namenode_keeps_every_acknowledged_change(cluster, tmp_path):
    contents = {}
    with cluster.client() as fs:
        fs.mkdir("/keep/dir", parents=True)
        for size in SIZES:
            data = os.urandom(size)
            local = tmp_path / f"f{size}"
            local.write_bytes(data)
            fs.put(str(local), f"/keep/f{size}")
            contents[f"/keep/f{size}"] = data
        fs.rename("/keep/f65536", "/keep/dir/moved")
        contents["/keep/dir/moved"] = contents.pop("/keep/f65536")
        assert fs.delete("/keep/f1")
        del contents["/keep/f1"]
        with fs.open("/keep/streamed", "wb", replication=2) as f:
            f.write(b"x" * 200_000)
        contents["/keep/streamed"] = b"x" * 200_000

    cluster.kill("nn1")          # SIGKILL: no checkpoint, no clean journal close
    cluster.start("nn1")         # waits until it serves (DataNodes re-registered)

    with cluster.client() as fs:
        listed = {e["path"] for e in fs.ls("/keep", recursive=True) if e["type"] == "file"}
        assert listed == set(contents)
        assert not fs.exists("/keep/f1") and not fs.exists("/keep/f65536")
        for path, data in contents.items():
            assert fs.cat(path) == data, path
            info = fs.stat(path)
            assert info["length"] == len(data)
        assert fs.stat("/keep/streamed")["replication"] == 2
        # the restarted NameNode accepts writes again once it has left safe mode
        fs.mkdir("/keep/after")
        with pytest.raises(errors.FileExists):
            with fs.open("/keep/dir/moved", "wb") as f:
                f.write(b"must not replace")
        assert fs.cat("/keep/dir/moved") == contents["/keep/dir/moved"]
