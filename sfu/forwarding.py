"""What each subscriber receives: audio of everyone, screens, and camera video for the last-N
speakers plus the tiles it pinned (aiortc has no simulcast, so this is the bandwidth control).

Sans-I/O: the active speaker comes from audio levels with `now` passed in; the plan is a pure
function of the room's state; `KeyframeGate` holds back a newly forwarded video track until
its first keyframe so a subscriber's decoder never starts on a delta frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

# RFC 6464 levels are -dBov: 0 is the loudest, 127 silence. Speech sits well under 60.
SPEAKING_LEVEL = 60
# Loud packets (Opus sends one per 20 ms) within the window that make someone the speaker.
SPEAKING_PACKETS = 10
SPEAKING_WINDOW = 0.5
# The active speaker keeps the floor at least this long, so tiles do not flicker.
SPEAKER_HOLD = 1.0
# A new subscriber is sent the frames since the last keyframe when there are at most this many
# (about 2 s at 30 fps); older, it waits for the keyframe its request brings.
RECENT_FRAMES = 60

Frame = TypeVar("Frame")


@dataclass(frozen=True)
class Publication:
    """One track a participant publishes."""

    participant: str
    track: str
    kind: str  # audio | video
    source: str  # camera | microphone | screen | screen-audio
    muted: bool = False

    def describe(self) -> dict[str, object]:
        return {
            "participant": self.participant,
            "track": self.track,
            "kind": self.kind,
            "source": self.source,
            "muted": self.muted,
        }


class SpeakerOrder:
    """Participants, most recent active speaker first (join order before anyone speaks)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.active: str | None = None
        self._active_since = float("-inf")
        self._loud: dict[str, deque[float]] = {}

    def add(self, participant: str) -> None:
        if participant not in self.order:
            self.order.append(participant)
            self._loud[participant] = deque(maxlen=SPEAKING_PACKETS)

    def remove(self, participant: str) -> None:
        if participant in self.order:
            self.order.remove(participant)
            del self._loud[participant]
        if self.active == participant:
            self.active = None

    def audio_level(self, participant: str, level: int, now: float) -> bool:
        """Note one audio packet's level; True when the active speaker changed."""
        loud = self._loud.get(participant)
        if loud is None or level > SPEAKING_LEVEL:
            return False
        loud.append(now)
        if participant == self.active:
            self._active_since = min(self._active_since, now)
            return False
        speaking = len(loud) == SPEAKING_PACKETS and now - loud[0] <= SPEAKING_WINDOW
        if not speaking or now - self._active_since < SPEAKER_HOLD:
            return False
        self.active = participant
        self._active_since = now
        self.order.remove(participant)
        self.order.insert(0, participant)
        return True


def forwarding_plan(
    publications: Iterable[Publication],
    order: list[str],
    pins: Mapping[str, frozenset[str]],
    last_n: int,
    receivers: Iterable[str] | None = None,
) -> dict[str, frozenset[str]]:
    """For each of `receivers` (by default everyone in `order`), the tracks (ids) it should
    receive: everyone's audio and screens, and the cameras of the first `last_n` others of
    the speaker `order`, and of those it pinned."""
    pubs = [p for p in publications if not p.muted]
    plan: dict[str, frozenset[str]] = {}
    for subscriber in order if receivers is None else receivers:
        others = [p for p in order if p != subscriber]
        shown = set(others[:last_n]) | pins.get(subscriber, frozenset())
        plan[subscriber] = frozenset(
            p.track
            for p in pubs
            if p.participant != subscriber
            and (p.kind == "audio" or p.source == "screen" or p.participant in shown)
        )
    return plan


def is_keyframe(mime_type: str, frame: bytes) -> bool:
    """Whether an encoded frame starts a picture a decoder can begin with."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        # RFC 6386 9.1: bit 0 of the frame tag is 0 on key frames.
        return len(frame) >= 3 and frame[0] & 0x01 == 0
    if mime == "video/h264":
        return any(nal & 0x1F in (5, 7) for nal in _h264_nal_headers(frame))
    return True


def _h264_nal_headers(frame: bytes) -> Iterable[int]:
    start = frame.find(b"\x00\x00\x01")
    while start != -1 and start + 3 < len(frame):
        yield frame[start + 3]
        start = frame.find(b"\x00\x00\x01", start + 3)


class KeyframeGate:
    """Per (subscriber, track): drop video frames until the first keyframe."""

    def __init__(self) -> None:
        self._waiting: set[tuple[str, str]] = set()

    def __bool__(self) -> bool:
        """Whether any (subscriber, track) waits (nearly never outside joins and switches)."""
        return bool(self._waiting)

    def start(self, subscriber: str, track: str) -> None:
        self._waiting.add((subscriber, track))

    def stop(self, subscriber: str, track: str) -> None:
        self._waiting.discard((subscriber, track))

    def waiting(self, subscriber: str, track: str) -> bool:
        return (subscriber, track) in self._waiting

    def admit(self, subscriber: str, track: str, keyframe: bool) -> bool:
        """Whether to forward this frame; a keyframe opens the gate."""
        key = (subscriber, track)
        if key not in self._waiting:
            return True
        if keyframe:
            self._waiting.discard(key)
            return True
        return False


class RecentFrames(Generic[Frame]):
    """Per video track, the frames since its last keyframe, while they are few.

    A subscriber that starts receiving a track gets these first: it can decode at once
    instead of waiting for a new keyframe (publishers that cannot make one on request, such
    as pre-encoded bots, or a keyframe lost on the way).
    """

    def __init__(self, limit: int = RECENT_FRAMES) -> None:
        self.limit = limit
        self._frames: dict[str, list[Frame]] = {}

    def add(self, track: str, frame: Frame, keyframe: bool) -> None:
        if keyframe:
            self._frames[track] = [frame]
            return
        frames = self._frames.get(track)
        if frames is None:
            return
        if len(frames) >= self.limit:
            del self._frames[track]  # too long ago to replay
        else:
            frames.append(frame)

    def since_keyframe(self, track: str) -> list[Frame]:
        return list(self._frames.get(track, ()))

    def forget(self, track: str) -> None:
        self._frames.pop(track, None)
