"""A DataNode obeys only the active NameNode with the highest epoch it has seen."""
from __future__ import annotations

from minidfs import config
from minidfs.datanode.namenode_link import NamenodeLink


async def test_commands_only_from_the_newest_active() -> None:
    conf = config.parse({"cluster": {"ha": True}, "nodes": {
        "nn1": {"kind": "namenode", "address": "127.0.0.1:1"},
        "nn2": {"kind": "namenode", "address": "127.0.0.1:2"},
        "dn1": {"kind": "datanode", "address": "127.0.0.1:3"}}}, None)
    link = NamenodeLink(conf, conf.node("dn1"), storage=None, on_command=lambda c: None,
                        active_transfers=lambda: 0)
    try:
        assert not link.obeys(epoch=0, standby=True)     # a standby: never
        assert link.obeys(epoch=1, standby=False)        # nn1 active in epoch 1
        assert link.obeys(epoch=2, standby=False)        # nn2 took over in epoch 2
        assert not link.obeys(epoch=1, standby=False)    # deposed nn1 still thinks it is active
        assert link.obeys(epoch=2, standby=False) and link.highest_epoch == 2
    finally:
        await link.stop()
