"""The token bucket (minidfs/throttle.py) driven with plain times."""
import pytest

from minidfs import errors
from minidfs.throttle import TokenBucket


def test_burst_then_the_rate():
    bucket = TokenBucket(1000, now_s=0.0)        # burst 100 bytes
    assert bucket.reserve(100, 0.0) == 0.0
    assert bucket.reserve(500, 0.0) == pytest.approx(0.5)


def test_sustained_sending_averages_the_rate():
    bucket = TokenBucket(1_000_000, now_s=0.0)
    now, sent = 0.0, 0
    for _ in range(100):
        now += bucket.reserve(65536, now)        # the caller sleeps, then sends
        sent += 65536
    # Ten seconds' worth of bytes take about ten seconds (less the initial burst).
    assert sent / now == pytest.approx(1_000_000, rel=0.02)


def test_idle_time_refills_only_up_to_the_burst():
    bucket = TokenBucket(1000, now_s=0.0)
    bucket.reserve(100, 0.0)
    assert bucket.reserve(100, 100.0) == 0.0     # refilled, but to 100 bytes only
    assert bucket.reserve(100, 100.0) == pytest.approx(0.1)


def test_a_message_bigger_than_the_burst_waits_instead_of_hanging():
    bucket = TokenBucket(10, now_s=0.0)
    assert bucket.reserve(1000, 0.0) == pytest.approx(99.9)


def test_set_rate_applies_from_now():
    bucket = TokenBucket(1000, now_s=0.0)
    bucket.reserve(100, 0.0)
    bucket.set_rate(1_000_000, 0.0)
    assert bucket.reserve(50_000, 0.0) == pytest.approx(0.05)
    bucket.set_rate(100, 10.0)                   # slower: the burst shrinks to 10 bytes
    assert bucket.reserve(10, 10.0) == 0.0
    assert bucket.reserve(100, 10.0) == pytest.approx(1.0)


@pytest.mark.parametrize("rate", [0, -5, 1.5, True, "100"])
def test_bad_rates_are_refused(rate):
    with pytest.raises(errors.InvalidArgument):
        TokenBucket(rate)
    with pytest.raises(errors.InvalidArgument):
        TokenBucket(10).set_rate(rate, 0.0)


def test_negative_reserve_is_refused():
    with pytest.raises(errors.InvalidArgument):
        TokenBucket(10).reserve(-1, 0.0)
