"""The token bucket that limits a connection's messages: a full burst at once, then the rate,
never more than the burst saved up, fractional rates and costs honoured. Time is the `now`
each call is given (a clock a test sets), so nothing here waits."""

from __future__ import annotations

from plumbing.ratelimit import TokenBucket


def taken(bucket: TokenBucket, now: float, count: int, cost: float = 1.0) -> int:
    """How many of `count` events at `now` the bucket lets through."""
    return sum(bucket.take(now, cost) for _ in range(count))


def test_a_new_connection_may_send_a_whole_burst_at_once_and_no_more() -> None:
    bucket = TokenBucket(rate=50, burst=200, now=1000.0)
    assert taken(bucket, 1000.0, 250) == 200


def test_after_the_burst_events_come_back_at_the_rate() -> None:
    bucket = TokenBucket(rate=40, burst=200, now=0.0)
    assert taken(bucket, 0.0, 200) == 200
    assert not bucket.take(0.0)
    assert taken(bucket, 0.125, 10) == 5  # 1/8 s at 40 a second: five more
    assert taken(bucket, 1.125, 100) == 40  # one more second: forty more


def test_a_refused_event_spends_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=1, now=0.0)
    assert bucket.take(0.0)
    assert taken(bucket, 0.5, 100) == 0  # half a token: a hundred refusals
    assert bucket.take(1.0)  # and the second token is whole at 1 s all the same


def test_a_long_silence_saves_up_no_more_than_the_burst() -> None:
    bucket = TokenBucket(rate=50, burst=200, now=0.0)
    assert taken(bucket, 0.0, 200) == 200
    assert taken(bucket, 3600.0, 1000) == 200  # an hour idle: one burst, not 180 000
    assert taken(bucket, 3600.0, 1) == 0


def test_a_rate_below_one_a_second_allows_one_event_per_interval() -> None:
    bucket = TokenBucket(rate=0.5, burst=1, now=0.0)
    assert bucket.take(0.0)
    assert not bucket.take(1.0)
    assert not bucket.take(1.999)
    assert bucket.take(2.0)
    assert not bucket.take(2.0)


def test_fractional_costs_are_counted_exactly() -> None:
    # Bytes as tokens: a budget of 1000 a second, bursts of 1500.
    bucket = TokenBucket(rate=1000, burst=1500, now=0.0)
    assert taken(bucket, 0.0, 10, cost=149.5) == 10  # 1495 of 1500
    assert not bucket.take(0.0, cost=5.5)
    assert bucket.take(0.0, cost=5.0)
    assert not bucket.take(0.0, cost=0.25)
    assert bucket.take(0.00025, cost=0.25)  # a quarter token comes in a quarter millisecond


def test_an_event_dearer_than_the_burst_is_never_let_through() -> None:
    bucket = TokenBucket(rate=100, burst=10, now=0.0)
    assert not bucket.take(0.0, cost=11)
    assert not bucket.take(1000.0, cost=11)
    assert bucket.take(1000.0, cost=10)


def test_the_same_instant_read_twice_adds_nothing() -> None:
    bucket = TokenBucket(rate=8, burst=2, now=5.0)
    assert taken(bucket, 5.0, 2) == 2
    assert taken(bucket, 5.0, 5) == 0
    assert taken(bucket, 5.125, 5) == 1
    assert taken(bucket, 5.125, 5) == 0
