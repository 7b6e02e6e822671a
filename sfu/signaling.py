"""Visio signaling: JSON text messages over the WebSocket `/visio/{room}`, as frozen dataclasses.

Every message is an object with a `type`. `parse_client(text)` validates what a browser or bot
sends (unknown types and keys, wrong types and oversized values are refused with a
`SignalingError` naming the field); `to_json()` serialises what the server sends.
See docs/visio.md for the sequence.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from sfu.errors import SignalingError

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 60_000
MAX_CHAT_CHARS = 2000
MAX_NAME_CHARS = 80
MAX_ID_CHARS = 64
MAX_TRACKS = 16
SOURCES = ("camera", "microphone", "screen", "screen-audio")
REACTIONS = ("👍", "👏", "❤️", "😂", "😮", "🎉", "🙋", "👋")
PEERS = ("publish", "subscribe")


def _require(obj: dict[str, Any], key: str, kind: type, max_len: int | None = None) -> Any:
    if key not in obj:
        raise SignalingError(f"{key!r} is missing")
    value = obj[key]
    # bool is an int: refuse True where a number is wanted, and vice versa.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SignalingError(f"{key!r} must be a {kind.__name__}")
    if max_len is not None and isinstance(value, (str, list)) and len(value) > max_len:
        raise SignalingError(f"{key!r} is longer than {max_len}", code=1009)
    return value


def _optional(obj: dict[str, Any], key: str, kind: type, max_len: int | None = None) -> Any:
    if obj.get(key) is None:
        return None
    return _require(obj, key, kind, max_len)


def _only(obj: dict[str, Any], *keys: str) -> None:
    extra = set(obj) - {"type", *keys}
    if extra:
        raise SignalingError(f"unknown field {sorted(extra)[0]!r}")


class ClientMessage:
    """A message from a participant's client."""

    type: ClassVar[str]

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> ClientMessage:
        _only(obj)
        return cls()

    def to_json(self) -> str:
        return json.dumps({"type": self.type, **asdict(self)})  # type: ignore[call-overload]


@dataclass(frozen=True)
class TrackSource:
    """One sending transceiver of the publish connection: its `mid` and what it carries."""

    mid: str
    source: str


@dataclass(frozen=True)
class Publish(ClientMessage):
    """An SDP offer for the publish connection; `tracks` lists every mid that sends."""

    type: ClassVar[str] = "publish"
    sdp: str
    tracks: tuple[TrackSource, ...]

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Publish:
        _only(obj, "sdp", "tracks")
        sdp = _require(obj, "sdp", str, MAX_SDP_CHARS)
        raw = _require(obj, "tracks", list)
        if len(raw) > MAX_TRACKS:
            raise SignalingError(f"'tracks' has more than {MAX_TRACKS} entries")
        tracks = []
        for item in raw:
            if not isinstance(item, dict):
                raise SignalingError("'tracks' entries must be objects")
            if set(item) - {"mid", "source"}:
                raise SignalingError("'tracks' entries have only 'mid' and 'source'")
            mid = _require(item, "mid", str, MAX_ID_CHARS)
            source = _require(item, "source", str, 20)
            if source not in SOURCES:
                raise SignalingError(f"'source' must be one of {', '.join(SOURCES)}")
            tracks.append(TrackSource(mid, source))
        if len({t.mid for t in tracks}) != len(tracks):
            raise SignalingError("'tracks' names a mid twice")
        return cls(sdp, tuple(tracks))

    def to_json(self) -> str:
        return json.dumps(
            {"type": self.type, "sdp": self.sdp, "tracks": [asdict(t) for t in self.tracks]}
        )


@dataclass(frozen=True)
class SubscribeAnswer(ClientMessage):
    """The client's SDP answer to the server's latest `subscribe` offer."""

    type: ClassVar[str] = "subscribe_answer"
    sdp: str
    revision: int

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> SubscribeAnswer:
        _only(obj, "sdp", "revision")
        return cls(_require(obj, "sdp", str, MAX_SDP_CHARS), _require(obj, "revision", int))


@dataclass(frozen=True)
class Candidate(ClientMessage):
    """A trickled ICE candidate of the browser for one of its two connections."""

    type: ClassVar[str] = "candidate"
    pc: str
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Candidate:
        _only(obj, "pc", "candidate", "sdp_mid", "sdp_mline_index")
        pc = _require(obj, "pc", str, 10)
        if pc not in PEERS:
            raise SignalingError("'pc' must be 'publish' or 'subscribe'")
        return cls(
            pc,
            _require(obj, "candidate", str, 1000),
            _optional(obj, "sdp_mid", str, MAX_ID_CHARS),
            _optional(obj, "sdp_mline_index", int),
        )


