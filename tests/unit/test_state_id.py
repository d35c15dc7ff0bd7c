"""Client state ids (docs/observers.md): wire form, foreign and future ids refused,
a client's txid never moves backwards; observer roles in HaState; the observer
router's rules for answers it cannot vouch for."""
from __future__ import annotations

import pytest

from minidfs import errors, state_id
from minidfs.client.observer_reads import answer_complete
from minidfs.namenode.ha_state import HaState
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc import common_pb2


def test_wire_form_round_trips_and_rejects_garbage() -> None:
    s = state_id.StateId("CID-ab", 42)
    assert state_id.parse(s.encode()) == s
    assert state_id.parse(":7") == state_id.StateId("", 7)
    for bad in ("", "42", "CID:x", "CID:-1", "CID:4 2", "x" * 200 + ":1", "CID:١٢"):
        with pytest.raises(errors.StateIdError):
            state_id.parse(bad)
    assert issubclass(errors.StateIdError, errors.InvalidArgument)
    assert errors.ALL_ERRORS["StateIdError"] is errors.StateIdError


def test_foreign_and_future_state_ids_are_refused() -> None:
    state_id.check_cluster(state_id.StateId("CID-a", 5), "CID-a")
    state_id.check_cluster(state_id.StateId("", 5), "CID-a")      # old client: unchecked
    with pytest.raises(errors.StateIdError, match="from cluster 'CID-b'"):
        state_id.check_cluster(state_id.StateId("CID-b", 5), "CID-a")
    state_id.check_not_future(state_id.StateId("CID-a", 10), 10, "nn1")
    with pytest.raises(errors.StateIdError, match="ahead of nn1's last txid 10"):
        state_id.check_not_future(state_id.StateId("CID-a", 11), 10, "nn1")


def test_merge_only_grows() -> None:
    assert state_id.merge(5, "CID-a:9", "CID-a") == 9
    assert state_id.merge(9, "CID-a:5", "CID-a") == 9
    assert state_id.merge(9, None, "CID-a") == 9
    assert state_id.merge(9, "garbage", "CID-a") == 9
    assert state_id.merge(9, "CID-b:99", "CID-a") == 9


def test_observer_role_never_takes_over() -> None:
    ha = HaState("nn3", enabled=True, observer=True)
    assert ha.role == "observer" and ha.word == "Observer"
    assert not ha.serving(0) and not ha.may_take_over(10**9)
    assert "observer" in ha.refusal(0)
    ha.stepped_down("stopping", 0)
    assert ha.role == "observer"
    assert not HaState("nn1", enabled=False, observer=True).observer
    standby = HaState("nn2", enabled=True)
    assert standby.role == "standby" and standby.may_take_over(0)


def _located(*lengths_and_holders, under_construction=False) -> pb.LocatedBlocks:
    return pb.LocatedBlocks(under_construction=under_construction, blocks=[
        common_pb2.LocatedBlock(block=common_pb2.Block(id=i + 1, length=length),
                                locations=[common_pb2.DatanodeId(name=n) for n in holders])
        for i, (length, holders) in enumerate(lengths_and_holders)])


def test_answers_with_unreported_blocks_go_to_the_active() -> None:
    assert answer_complete("GetBlockLocations", _located((10, ["dn1"]), (5, ["dn2"])))
    assert not answer_complete("GetBlockLocations", _located((10, ["dn1"]), (5, [])))
    # The block being written may have no replica yet while nothing of it was flushed
    # (length 0); its hflushed or appended bytes (docs/append.md) must be readable, and
    # the observer knows no pipeline: the active answers.
    assert answer_complete("GetBlockLocations",
                           _located((10, ["dn1"]), (0, []), under_construction=True))
    assert not answer_complete("GetBlockLocations",
                               _located((10, ["dn1"]), (5, []), under_construction=True))
    assert answer_complete("GetBlockLocations", _located((10, ["dn1"]), (0, [])))
    listing = pb.ListStatusResponse(locations=[_located((10, [])), _located()])
    assert not answer_complete("ListStatus", listing)
    assert answer_complete("GetFileInfo", common_pb2.FileStatus())
