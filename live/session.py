"""One client's live stream, as a state machine (sans-I/O): messages and events in, actions out.

A session starts with the topics its person always has (their own notifications) and waits for
the client's `hello`. Each topic the client asks for is authorised by the shell (`Authorize` →
`authorized`); once every answer is in, the shell is asked for what the client missed
(`Replay` → `replayed`). Live events arriving meanwhile wait in the session, so nothing is lost
between the replay's read and the live tail, and nothing is given twice: every event goes out
only if its id is past the last one sent.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from live.errors import LiveProtocolError
from live.protocol import (
    NO_EVENT,
    Event,
    Hello,
    Ping,
    Subscribe,
    Unsubscribe,
    encode,
    id_key,
    parse_client,
)

# Topics one session may follow at once (its own included).
MAX_TOPICS = 200
# Live events a session holds while it waits for its replay; past it the client reconnects
# and replays instead (it loses nothing).
MAX_WAITING = 10_000
REFUSED_REASON = "not found"  # the same whether the topic does not exist or is forbidden


@dataclass(frozen=True)
class Send:
    """Send this text frame to the client."""

    text: str


@dataclass(frozen=True)
class Authorize:
    """Ask whether this connection may follow `topic`; answer with `authorized`."""

    topic: str


@dataclass(frozen=True)
class Follow:
    """Start handing this session the live events of `topic`."""

    topic: str


@dataclass(frozen=True)
class Unfollow:
    topic: str


@dataclass(frozen=True)
class Replay:
    """Fetch the events of `topics` after `after` (None: none, only where the stream stands);
    answer with `replayed`."""

    after: str | None
    topics: frozenset[str]


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


Action: TypeAlias = Send | Authorize | Follow | Unfollow | Replay | Close


class State(enum.Enum):
    WAITING_HELLO = "waiting for hello"
    AUTHORIZING = "authorizing"
    REPLAYING = "replaying"
    LIVE = "live"
    CLOSED = "closed"


def _send(message: dict[str, Any]) -> Send:
    return Send(encode(message))


class Session:
    """The live stream of one connection."""

    def __init__(self, own_topics: Iterable[str]) -> None:
        self.own_topics = frozenset(own_topics)
        self.topics: set[str] = set(self.own_topics)
        self.state = State.WAITING_HELLO
        self.sent_through = (0, 0)  # key of the last event sent
        self._last: str | None = None
        self._asked: set[str] = set()  # authorisations awaited before the replay
        self._waiting: list[Event] = []

    def start(self) -> list[Action]:
        """The session's first actions: follow its own topics (events wait until replay)."""
        return [Follow(topic) for topic in sorted(self.own_topics)]

    # -- from the client -----------------------------------------------------------------

    def receive(self, text: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        try:
            message = parse_client(text)
        except LiveProtocolError as error:
            return self._close(error.code, str(error))
        if isinstance(message, Ping):
            return [_send({"type": "pong"})]
        if isinstance(message, Hello):
            if self.state is not State.WAITING_HELLO:
                return self._close(1008, "hello is sent once")
            return self._hello(message)
        if self.state is State.WAITING_HELLO:
            return self._close(1008, "send hello first")
        if isinstance(message, Subscribe):
            if message.topic in self.topics:
                return [_send({"type": "subscribed", "topic": message.topic})]
            if len(self.topics) + len(self._asked) >= MAX_TOPICS:
                return [self._refused(message.topic, f"at most {MAX_TOPICS} topics")]
            self._asked.add(message.topic)
            return [Authorize(message.topic)]
        assert isinstance(message, Unsubscribe)
        if message.topic in self.own_topics or message.topic not in self.topics:
            return [_send({"type": "unsubscribed", "topic": message.topic})]
        self.topics.discard(message.topic)
        return [Unfollow(message.topic), _send({"type": "unsubscribed", "topic": message.topic})]

    def _hello(self, hello: Hello) -> list[Action]:
        self._last = hello.last
        if hello.last is not None:
            self.sent_through = id_key(hello.last)
        wanted = [t for t in hello.topics if t not in self.topics][: MAX_TOPICS - len(self.topics)]
        self._asked.update(wanted)
        self.state = State.AUTHORIZING
        if not wanted:
            return self._replay()
        return [Authorize(topic) for topic in wanted]

    # -- from the shell ------------------------------------------------------------------

    def authorized(self, topic: str, allowed: bool) -> list[Action]:
        """The answer to an `Authorize`."""
        if self.state is State.CLOSED or topic not in self._asked:
            return []
        self._asked.discard(topic)
        actions: list[Action] = []
        if allowed:
            self.topics.add(topic)
            actions.append(Follow(topic))
            if self.state is State.LIVE:
                actions.append(_send({"type": "subscribed", "topic": topic}))
        else:
            actions.append(self._refused(topic, REFUSED_REASON))
        if self.state is State.AUTHORIZING and not self._asked:
            actions += self._replay()
        return actions

    def _replay(self) -> list[Action]:
        self.state = State.REPLAYING
        return [Replay(self._last, frozenset(self.topics))]

    def replayed(self, events: list[Event] | None, head: str) -> list[Action]:
        """What the client missed, in order (None: older than the stream keeps), and the id the
        stream stands at."""
        if self.state is not State.REPLAYING:
            return []
        actions: list[Action] = []
        if events is None:
            actions.append(_send({"type": "reload", "reason": "missed events are too old"}))
            events = []
        self.state = State.LIVE
        for event in [*events, *self._waiting]:
            actions += self._give(event)
        self._waiting.clear()
        last = max(id_key(head), self.sent_through)
        actions.append(_send({"type": "ready", "last": f"{last[0]}-{last[1]}"}))
        for topic in sorted(self.topics - self.own_topics):
            actions.append(_send({"type": "subscribed", "topic": topic}))
        return actions

    def deliver(self, event: Event) -> list[Action]:
        """A live event of one of the topics this session follows."""
        if self.state is State.CLOSED or event.topic not in self.topics:
            return []
        if self.state is not State.LIVE:
            if len(self._waiting) >= MAX_WAITING:
                return self._close(1013, "too many events while catching up: reconnect")
            self._waiting.append(event)
            return []
        return self._give(event)

    def revoke(self, topic: str) -> list[Action]:
        """Access to `topic` ended (a removed member, a revoked link)."""
        if topic not in self.topics or self.state is State.CLOSED:
            return []
        self.topics.discard(topic)
        self._waiting = [e for e in self._waiting if e.topic != topic]
        return [Unfollow(topic), _send({"type": "unsubscribed", "topic": topic})]

    def _give(self, event: Event) -> list[Action]:
        key = event.key
        if key <= self.sent_through or event.topic not in self.topics:
            return []
        self.sent_through = key
        return [_send(event.to_message())]

    def _refused(self, topic: str, reason: str) -> Send:
        return _send({"type": "refused", "topic": topic, "reason": reason})

    def _close(self, code: int, reason: str) -> list[Action]:
        self.state = State.CLOSED
        self._waiting.clear()
        return [Close(code, reason)]

    @property
    def last_sent(self) -> str:
        first, second = self.sent_through
        return NO_EVENT if (first, second) == (0, 0) else f"{first}-{second}"
