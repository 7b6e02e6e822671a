"""A token bucket per connection (sans-I/O: `now` is passed in)."""

from __future__ import annotations


class TokenBucket:
    """Allows `rate` events per second on average and bursts of up to `burst`."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._last = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens; False when the bucket is empty (the caller refuses)."""
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._last = now
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True
