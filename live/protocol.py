"""The live stream's messages and event ids, as data (sans-I/O).

Events carry ids of the form `<milliseconds>-<sequence>` (Redis Streams' own): increasing over
the whole stream, comparable across workers, so that a client that comes back with the last id
it saw is given exactly what follows it. Messages are JSON objects with a `type`.

Client → server:
- `{"type": "hello", "last": "<id>" | null, "topics": ["item:page:12", ...]}` first, once:
  what it saw last (null: nothing yet) and the topics it wants besides its own;
- `{"type": "subscribe", "topic": "..."}`, `{"type": "unsubscribe", "topic": "..."}`;
- `{"type": "ping"}`.
Server → client:
- `{"type": "ready", "last": "<id>"}`: caught up; `last` is where it stands now;
- `{"type": "event", "id": "<id>", "topic": "...", "kind": "...", "data": {...}}`;
- `{"type": "subscribed" | "unsubscribed", "topic": "..."}`;
- `{"type": "refused", "topic": "...", "reason": "..."}` (an unknown topic and a forbidden one
  read the same);
- `{"type": "reload", "reason": "..."}`: what it missed is past the retention window; fetch the
  current state again (the stream goes on from now);
- `{"type": "pong"}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from live.errors import LiveProtocolError

EVENT_ID: Final = re.compile(r"^(0|[1-9][0-9]{0,18})-(0|[1-9][0-9]{0,18})$")
# Topic names are the web app's ("user:12", "item:page:34", "space:5"): printable, short.
TOPIC: Final = re.compile(r"^[a-z][a-z0-9_-]{0,31}(:[A-Za-z0-9_.-]{1,64}){1,4}$")
MAX_MESSAGE_BYTES: Final = 16 * 1024
MAX_HELLO_TOPICS: Final = 100
NO_EVENT: Final = "0-0"


def id_key(event_id: str) -> tuple[int, int]:
    """An event id as a comparable pair; `ValueError` when it is not one."""
    match = EVENT_ID.match(event_id)
    if match is None:
        raise ValueError(f"not an event id: {event_id[:40]!r}")
    return int(match[1]), int(match[2])


@dataclass(frozen=True)
class Event:
    """One thing that happened, for the people who may see `topic`."""

    id: str
    topic: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int]:
        return id_key(self.id)

    def to_message(self) -> dict[str, Any]:
        return {"type": "event", "id": self.id, "topic": self.topic, "kind": self.kind,
                "data": dict(self.data)}  # fmt: skip

    def encode(self) -> bytes:
        """Its stored form (the message minus the type)."""
        return json.dumps(
            {"id": self.id, "topic": self.topic, "kind": self.kind, "data": dict(self.data)},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Event:
        raw = json.loads(data)
        return cls(str(raw["id"]), str(raw["topic"]), str(raw["kind"]), dict(raw["data"]))


@dataclass(frozen=True)
class Hello:
    last: str | None
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Subscribe:
    topic: str


@dataclass(frozen=True)
class Unsubscribe:
    topic: str


@dataclass(frozen=True)
class Ping:
    pass


ClientMessage = Hello | Subscribe | Unsubscribe | Ping


def _topic(value: object) -> str:
    if not isinstance(value, str) or not TOPIC.match(value):
        raise LiveProtocolError(f"not a topic: {str(value)[:80]!r}")
    return value


def parse_client(text: str) -> ClientMessage:
    """A client's message, or `LiveProtocolError` saying exactly what is wrong."""
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise LiveProtocolError(f"message larger than {MAX_MESSAGE_BYTES} bytes", code=1009)
    try:
        raw = json.loads(text)
    except ValueError:
        raise LiveProtocolError("not JSON") from None
    if not isinstance(raw, dict):
        raise LiveProtocolError("a message is a JSON object")
    kind = raw.get("type")
    if kind == "hello":
        last = raw.get("last")
        if last is not None:
            if not isinstance(last, str):
                raise LiveProtocolError("hello: last is an event id or null")
            try:
                id_key(last)
            except ValueError as exc:
                raise LiveProtocolError(f"hello: {exc}") from None
        topics = raw.get("topics", [])
        if not isinstance(topics, list) or len(topics) > MAX_HELLO_TOPICS:
            raise LiveProtocolError(f"hello: topics is a list of at most {MAX_HELLO_TOPICS}")
        return Hello(last, tuple(dict.fromkeys(_topic(t) for t in topics)))
    if kind == "subscribe":
        return Subscribe(_topic(raw.get("topic")))
    if kind == "unsubscribe":
        return Unsubscribe(_topic(raw.get("topic")))
    if kind == "ping":
        return Ping()
    raise LiveProtocolError(f"unknown message type {str(kind)[:40]!r}")


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
