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


async def test_incremental_news_keeps_only_the_latest_per_block() -> None:
    """Deleted-then-received (or the reverse) in one batch is sent as the last event
    only, so the NameNode can never apply them in the wrong order."""
    from minidfs.datanode.namenode_link import _NamenodeSession
    from minidfs.rpc import common_pb2 as common
    from minidfs.rpc import datanode_namenode_pb2 as pb

    conf = config.parse({"nodes": {
        "nn1": {"kind": "namenode", "address": "127.0.0.1:1"},
        "dn1": {"kind": "datanode", "address": "127.0.0.1:3"}}}, None)
    link = NamenodeLink(conf, conf.node("dn1"), storage=None, on_command=lambda c: None,
                        active_transfers=lambda: 0)
    session = _NamenodeSession(link, "127.0.0.1:1")
    sent = []

    class Stub:
        async def BlockReceivedAndDeleted(self, request, timeout):
            sent.append(request)

    session.stub = Stub()
    session.registered = True
    try:
        session.queue_event(deleted=common.Block(id=7, genstamp=1))
        session.queue_event(received=pb.ReplicaReport(block=common.Block(id=7, genstamp=2, length=5),
                                                      finalized=True))
        session.queue_event(received=pb.ReplicaReport(block=common.Block(id=8, genstamp=1), finalized=True))
        session.queue_event(deleted=common.Block(id=8, genstamp=1))
        session.queue_event(copy_failed=common.Block(id=9, genstamp=1))
        await session._incremental()
        [request] = sent
        assert [(r.block.id, r.block.genstamp) for r in request.received] == [(7, 2)]
        assert [(b.id, b.genstamp) for b in request.deleted] == [(8, 1)]
        assert [b.id for b in request.copy_failed] == [9]
        assert not session.events and not session.copy_failed
    finally:
        await session.channel.close()
        await link.stop()
