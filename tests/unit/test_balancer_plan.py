"""The balancer's planner and rack rule (minidfs/balancer/plan.py, racks.py)."""
from minidfs.balancer.plan import Block, Node, is_balanced, mean_pct, plan_moves, sources_of
from minidfs.balancer.racks import keeps_racks

MiB = 1 << 20


def node(name, used_mib, rack="/r", capacity_mib=100):
    return Node(name, rack, capacity_mib * MiB, used_mib * MiB, (capacity_mib - used_mib) * MiB)


def blocks_on(name, count, others=("dn2", "dn3"), size=MiB, first_id=1):
    return [Block(first_id + i, size, (name, *others)) for i in range(count)]


def test_mean_and_balance():
    nodes = [node("dn1", 30), node("dn2", 30), node("dn3", 30), node("dn4", 0)]
    assert mean_pct(nodes) == 22.5
    assert not is_balanced(nodes, 10)
    assert is_balanced(nodes, 23)
    assert plan_moves(nodes, {}, 23) == []


def test_a_new_empty_node_receives_until_near_the_mean():
    nodes = [node("dn1", 30), node("dn2", 30), node("dn3", 30), node("dn4", 0)]
    blocks = {"dn1": blocks_on("dn1", 30, ("dn2", "dn3"), first_id=1),
              "dn2": blocks_on("dn2", 30, ("dn1", "dn3"), first_id=1),
              "dn3": blocks_on("dn3", 30, ("dn1", "dn2"), first_id=1)}
    assert set(sources_of(nodes, 5)) == {"dn1", "dn2", "dn3"}
    moves = plan_moves(nodes, blocks, threshold_pct=5)
    assert moves and all(m.target == "dn4" for m in moves)
    assert len({m.block_id for m in moves}) == len(moves)       # each block once
    moved = sum(m.length for m in moves)
    assert 17 * MiB <= moved <= 23 * MiB                          # about the mean's 22.5
    per_source = {s: sum(m.length for m in moves if m.source == s) for s in ("dn1", "dn2", "dn3")}
    assert all(v > 0 for v in per_source.values())


def test_a_block_never_moves_onto_a_node_that_holds_it():
    nodes = [node("dn1", 50), node("dn2", 0)]
    blocks = {"dn1": [Block(1, MiB, ("dn1", "dn2")), Block(2, MiB, ("dn1",))]}
    assert [m.block_id for m in plan_moves(nodes, blocks, 1)] == [2]


def test_moves_keep_the_racks_a_block_spans():
    nodes = [node("a1", 40, "/a"), node("b1", 40, "/b"), node("a2", 0, "/a")]
    # Replicas on /a and /b: moving b1's replica to a2 would leave only /a.
    blocks = {"a1": [Block(1, MiB, ("a1", "b1"))], "b1": [Block(1, MiB, ("a1", "b1"))]}
    moves = plan_moves(nodes, blocks, 1)
    assert moves == [(1, MiB, "a1", "a2")]


def test_rack_rule():
    assert keeps_racks({"a1": "/a", "b1": "/b"}, "a1", "a2", "/a")
    assert not keeps_racks({"a1": "/a", "b1": "/b"}, "b1", "a2", "/a")
    assert keeps_racks({"a1": "/a", "a3": "/a", "b1": "/b"}, "a1", "c1", "/c")
    assert not keeps_racks({"a1": "/a"}, "a1", "a1", "/a")      # onto a holder


def test_no_movable_blocks_plans_nothing():
    nodes = [node("dn1", 50), node("dn2", 0)]
    assert plan_moves(nodes, {"dn1": []}, 10) == []


def test_a_target_never_takes_more_than_it_has_remaining():
    nodes = [Node("dn1", "/r", 100 * MiB, 90 * MiB, 10 * MiB),
             Node("dn2", "/r", 1000 * MiB, 0, 2 * MiB)]      # big but nearly full disk
    moves = plan_moves(nodes, {"dn1": blocks_on("dn1", 50, ())}, 5)
    assert sum(m.length for m in moves) <= 2 * MiB


def test_a_node_listed_for_a_block_in_any_state_is_no_target():
    # dn2 holds a partial copy of block 1 (a transfer killed midway): not live, but
    # the NameNode would refuse the move, so the planner must not choose it.
    nodes = [node("dn1", 50), node("dn2", 0)]
    blocks = {"dn1": [Block(1, MiB, ("dn1",), ("dn1", "dn2")), Block(2, MiB, ("dn1",), ("dn1",))]}
    assert [m.block_id for m in plan_moves(nodes, blocks, 1)] == [2]
