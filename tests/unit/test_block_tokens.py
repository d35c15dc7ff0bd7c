"""Block tokens (minidfs/security/block_tokens.py): signing, every way a token can
be wrong, and key rolling, with explicit clocks."""
import pytest

from minidfs.security import block_tokens as bt

MASTER = b"m" * 32
INTERVAL_MS = 10_000
LIFETIME_MS = 30_000


def schedule():
    return bt.KeySchedule(MASTER, INTERVAL_MS, LIFETIME_MS)


def ring(now_ms):
    return {k.key_id: k for k in schedule().live_keys(now_ms)}


def token(now_ms=1_000_000, user="alice", block_id=7, modes=(bt.READ,)):
    return schedule().issue(now_ms, user=user, block_id=block_id, genstamp=3,
                            modes=frozenset(modes))


def test_a_fresh_token_verifies():
    t = token()
    got = bt.verify(ring(1_000_000), t, block_id=7, mode=bt.READ, now_ms=1_000_001, user="alice")
    assert (got.user, got.block_id, got.genstamp, got.modes) == ("alice", 7, 3, {bt.READ})


@pytest.mark.parametrize("field,value", [("modes", frozenset({bt.READ, bt.WRITE})),
                                         ("block_id", 8), ("expiry_ms", 10**13),
                                         ("user", "bob")])
def test_a_tampered_field_breaks_the_signature(field, value):
    t = token()
    original = bt.decode(t)
    forged_id = bt.TokenId(**{**original.__dict__, field: value})
    forged = bt._encode_id(forged_id) + t[-bt.MAC_BYTES:]
    with pytest.raises(bt.TokenError, match="signature"):
        bt.verify(ring(1_000_000), forged, block_id=forged_id.block_id,
                  mode=bt.WRITE if field == "modes" else bt.READ, now_ms=1_000_001,
                  user=forged_id.user)


def test_wrong_block_mode_user_expiry_unknown_key():
    t = token()
    keys = ring(1_000_000)
    with pytest.raises(bt.TokenError, match="not 8"):
        bt.verify(keys, t, block_id=8, mode=bt.READ, now_ms=1_000_001)
    with pytest.raises(bt.TokenError, match="WRITE"):
        bt.verify(keys, t, block_id=7, mode=bt.WRITE, now_ms=1_000_001)
    with pytest.raises(bt.TokenError, match="another user"):
        bt.verify(keys, t, block_id=7, mode=bt.READ, now_ms=1_000_001, user="bob")
    with pytest.raises(bt.TokenError, match="expired"):
        bt.verify(keys, t, block_id=7, mode=bt.READ, now_ms=1_000_000 + LIFETIME_MS + 1)
    with pytest.raises(bt.TokenError, match="unknown key"):
        bt.verify({}, t, block_id=7, mode=bt.READ, now_ms=1_000_001)
    with pytest.raises(bt.TokenError, match="malformed"):
        bt.verify(keys, b"garbage", block_id=7, mode=bt.READ, now_ms=1_000_001)
    with pytest.raises(bt.TokenError, match="no block token"):
        bt.verify(keys, b"", block_id=7, mode=bt.READ, now_ms=1_000_001)


def test_another_masters_token_fails():
    other = bt.KeySchedule(b"x" * 32, INTERVAL_MS, LIFETIME_MS)
    t = other.issue(1_000_000, user="alice", block_id=7, genstamp=3, modes=frozenset({bt.READ}))
    with pytest.raises(bt.TokenError, match="signature"):
        bt.verify(ring(1_000_000), t, block_id=7, mode=bt.READ, now_ms=1_000_001)


def test_a_token_from_before_a_roll_verifies_until_it_expires():
    t = token(now_ms=1_000_000)
    later = 1_000_000 + 2 * INTERVAL_MS       # two rolls later
    assert schedule().current_id(later) != bt.decode(t).key_id
    bt.verify(ring(later), t, block_id=7, mode=bt.READ, now_ms=later)
    gone = 1_000_000 + LIFETIME_MS + INTERVAL_MS + 1
    with pytest.raises(bt.TokenError):
        bt.verify(ring(gone), t, block_id=7, mode=bt.READ, now_ms=gone)


def test_two_namenodes_with_one_master_sign_alike():
    a, b = schedule(), bt.KeySchedule(MASTER, INTERVAL_MS, LIFETIME_MS)
    assert a.live_keys(5_000_000) == b.live_keys(5_000_000)
    assert [k.key_id for k in a.live_keys(5_000_000)][-2:] == [500, 501]   # current + next


def test_key_ring_drops_expired_keys():
    r = bt.KeyRing()
    r.update(schedule().live_keys(1_000_000), 1_000_000)
    assert 100 in r.keys and 101 in r.keys
    r.update(schedule().live_keys(2_000_000), 2_000_000)
    assert 100 not in r.keys and 200 in r.keys


def test_text_form_round_trips():
    t = token()
    assert bt.from_text(bt.to_text(t)) == t
