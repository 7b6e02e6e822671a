"""Keyframe-request relay: many subscribers' PLI/FIR become few PLIs to the publisher.

Sans-I/O, `now` passed in. At most one request per publisher track per `interval`; a request
inside the interval is remembered and becomes due when the interval ends. A new subscriber's
request goes out at once unless one was sent very recently (its keyframe is on the way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

INTERVAL = 0.3
URGENT_INTERVAL = 0.05


@dataclass
class KeyframeRequests:
    """Coalesces keyframe requests per publisher track."""

    interval: float = INTERVAL
    urgent_interval: float = URGENT_INTERVAL
    _last: dict[str, float] = field(default_factory=dict)
    _pending: set[str] = field(default_factory=set)

    def request(self, track: str, now: float, *, urgent: bool = False) -> bool:
        """A subscriber asked for a keyframe of `track`: True means send a PLI now."""
        last = self._last.get(track)
        wait = self.urgent_interval if urgent else self.interval
        if last is None or now - last >= wait:
            self._last[track] = now
            self._pending.discard(track)
            return True
        if not urgent:
            self._pending.add(track)
        return False

    def due(self, now: float) -> list[str]:
        """Remembered requests whose interval has passed: send a PLI for each now."""
        if not self._pending:
            return []  # the room timer asks 20 times a second; nearly always nothing is due
        ready = sorted(t for t in self._pending if now - self._last[t] >= self.interval)
        for track in ready:
            self._pending.discard(track)
            self._last[track] = now
        return ready

    def next_due(self) -> float | None:
        """When the earliest remembered request becomes due, if any."""
        if not self._pending:
            return None
        return min(self._last[t] for t in self._pending) + self.interval

    def forget(self, track: str) -> None:
        self._last.pop(track, None)
        self._pending.discard(track)