@dataclass(frozen=True)
class SetMuted(ClientMessage):
    """The sender muted or unmuted one of its tracks (microphone off, camera off)."""

    type: ClassVar[str] = "mute"
    track: str
    muted: bool

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> SetMuted:
        _only(obj, "track", "muted")
        return cls(_require(obj, "track", str, MAX_ID_CHARS), _require(obj, "muted", bool))


@dataclass(frozen=True)
class RaiseHand(ClientMessage):
    type: ClassVar[str] = "hand"
    raised: bool

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> RaiseHand:
        _only(obj, "raised")
        return cls(_require(obj, "raised", bool))


@dataclass(frozen=True)
class React(ClientMessage):
    type: ClassVar[str] = "reaction"
    emoji: str

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> React:
        _only(obj, "emoji")
        emoji = _require(obj, "emoji", str, 16)
        if emoji not in REACTIONS:
            raise SignalingError(f"'emoji' must be one of {' '.join(REACTIONS)}")
        return cls(emoji)


@dataclass(frozen=True)
class Chat(ClientMessage):
    type: ClassVar[str] = "chat"
    text: str

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Chat:
        _only(obj, "text")
        text = _require(obj, "text", str, MAX_CHAT_CHARS).strip()
        if not text:
            raise SignalingError("'text' is empty")
        return cls(text)


@dataclass(frozen=True)
class Pin(ClientMessage):
    """Tiles this participant wants video for whatever the speaker order (replaces the set)."""

    type: ClassVar[str] = "pin"
    participants: tuple[str, ...]

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Pin:
        _only(obj, "participants")
        raw = _require(obj, "participants", list)
        if len(raw) > MAX_TRACKS or not all(
            isinstance(p, str) and len(p) <= MAX_ID_CHARS for p in raw
        ):
            raise SignalingError(f"'participants' must be up to {MAX_TRACKS} ids")
        return cls(tuple(raw))

    def to_json(self) -> str:
        return json.dumps({"type": self.type, "participants": list(self.participants)})


@dataclass(frozen=True)
class Moderate(ClientMessage):
    """A host's action: admit/refuse from the lobby, mute, remove, mute_all, end."""

    type: ClassVar[str] = "moderate"
    ACTIONS: ClassVar[tuple[str, ...]] = ("admit", "refuse", "mute", "remove", "mute_all", "end")
    action: str
    participant: str | None = None

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Moderate:
        _only(obj, "action", "participant")
        action = _require(obj, "action", str, 20)
        if action not in cls.ACTIONS:
            raise SignalingError(f"'action' must be one of {', '.join(cls.ACTIONS)}")
        participant = _optional(obj, "participant", str, MAX_ID_CHARS)
        if (participant is None) != (action in ("mute_all", "end")):
            needs = "takes no" if participant else "needs a"
            raise SignalingError(f"{action!r} {needs} participant")
        return cls(action, participant)


@dataclass(frozen=True)
class Leave(ClientMessage):
    type: ClassVar[str] = "leave"


CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {
    m.type: m
    for m in (
        *(Publish, SubscribeAnswer, Candidate, SetMuted, RaiseHand),
        *(React, Chat, Pin, Moderate, Leave),
    )
}


def parse_client(data: str | bytes) -> ClientMessage:
    """Validate one message from a client; raise SignalingError with the reason."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SignalingError(f"message larger than {MAX_MESSAGE_BYTES} bytes", code=1009)
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        raise SignalingError("message is not JSON") from None
    if not isinstance(obj, dict):
        raise SignalingError("message must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_MESSAGES:
        raise SignalingError(f"unknown message type {kind!r}")
    return CLIENT_MESSAGES[kind].from_obj(obj)


@dataclass(frozen=True)
class ServerMessage:
    """A message from the server: a `type` and its fields (JSON-ready values)."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"type": self.type, **self.fields}, ensure_ascii=False)

    @classmethod
    def parse(cls, data: str | bytes) -> ServerMessage:
        """Read a server message (clients and tests)."""
        obj = json.loads(data)
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            raise SignalingError("server message must be an object with a type")
        kind = obj.pop("type")
        return cls(kind, obj)
